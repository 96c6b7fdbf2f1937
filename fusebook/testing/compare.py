"""What a case (or a Python test) expected against what happened, as readable differences.

Each check returns the lines that describe a difference, empty when all is as expected.
A field diff names each field once: the value expected and the value planned, a change
nobody expected, an expected change that did not happen. Values are compared as the plan
shows them (key material as `<secret>`), so a difference never prints a key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fusebook.chips.models import ChipDef
from fusebook.errors import InputError, SourceLocation, did_you_mean
from fusebook.numbers import parse_int


def canonical_field(chip: ChipDef, name: str, location: SourceLocation | None = None) -> str:
    """A field's name as the chip spells it (aliases resolved); InputError for a name it lacks."""
    if not chip.has_field(name):
        hint = did_you_mean(name, [f.name for f in chip.fields]) or f"`fusebook fields {chip.name}` lists them"
        raise InputError(f"{chip.name} has no field {name!r}", location=location, hint=hint)
    return chip.field(name).name


def canonical_block(chip: ChipDef, name: str, location: SourceLocation | None = None) -> str:
    """A block's name as the chip spells it; InputError for a block it lacks."""
    if not chip.has_block(name):
        hint = did_you_mean(name, [b.name for b in chip.blocks]) or f"`fusebook fields {chip.name}` lists them"
        raise InputError(f"{chip.name} has no block {name!r}", location=location, hint=hint)
    return chip.block(name).name


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return parse_int(value.strip())
        except ValueError:
            return None
    return None


def values_equal(expected: Any, actual: Any) -> bool:
    """A value as a test writes it against one as the plan shows it.

    Numbers and true/false compare as numbers (`1`, `true` and `"0x1"` are the same);
    text (MACs, hex data) compares without regard to case or `:`/space layout; `<secret>`
    matches any key (the plan shows a key as `key sha256:...`, its fingerprint).
    """
    if _text(expected) == "<secret>" and isinstance(actual, str) and actual.startswith(("key sha256:", "<secret>")):
        return True  # any key: the plan names a key by its fingerprint, never by its bytes
    a, b = _number(expected), _number(actual)
    if a is not None and b is not None and not (isinstance(actual, str) and isinstance(expected, str)):
        return a == b
    return _text(expected) == _text(actual)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    return str(value).strip().lower().replace(" ", "")


def show(value: Any) -> str:
    """A value in a difference: as YAML would show it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def changes_diff(expected: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]], *,
                 exact: bool) -> list[str]:
    """Expected field values against the plan's changes (field -> (before, after)).

    With `exact`, a change the test did not list is a difference too.
    """
    lines = []
    for name, want in expected.items():
        if name not in changes:
            lines.append(f"  {name}: expected {show(want)}, not changed")
        elif not values_equal(want, changes[name][1]):
            before, after = changes[name]
            lines.append(f"  {name}: expected {show(want)}, got {show(after)} (was {show(before)})")
    if exact:
        for name, (before, after) in changes.items():
            if name not in expected:
                lines.append(f"+ {name}: {show(before)} -> {show(after)} (not expected)")
    return lines


def unchanged_diff(names: Iterable[str], changes: Mapping[str, tuple[Any, Any]]) -> list[str]:
    """Fields that must not change, against the plan's changes."""
    return [f"  {n}: expected unchanged, got {show(changes[n][0])} -> {show(changes[n][1])}"
            for n in names if n in changes]


def patterns_diff(what: str, patterns: Sequence[str], items: Sequence[str]) -> list[str]:
    """Every item matched by a pattern and every pattern matching an item (re.search)."""
    lines = []
    compiled = [re.compile(p) for p in patterns]
    for item in items:
        if not any(c.search(item) for c in compiled):
            lines.append(f"+ {what} not expected: {item}")
    for p, c in zip(patterns, compiled, strict=True):
        if not any(c.search(item) for item in items):
            lines.append(f"- no {what} matches {p!r}")
    return lines


def names_diff(what: str, expected: Iterable[str], actual: Iterable[str]) -> list[str]:
    """Two sets of names (skipped blocks): the ones only one side has."""
    want, got = set(expected), set(actual)
    lines = [f"- {what} expected but not: {n}" for n in sorted(want - got)]
    lines += [f"+ {what} but not expected: {n}" for n in sorted(got - want)]
    return lines
