"""Per-unit values: a value already on another chip refuses the unit; the same chip may re-apply."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fusebook.ledger import DuplicateUnitValue, Ledger
from tests.ledger.units import unit

CHIP_A = "7c:df:a1:00:00:0a"
CHIP_B = "7c:df:a1:00:00:0b"


@pytest.fixture
def ledger(ledger_target: str) -> Iterator[Ledger]:
    with Ledger(ledger_target) as opened:
        yield opened


def _burned(ledger: Ledger, index: int, mac: str, outcome: str = "ok", **overrides: object) -> int:
    record_id = ledger.begin(**unit(index, factory_mac=mac, **overrides))
    if outcome != "in-progress":
        ledger.finish(record_id, outcome, exit_code=None if outcome in ("ok", "nothing-to-do") else 5)
    return record_id


def test_a_value_on_another_chip_is_a_conflict_naming_that_chip(ledger: Ledger) -> None:
    first = _burned(ledger, 1, CHIP_A)
    found = ledger.conflicts({"CUSTOM_MAC": "02:00:00:00:00:01"}, CHIP_B)
    assert [(c.field, c.value, c.factory_mac, c.record_id, c.outcome) for c in found] == [
        ("CUSTOM_MAC", "02:00:00:00:00:01", CHIP_A, first, "ok")
    ]
    assert CHIP_A in str(found[0]) and str(first) in str(found[0])


def test_the_same_chip_re_applied_is_no_conflict(ledger: Ledger) -> None:
    _burned(ledger, 1, CHIP_A)
    assert ledger.conflicts({"CUSTOM_MAC": "02:00:00:00:00:01"}, CHIP_A.upper()) == []
    _burned(ledger, 1, CHIP_A, "nothing-to-do")  # re-apply: begin accepts it too
    assert len(ledger.list()) == 2


def test_values_compare_trimmed_and_case_insensitively(ledger: Ledger) -> None:
    _burned(ledger, 1, CHIP_A, unique_values={"CUSTOM_MAC": "02:00:00:00:AB:01"})
    assert len(ledger.conflicts({"CUSTOM_MAC": " 02:00:00:00:ab:01 "}, CHIP_B)) == 1
    assert ledger.conflicts({"CUSTOM_MAC": "02:00:00:00:ab:02"}, CHIP_B) == []
    assert ledger.conflicts({"OPTIONAL_UNIQUE_ID": "02:00:00:00:ab:01"}, CHIP_B) == []


@pytest.mark.parametrize("outcome, counts", [
    ("ok", True), ("nothing-to-do", True), ("in-progress", True), ("interrupted", True),
    ("failed", False), ("refused", False),
])
def test_only_applies_that_may_have_put_the_value_on_a_chip_claim_it(
    ledger: Ledger, outcome: str, counts: bool
) -> None:
    _burned(ledger, 1, CHIP_A, outcome)
    assert bool(ledger.conflicts({"CUSTOM_MAC": "02:00:00:00:00:01"}, CHIP_B)) is counts


def test_blank_values_are_never_duplicates(ledger: Ledger) -> None:
    for blank in ("00:00:00:00:00:00", "0", "0x0", ""):
        _burned(ledger, 1, CHIP_A, unique_values={"CUSTOM_MAC": blank})
        assert ledger.conflicts({"CUSTOM_MAC": blank}, CHIP_B) == []


def test_begin_refuses_a_duplicate_and_records_nothing(ledger: Ledger) -> None:
    _burned(ledger, 1, CHIP_A)
    with pytest.raises(DuplicateUnitValue) as caught:
        ledger.begin(**unit(1, factory_mac=CHIP_B))
    assert caught.value.exit_code == 3
    assert caught.value.conflicts[0].factory_mac == CHIP_A
    assert [r.factory_mac for r in ledger.list()] == [CHIP_A]


def test_only_the_duplicated_field_is_reported(ledger: Ledger) -> None:
    _burned(ledger, 1, CHIP_A, unique_values={"CUSTOM_MAC": "02:00:00:00:00:01", "SERIAL": "0xbeef0001"})
    found = ledger.conflicts({"CUSTOM_MAC": "02:00:00:00:00:02", "SERIAL": "0xBEEF0001"}, CHIP_B)
    assert [(c.field, c.value) for c in found] == [("SERIAL", "0xBEEF0001")]


def test_a_chip_without_a_known_factory_mac_conflicts_with_every_record(ledger: Ledger) -> None:
    _burned(ledger, 1, "unknown")
    assert len(ledger.conflicts({"CUSTOM_MAC": "02:00:00:00:00:01"}, "unknown")) == 1
