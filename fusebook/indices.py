"""Index ranges as users write them: '1-5000', '1-100,200,300-310'.

One syntax serves `fusebook check --indices`, a recipe's `indices:` key and
`apply --indices`. A range is kept as its intervals, so a range of a million indices
costs two numbers, and the ledger can find the lowest free index without listing them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fusebook.errors import InputError
from fusebook.numbers import parse_int


@dataclass(frozen=True)
class IndexRange:
    """Non-empty, sorted, disjoint, inclusive intervals (lo, hi), and the text they came from."""

    intervals: tuple[tuple[int, int], ...]
    text: str

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and any(lo <= index <= hi for lo, hi in self.intervals)

    def __iter__(self) -> Iterator[int]:
        for lo, hi in self.intervals:
            yield from range(lo, hi + 1)

    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.intervals)

    def __str__(self) -> str:
        return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.intervals)

    @property
    def lowest(self) -> int:
        return self.intervals[0][0]

    @property
    def highest(self) -> int:
        return self.intervals[-1][1]


def _parts(spec: str, label: str) -> Iterator[tuple[int, int]]:
    prefix = f"{label}: " if label else ""
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                lo_s, hi_s = part.split("-", 1) if not part.startswith("-") else (part, part)
                lo, hi = parse_int(lo_s.strip(), 10), parse_int(hi_s.strip(), 10)
            else:
                lo = hi = parse_int(part, 10)
        except ValueError:
            raise InputError(f"{prefix}{part!r} is not N or N-M",
                             hint="write indices as N, N-M or a comma-separated list of them") from None
        if hi < lo:
            raise InputError(f"{prefix}{part!r} runs backwards", hint=f"write it as {hi}-{lo}")
        yield lo, hi


def ordered_indices(spec: str, label: str = "--indices") -> list[int]:
    """The listed indices in the order written, without repeats (what `check` walks)."""
    out: list[int] = []
    seen: set[int] = set()
    for lo, hi in _parts(spec, label):
        for i in range(lo, hi + 1):
            if i not in seen:
                seen.add(i)
                out.append(i)
    if not out:
        raise InputError(f"{label} is empty", hint="give at least one index, e.g. 1-5000")
    return out


def parse_range(spec: str, label: str = "--indices") -> IndexRange:
    """The indices `spec` lists, merged into sorted intervals (what allocation draws from)."""
    merged: list[list[int]] = []
    for lo, hi in sorted(_parts(spec, label)):
        if lo < 0:
            raise InputError(f"{label + ': ' if label else ''}{lo} is negative", hint="indices are 0 or more")
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    if not merged:
        raise InputError(f"{label or 'the range'} is empty", hint="give at least one index, e.g. 1-5000")
    return IndexRange(tuple((lo, hi) for lo, hi in merged), spec.strip())
