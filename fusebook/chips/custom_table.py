"""ESP-IDF custom eFuse tables (`esp_efuse_custom_table.csv`) as extra chip fields.

A custom table names bits of the user blocks so recipes can burn them by name, as
espefuse's `--extend-efuse-table` does. Each non-comment line is

    field_name, efuse_block, bit_start, bit_count, comment

`efuse_block` is `EFUSE_BLKn` (also `BLKn`, `n`, or a block name such as
`BLOCK_USR_DATA`); an empty `bit_start` continues where the line above ended if it is
in the same block, else starts the block at 0 (ESP-IDF's rule); `bit_count` may be
`MAX_BLK_LEN` (the whole block). A line with an empty
name continues the field above it (ESP-IDF's multi-part fields). As in espefuse, the
parts of such a field are named `NAME_0`, `NAME_1`, ...; fusebook also offers `NAME`
itself, assembled from its parts, when they share a block. Dots in names become `_`.

A field of 1 bit is a bool, one of more than 32 bits in whole bytes holds bytes, any
other a number: the types espefuse gives such fields. Protection comes from the block.

As espefuse, fusebook accepts fields that overlap the chip's own fields or each other
(real tables put a serial number over an unused custom MAC): each overlap is a warning
naming both fields and the shared bits, and the planner refuses two burns whose bits
disagree. A field that leaves its block, a name defined twice or one the chip already
has, and malformed lines are errors naming the file and line.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from fusebook.chips.models import BlockDef, ChipDef, FieldDef, FieldPart
from fusebook.errors import InputError, SourceLocation
from fusebook.numbers import parse_int

_BLOCK_RE = re.compile(r"^(?:EFUSE_BLK|BLK)?([0-9]+)$", re.IGNORECASE)
_NAME_RE = re.compile(r"^[!-~]+$")  # printable ASCII, no spaces: what a recipe can name
_ALIASES_RE = re.compile(r"^\[(.*?)\]")


@dataclass
class _Row:
    """One parsed line: a field, or one part of a multi-line field."""

    name: str
    block: BlockDef
    start: int
    bits: int
    comment: str
    line: int
    column: int


def _location(source: str, line: int, column: int = 1) -> SourceLocation:
    return SourceLocation(source, line, column)


def _int(text: str, what: str, source: str, line: int, column: int) -> int:
    try:
        value = parse_int(text, 0)
    except ValueError:
        raise InputError(
            f"{what} {text!r} is not a number", location=_location(source, line, column),
            hint="write a decimal or 0x hex number",
        ) from None
    if value < 0:
        raise InputError(f"{what} {value} is negative", location=_location(source, line, column))
    return value


def _block(chip: ChipDef, text: str, source: str, line: int, column: int) -> BlockDef:
    m = _BLOCK_RE.match(text)
    if m:
        idx = int(m.group(1))
        if idx < len(chip.blocks):
            return chip.blocks[idx]
    elif chip.has_block(text):
        return chip.block(text)
    names = ", ".join(f"EFUSE_BLK{b.id} ({b.name})" for b in chip.blocks)
    raise InputError(
        f"{chip.description} has no eFuse block {text!r}",
        location=_location(source, line, column), hint=f"blocks: {names}",
    )


def _split(line: str) -> list[tuple[str, int]]:
    """The comma-separated cells of a line with their 1-based columns (first 5 cells)."""
    cells: list[tuple[str, int]] = []
    col = 1
    for i, raw in enumerate(line.split(",", 4)):
        text = raw.strip()
        cells.append((text, col + (len(raw) - len(raw.lstrip()))))
        col += len(raw) + 1
        if i == 4:
            break
    while len(cells) < 5:
        cells.append(("", col))
    return cells


def _parse(chip: ChipDef, csv_text: str, source: str) -> list[_Row]:
    rows: list[_Row] = []
    previous: _Row | None = None
    for lineno, line in enumerate(csv_text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        (name, ncol), (blk_text, bcol), (start_text, scol), (count_text, ccol), (comment, _) = _split(line)
        if not name:
            if previous is None:
                raise InputError("a continuation line (empty field name) needs a field above it",
                                 location=_location(source, lineno))
            name = previous.name
        elif not _NAME_RE.match(name):
            raise InputError(f"{name!r} is not a valid field name", location=_location(source, lineno, ncol),
                             hint="use letters, digits, '_' (and '.' for nested fields), no spaces")
        else:
            first = next((r for r in rows if r.name == name), None)
            if first is not None:
                raise InputError(
                    f"{name} is defined twice in the custom table (first on line {first.line})",
                    location=_location(source, lineno, ncol),
                    related=(_location(source, first.line, first.column),),
                    hint="a field of several parts continues on lines with an empty name",
                )
        if not blk_text:
            raise InputError("the efuse_block column is empty", location=_location(source, lineno, bcol))
        blk = _block(chip, blk_text, source, lineno, bcol)
        size = blk.words * 32
        # an empty bit_start follows the line above if it is in the same block, else starts
        # the block at 0 (ESP-IDF's efuse_table_gen rule)
        follows = previous is not None and previous.block.id == blk.id
        start = ((previous.start + previous.bits if previous is not None and follows else 0)
                 if not start_text else _int(start_text, "bit_start", source, lineno, scol))
        if count_text == "MAX_BLK_LEN":
            count = size
        elif not count_text:
            raise InputError("the bit_count column is empty", location=_location(source, lineno, ccol))
        else:
            count = _int(count_text, "bit_count", source, lineno, ccol)
        if count == 0:
            raise InputError("bit_count is 0", location=_location(source, lineno, ccol))
        if start + count > size:
            raise InputError(
                f"{name} (bits {start}..{start + count - 1}) does not fit {blk.name} ({size} bits)",
                location=_location(source, lineno, scol),
                hint=f"the last bit of {blk.name} is {size - 1}",
            )
        row = _Row(name, blk, start, count, comment.rstrip("\\").strip(), lineno, ncol)
        rows.append(row)
        previous = row
    return rows


def _type(bits: int) -> Literal["bool", "uint", "bytes"]:
    if bits == 1:
        return "bool"
    if bits > 32 and bits % 8 == 0:
        return "bytes"
    return "uint"


def _aliases(comment: str, suffix: str = "") -> tuple[str, ...]:
    """The `[ALIAS ...]` names at the start of a comment (up to its first comma, as espefuse reads it)."""
    m = _ALIASES_RE.match(comment.split(",", 1)[0])
    return tuple(a.replace(".", "_") + suffix for a in m.group(1).split()) if m else ()


def _field(name: str, blk: BlockDef, start: int, bits: int, comment: str,
           parts: tuple[FieldPart, ...] = (), alias_suffix: str = "") -> FieldDef:
    aliases = _aliases(comment, alias_suffix)
    return FieldDef(
        name=name, block=blk.id, word=start // 32, pos=start % 32, bits=bits,
        type="uint" if parts else _type(bits), aliases=aliases,
        wr_dis=blk.wr_dis if blk.id else None, rd_dis=blk.rd_dis if blk.id else (),
        description=comment, category="user", parts=parts,
    )


def _nested(a: str, b: str) -> bool:
    """True if one dotted name is inside the other (USER_DATA.SERIAL in USER_DATA)."""
    return a.startswith(b + ".") or b.startswith(a + ".")


def _spans(f: FieldDef) -> Iterator[tuple[int, int]]:
    """A chip field's (first bit, bit count) runs in its block."""
    if f.parts:
        for p in f.parts:
            yield p.start, p.bits
    else:
        yield f.start, f.bits


def _shared(a_start: int, a_bits: int, b_start: int, b_bits: int) -> tuple[int, int] | None:
    """The first and last bit two runs share, or None."""
    lo, hi = max(a_start, b_start), min(a_start + a_bits, b_start + b_bits) - 1
    return (lo, hi) if lo <= hi else None


def _bits(lo: int, hi: int) -> str:
    return f"bit {lo}" if lo == hi else f"bits {lo}..{hi}"


@dataclass(frozen=True)
class TableWarning:
    """Something in a custom table that loads but deserves a look (an overlap)."""

    message: str
    location: SourceLocation

    def __str__(self) -> str:
        return f"{self.location}: warning: {self.message}"


@dataclass(frozen=True)
class CustomTable:
    """A chip extended by a custom table, and what the table's review should know."""

    chip: ChipDef
    warnings: tuple[TableWarning, ...] = ()


def _overlap_warnings(chip: ChipDef, rows: list[_Row], shown: dict[int, str],
                      source: str) -> list[TableWarning]:
    """One warning per custom field (part) that shares bits with a chip field or another custom field.

    The chip's whole-block fields (BLOCK_USR_DATA, USER_DATA) hold custom fields by design,
    and a nested `A.B` may lie inside `A`: neither is worth a warning.
    """
    out: list[TableWarning] = []
    for i, a in enumerate(rows):
        here = _location(source, a.line, a.column)
        mine = f"{shown[id(a)]} (bits {a.start}..{a.start + a.bits - 1} of {a.block.name})"
        for f in chip.fields_in_block(a.block.id):
            if f.start == 0 and f.bits >= a.block.words * 32:
                continue
            for s, n in _spans(f):
                both = _shared(a.start, a.bits, s, n)
                if both:
                    out.append(TableWarning(
                        f"{mine} overlaps {chip.description}'s field {f.name} (bits {s}..{s + n - 1}): "
                        f"{_bits(*both)} are shared; burning both needs values that agree there", here))
                    break
        for b in rows[:i]:
            if b.name == a.name or b.block.id != a.block.id or _nested(a.name, b.name):
                continue
            both = _shared(a.start, a.bits, b.start, b.bits)
            if both:
                out.append(TableWarning(
                    f"{mine} overlaps custom field {shown[id(b)]} (bits {b.start}..{b.start + b.bits - 1}, "
                    f"line {b.line}): {_bits(*both)} are shared; burning both needs values that agree there",
                    here))
    return out


def load_table(chip: ChipDef, csv_text: str, source: str) -> CustomTable:
    """`chip` with the fields of an ESP-IDF custom eFuse table added, and the table's warnings.

    Raises InputError naming `source`:line for a field that repeats a name (of the table
    or of the chip) or leaves its block; overlaps load, each with a warning.
    """
    rows = _parse(chip, csv_text, source)
    groups: dict[str, list[_Row]] = {}
    for r in rows:
        groups.setdefault(r.name, []).append(r)
    shown: dict[int, str] = {}
    for name, parts in groups.items():
        base = name.replace(".", "_")
        for n, p in enumerate(parts):
            shown[id(p)] = base if len(parts) == 1 else f"{base}_{n}"
    warnings = _overlap_warnings(chip, rows, shown, source)

    new: list[FieldDef] = []
    seen: dict[str, _Row] = {}
    for name, parts in groups.items():
        base = name.replace(".", "_")
        fields: list[tuple[FieldDef, _Row]] = []
        if len(parts) == 1:
            p = parts[0]
            fields.append((_field(base, p.block, p.start, p.bits, p.comment), p))
        else:
            # espefuse names the parts NAME_0, NAME_1, ... and their aliases ALIAS_0, ...
            for n, p in enumerate(parts):
                fields.append((_field(f"{base}_{n}", p.block, p.start, p.bits, p.comment,
                                      alias_suffix=f"_{n}"), p))
            if len({p.block.id for p in parts}) == 1:
                first = parts[0]
                fields.append((_field(
                    base, first.block, first.start, sum(p.bits for p in parts), first.comment,
                    parts=tuple(FieldPart(p.start // 32, p.start % 32, p.bits) for p in parts),
                ), first))
        for f, row in fields:
            loc = _location(source, row.line, row.column)
            for alias in f.names:
                if chip.has_field(alias) or chip.has_block(alias):
                    raise InputError(
                        f"{alias} is already a name in {chip.description}'s eFuse table",
                        location=loc, hint="give the custom field another name",
                    )
                if alias in seen:
                    other = seen[alias]
                    raise InputError(
                        f"{alias} is defined twice in the custom table (first on line {other.line})",
                        location=loc, related=(_location(source, other.line, other.column),),
                        hint="a field of several parts continues on lines with an empty name",
                    )
                seen[alias] = row
        new.extend(f for f, _ in fields)

    extended = dataclasses.replace(chip, fields=chip.fields + tuple(new))
    return CustomTable(extended, tuple(warnings))


def extend_chip(chip: ChipDef, csv_text: str, source: str) -> ChipDef:
    """`chip` with the fields of an ESP-IDF custom eFuse table added (see `load_table`)."""
    return load_table(chip, csv_text, source).chip
