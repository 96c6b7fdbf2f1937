"""Assertions on a recipe's outcome for Python tests, with failure output a reviewer can read.

Each helper raises AssertionError whose message is the difference itself (a field diff,
the warnings nobody expected), the same lines `fusebook test` prints, never a dump of
dicts. Key material shows as `<secret>`, as in every plan.

    outcome = apply_recipe(recipe, chip, index=7)
    assert_changes(outcome, {"CUSTOM_MAC": "02:fb:00:00:00:07"})
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from fusebook.chips.models import ChipDef
from fusebook.errors import InputError
from fusebook.recipe.cases import EXIT_CLASSES, EXIT_NAMES
from fusebook.testing import compare
from fusebook.testing.outcome import Outcome


def _chip(outcome: Outcome) -> ChipDef | None:
    image = outcome.after if outcome.after is not None else (outcome.plan.after if outcome.plan else None)
    return image.chip if image is not None else None


def _because(outcome: Outcome) -> str:
    if outcome.error is None:
        return ""
    return f"\n  (the recipe ended with exit {outcome.exit_code}: {outcome.error.message})"


def _names(outcome: Outcome, names: Iterable[str], block: bool = False) -> list[str]:
    """Names as the chip spells them; one it lacks fails the assertion, with the closest spelling."""
    __tracebackhide__ = True
    chip = _chip(outcome)
    if chip is None:
        return list(names)
    canonical = compare.canonical_block if block else compare.canonical_field
    try:
        return [canonical(chip, n) for n in names]
    except InputError as e:
        raise AssertionError(e.message + (f" ({e.hint})" if e.hint else "")) from None


def assert_changes(outcome: Outcome, expected: Mapping[str, Any], *, exact: bool = True) -> None:
    """The plan changes exactly these fields to these values (with `exact=False`, at least these)."""
    __tracebackhide__ = True
    named = dict(zip(_names(outcome, expected), expected.values(), strict=True))
    lines = compare.changes_diff(named, outcome.changes, exact=exact)
    if lines:
        raise AssertionError("the field changes differ from those expected:\n" + "\n".join(lines)
                             + _because(outcome))


def assert_unchanged(outcome: Outcome, names: Iterable[str]) -> None:
    """None of these fields change."""
    __tracebackhide__ = True
    lines = compare.unchanged_diff(_names(outcome, names), outcome.changes)
    if lines:
        raise AssertionError("fields changed that must not:\n" + "\n".join(lines))


def _code(exit: int | str) -> int:
    return EXIT_CLASSES[exit] if isinstance(exit, str) else exit


def assert_exit(outcome: Outcome, exit: int | str) -> None:
    """The recipe ended with this exit code or class (`"ok"`, `"plan-impossible"`, ...)."""
    __tracebackhide__ = True
    want = _code(exit)
    if outcome.exit_code != want:
        why = f": {outcome.error.render()}" if outcome.error is not None else ""
        raise AssertionError(f"expected exit {want} ({EXIT_NAMES.get(want, '?')}), got {outcome.exit_code} "
                             f"({EXIT_NAMES.get(outcome.exit_code, '?')}){why}")


def assert_refused(outcome: Outcome, pattern: str, *, exit: int | str = "plan-impossible") -> None:
    """The recipe was refused with this exit class and a message matching `pattern` (re.search)."""
    __tracebackhide__ = True
    assert_exit(outcome, exit)
    if outcome.message is None or not re.search(pattern, outcome.message):
        raise AssertionError(f"the refusal does not match {pattern!r}: {outcome.message}")


def assert_warnings(outcome: Outcome, patterns: Iterable[str]) -> None:
    """Every warning matches one of `patterns` and each pattern matches a warning ([]: none)."""
    __tracebackhide__ = True
    lines = compare.patterns_diff("warning", list(patterns), outcome.warnings)
    if lines:
        raise AssertionError("the warnings differ from those expected:\n" + "\n".join(lines))


def assert_skipped(outcome: Outcome, blocks: Iterable[str]) -> None:
    """Exactly these blocks are skipped as already burned."""
    __tracebackhide__ = True
    want = _names(outcome, blocks, block=True)
    lines = compare.names_diff("skipped", want, outcome.skipped)
    if lines:
        raise AssertionError("the skipped blocks differ from those expected:\n" + "\n".join(lines))


def assert_ensure(outcome: Outcome, fails: Iterable[str] = ()) -> None:
    """The `ensure` assertions that fail are exactly those matching `fails` (default: all hold)."""
    __tracebackhide__ = True
    if outcome.ensure is None:
        raise AssertionError(f"no `ensure` was judged: {outcome.message or 'nothing was planned'}")
    lines = compare.patterns_diff("failing ensure", list(fails), outcome.ensure_failures)
    if lines:
        raise AssertionError("the `ensure` outcomes differ from those expected:\n" + "\n".join(lines))
