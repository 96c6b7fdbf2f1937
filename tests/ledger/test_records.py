"""Records go in through begin/finish and come back whole: get, list, CSV, reopening."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fusebook.ledger import Ledger
from fusebook.secret import Secret
from tests.ledger.units import KEY, RECIPE_SHA, unit


@pytest.fixture
def ledger(ledger_target: str) -> Iterator[Ledger]:
    with Ledger(ledger_target) as opened:
        yield opened


def test_a_finished_record_reads_back_as_written(ledger: Ledger) -> None:
    args = unit(7, factory_mac="7C:DF:A1:00:00:01")
    record_id = ledger.begin(**args)
    ledger.finish(record_id, "ok", after_token="EFSR:after")
    r = ledger.get(record_id)
    assert r is not None
    assert (r.chip_type, r.revision, r.factory_mac, r.index) == ("esp32c3", 4, "7c:df:a1:00:00:01", 7)
    assert (r.recipe_name, r.recipe_sha256) == ("lockdown-and-mac", RECIPE_SHA)
    assert dict(r.input_digests) == args["input_digests"]
    assert r.plan_json == args["plan_json"] and r.plan == json.loads(args["plan_json"])
    assert r.plan_digest == args["plan_digest"]
    assert (r.before_token, r.after_token) == (args["before_token"], "EFSR:after")
    assert dict(r.unique_values) == {"CUSTOM_MAC": "02:00:00:00:00:07"}
    assert dict(r.key_fingerprints) == {"BLOCK_KEY0": KEY.fingerprint}
    assert (r.outcome, r.exit_code, r.error) == ("ok", 0, None)
    assert r.started_at.endswith("Z") and r.finished_at is not None and r.finished_at >= r.started_at
    assert json.loads(json.dumps(r.to_json()))["unique_values"] == {"CUSTOM_MAC": "02:00:00:00:00:07"}


def test_a_begun_record_is_in_progress_and_survives_reopening(ledger_target: str) -> None:
    path = ledger_target
    with Ledger(path) as first:
        record_id = first.begin(**unit(1))
    with Ledger(path) as again:  # this process is alive: the record is not interrupted
        r = again.get(record_id)
        assert r is not None and (r.outcome, r.finished_at, r.exit_code) == ("in-progress", None, None)
        again.finish(record_id, "failed", after_token=None, error="block 4 read back differs", exit_code=5)
    with Ledger(path) as third:
        r = third.get(record_id)
        assert r is not None
        assert (r.outcome, r.exit_code, r.error, r.after_token) == ("failed", 5, "block 4 read back differs", None)


def test_refused_apply_without_a_plan_is_recorded(ledger: Ledger) -> None:
    record_id = ledger.begin(**unit(2, plan_json=None, plan_digest=None, unique_values={}, key_fingerprints={}))
    ledger.finish(record_id, "refused", exit_code=3, error="this unit already has a custom MAC")
    r = ledger.get(record_id)
    assert r is not None and (r.outcome, r.exit_code, r.plan) == ("refused", 3, None)


def test_nothing_to_do_defaults_to_exit_code_zero(ledger: Ledger) -> None:
    record_id = ledger.begin(**unit(3))
    ledger.finish(record_id, "nothing-to-do", after_token="EFSR:same")
    r = ledger.get(record_id)
    assert r is not None and (r.outcome, r.exit_code) == ("nothing-to-do", 0)


def test_a_record_is_finished_once(ledger: Ledger) -> None:
    record_id = ledger.begin(**unit(1))
    ledger.finish(record_id, "ok")
    with pytest.raises(ValueError, match="already finished"):
        ledger.finish(record_id, "failed", exit_code=5)
    with pytest.raises(ValueError, match="no ledger record"):
        ledger.finish(record_id + 1, "ok")
    with pytest.raises(ValueError, match="outcome must be one of"):
        ledger.finish(ledger.begin(**unit(2)), "in-progress")
    r = ledger.get(record_id)
    assert r is not None and r.outcome == "ok"


def test_finished_records_cannot_be_edited_or_deleted_behind_fusebooks_back(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        done = ledger.begin(**unit(1))
        ledger.finish(done, "ok")
        open_id = ledger.begin(**unit(2))
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="cannot change"):
        db.execute("UPDATE records SET outcome = 'failed' WHERE id = ?", (done,))
    with pytest.raises(sqlite3.IntegrityError, match="cannot change"):
        db.execute("UPDATE records SET factory_mac = 'aa:aa:aa:aa:aa:aa' WHERE id = ?", (open_id,))
    with pytest.raises(sqlite3.IntegrityError, match="cannot change"):
        db.execute("UPDATE records SET recipe_files = '[{}]' WHERE id = ?", (open_id,))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM records WHERE id = ?", (done,))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM unit_values")
    db.close()


def test_list_is_newest_first_and_filters_by_chip_and_recipe(ledger: Ledger) -> None:
    ids = [ledger.begin(**unit(i, factory_mac=f"7c:df:a1:00:00:{i % 2:02x}",
                               recipe_name="mac" if i < 4 else "keys")) for i in range(6)]
    assert [r.id for r in ledger.list()] == ids[::-1]
    assert [r.id for r in ledger.list(limit=2)] == ids[:-3:-1]
    assert ledger.list(limit=0) == []
    assert [r.id for r in ledger.list(chip_mac="7C:DF:A1:00:00:01")] == [ids[5], ids[3], ids[1]]
    assert [r.id for r in ledger.list(recipe="keys")] == [ids[5], ids[4]]
    assert [r.id for r in ledger.list(chip_mac="7c:df:a1:00:00:00", recipe="mac")] == [ids[2], ids[0]]
    assert ledger.get(ids[-1] + 1) is None
    with pytest.raises(ValueError):
        ledger.list(limit=-1)


def test_csv_export_holds_every_record_whole(ledger: Ledger, tmp_path: Path) -> None:
    first = ledger.begin(**unit(1))
    ledger.finish(first, "failed", error="program of BLOCK_KEY0 failed,\nretried 3 times", exit_code=5)
    second = ledger.begin(**{**unit(2), "index": None})
    out = tmp_path / "ledger.csv"
    with out.open("w", newline="") as stream:
        assert ledger.export_csv(stream) == 2
    with out.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [int(r["id"]) for r in rows] == [first, second]
    for row in rows:
        record = ledger.get(int(row["id"]))
        assert record is not None
        assert row["factory_mac"] == record.factory_mac
        assert row["outcome"] == record.outcome
        assert row["plan"] == record.plan_json
        assert json.loads(row["unique_values"]) == dict(record.unique_values)
        assert json.loads(row["key_fingerprints"]) == dict(record.key_fingerprints)
        assert json.loads(row["input_digests"]) == dict(record.input_digests)
    assert rows[0]["error"] == "program of BLOCK_KEY0 failed,\nretried 3 times"
    assert (rows[0]["exit_code"], rows[1]["exit_code"], rows[1]["index"]) == ("5", "", "")


def test_key_fingerprint_comes_from_the_last_verified_burn_of_that_chip(ledger: Ledger) -> None:
    mac = "7c:df:a1:00:00:01"
    other = Secret(b"\x55" * 32)
    failed = ledger.begin(**unit(1, factory_mac=mac, key_fingerprints={"BLOCK_KEY0": other.fingerprint}))
    ledger.finish(failed, "failed", exit_code=5)
    assert ledger.key_fingerprint(mac, "BLOCK_KEY0") is None
    done = ledger.begin(**unit(1, factory_mac=mac))
    ledger.finish(done, "ok")
    assert ledger.key_fingerprint(mac.upper(), "BLOCK_KEY0") == KEY.fingerprint
    assert ledger.key_fingerprint(mac, "BLOCK_KEY1") is None
    assert ledger.key_fingerprint("7c:df:a1:00:00:02", "BLOCK_KEY0") is None


@pytest.mark.parametrize(
    "override, error",
    [
        ({"before_token": Secret(b"\x01" * 32)}, TypeError),
        ({"unique_values": {"CUSTOM_MAC": Secret(b"\x01" * 6)}}, TypeError),
        ({"key_fingerprints": {"BLOCK_KEY0": KEY}}, TypeError),
        ({"key_fingerprints": {"BLOCK_KEY0": KEY.reveal().hex()}}, ValueError),
        ({"key_fingerprints": {"BLOCK_KEY0": "sha256:" + KEY.reveal().hex() * 2}}, ValueError),
        ({"plan_json": "{not json"}, ValueError),
        ({"recipe_sha256": "recipe.yaml"}, ValueError),
        ({"index": True}, TypeError),
        ({"factory_mac": ""}, TypeError),
    ],
)
def test_key_material_and_malformed_fields_are_refused_before_writing(
    ledger: Ledger, override: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        ledger.begin(**unit(1, **override))
    assert ledger.list(limit=None) == []
