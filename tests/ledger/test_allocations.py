"""Index allocation: the lowest free index of a recipe's range, bound to the unit for good."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from fusebook.indices import parse_range
from fusebook.ledger import Ledger
from fusebook.ledger.errors import IndexRefused
from tests.ledger.units import unit

RANGE = parse_range("1-5")
A, B, C = "7c:df:a1:00:00:0a", "7c:df:a1:00:00:0b", "7c:df:a1:00:00:0c"


@pytest.fixture
def ledger(ledger_target: str) -> Iterator[Ledger]:
    with Ledger(ledger_target) as opened:
        yield opened


def _record(ledger: Ledger, index: int, mac: str, outcome: str) -> int:
    rid = ledger.begin(**unit(index, factory_mac=mac, recipe_name="r"))
    if outcome != "in-progress":
        ledger.finish(rid, outcome, exit_code=None if outcome in ("ok", "nothing-to-do") else 5)
    return rid


def test_units_get_the_lowest_free_index_in_turn_and_keep_it(ledger: Ledger) -> None:
    assert [ledger.allocate("r", m, RANGE).index for m in (A, B, C)] == [1, 2, 3]
    again = ledger.allocate("r", B.upper(), RANGE)
    assert (again.index, again.new) == (2, False)
    assert [(a.index, a.factory_mac, a.index_range) for a in ledger.allocations()] == [
        (3, C, "1-5"), (2, B, "1-5"), (1, A, "1-5")]


def test_each_recipe_has_its_own_indices(ledger: Ledger) -> None:
    assert ledger.allocate("r", A, RANGE).index == 1
    assert ledger.allocate("other", B, RANGE).index == 1
    assert ledger.allocate("other", A, RANGE).index == 2
    assert [a.index for a in ledger.allocations(recipe="r")] == [1]
    assert [a.recipe_name for a in ledger.allocations(chip_mac=A)] == ["other", "r"]


@pytest.mark.parametrize("outcome", ["failed", "partial", "interrupted", "refused", "aborted", "in-progress"])
def test_a_unit_that_did_not_finish_gets_its_index_back(ledger: Ledger, outcome: str) -> None:
    index = ledger.allocate("r", A, RANGE).index
    _record(ledger, index, A, outcome)
    held = ledger.allocate("r", A, RANGE)
    assert held.index == index and held.state == outcome and not held.done


@pytest.mark.parametrize("outcome", ["ok", "nothing-to-do"])
def test_a_finished_unit_is_refused(ledger: Ledger, outcome: str) -> None:
    index = ledger.allocate("r", A, RANGE).index
    _record(ledger, index, A, outcome)
    _record(ledger, index, A, "refused")  # a later refusal does not undo the finished burn
    with pytest.raises(IndexRefused, match=f"already burned as index {index}") as caught:
        ledger.allocate("r", A, RANGE)
    assert caught.value.exit_code == 3 and caught.value.index == index
    assert ledger.allocations()[0].state == outcome


def test_an_exhausted_range_is_refused_and_a_new_range_goes_on(ledger: Ledger) -> None:
    small = parse_range("1-2")
    ledger.allocate("r", A, small)
    ledger.allocate("r", B, small)
    with pytest.raises(IndexRefused, match="no index of 1-2 is left") as caught:
        ledger.allocate("r", C, small)
    assert caught.value.exit_code == 3 and caught.value.hint
    assert ledger.allocate("r", C, parse_range("1-2,10-20")).index == 10


def test_gaps_and_indices_used_by_hand_are_respected(ledger: Ledger) -> None:
    _record(ledger, 1, "7c:df:a1:00:00:01", "ok")  # `apply --index 1` on another chip
    _record(ledger, 2, "7c:df:a1:00:00:02", "failed")  # claims nothing: index 2 is free
    assert ledger.allocate("r", A, parse_range("1-3")).index == 2
    assert ledger.allocate("r", B, parse_range("1-3")).index == 3


def test_a_unit_begun_by_hand_keeps_its_index_and_a_finished_one_is_refused(ledger: Ledger) -> None:
    _record(ledger, 4, A, "partial")
    assert ledger.allocate("r", A, RANGE).index == 4
    _record(ledger, 5, B, "ok")
    with pytest.raises(IndexRefused, match="already burned as index 5"):
        ledger.allocate("r", B, RANGE)
    _record(ledger, 9, C, "partial")
    with pytest.raises(IndexRefused, match="was begun as index 9"):
        ledger.allocate("r", C, RANGE)


def test_an_index_outside_a_changed_range_is_not_swapped_for_another(ledger: Ledger) -> None:
    assert ledger.allocate("r", A, RANGE).index == 1
    with pytest.raises(IndexRefused, match="holds index 1 .* outside the range 10-20"):
        ledger.allocate("r", A, parse_range("10-20"))


@pytest.mark.parametrize("mac", ["00:00:00:00:00:00", "unknown", ""])
def test_a_chip_without_a_factory_mac_gets_no_index(ledger: Ledger, mac: str) -> None:
    with pytest.raises((IndexRefused, TypeError)) as caught:
        ledger.allocate("r", mac, RANGE)
    if isinstance(caught.value, IndexRefused):
        assert "without an identity" in caught.value.message and caught.value.hint
    assert ledger.allocations() == []


def test_allocations_cannot_be_changed_or_deleted_behind_fusebooks_back(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.allocate("r", A, RANGE)
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE allocations SET factory_mac = ?", (B,))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM allocations")
    db.execute("DROP TRIGGER allocations_no_update")
    db.execute("DROP TRIGGER allocations_no_delete")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        db.execute("INSERT INTO allocations SELECT NULL, recipe_name, unit_index, ?, index_range, allocated_at, "
                   "host, pid, fusebook_version FROM allocations", (B,))
    db.close()
