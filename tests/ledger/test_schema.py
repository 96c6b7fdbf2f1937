"""Opening: a new ledger is created at the current schema; foreign or newer files are refused untouched."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from fusebook.ledger import Ledger, LedgerError
from fusebook.ledger.db import Database, SQLiteDatabase
from fusebook.ledger.schema import APPLICATION_ID, SCHEMA_VERSION, create_v1, migrate
from tests.ledger.units import unit


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_new_ledger_is_stamped_with_its_version_and_journals_to_a_wal(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        assert (ledger.schema_version, ledger.journal_mode) == (SCHEMA_VERSION, "wal")
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    assert db.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


def test_a_ledger_from_a_newer_fusebook_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.finish(ledger.begin(**unit(1)), "ok")
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    before = _digest(path)
    with pytest.raises(LedgerError) as caught:
        Ledger(path)
    assert caught.value.exit_code == 2
    assert f"schema version {SCHEMA_VERSION + 1}" in caught.value.message
    assert f"up to {SCHEMA_VERSION}" in caught.value.message
    assert caught.value.hint and "upgrade fusebook" in caught.value.hint
    assert _digest(path) == before


def test_another_sqlite_database_is_not_written_into(tmp_path: Path) -> None:
    path = tmp_path / "inventory.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE parts (id INTEGER)")
    db.commit()
    db.close()
    before = _digest(path)
    with pytest.raises(LedgerError, match="not a fusebook ledger"):
        Ledger(path)
    assert _digest(path) == before


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text("fusebook: 1\nname: oops\n" * 100)
    with pytest.raises(LedgerError) as caught:
        Ledger(path)
    assert "not a database" in caught.value.message and caught.value.hint
    assert path.read_text().startswith("fusebook: 1")


def test_paths_that_cannot_hold_a_ledger_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="is a folder"):
        Ledger(tmp_path)
    with pytest.raises(LedgerError, match="does not exist"):
        Ledger(tmp_path / "missing" / "ledger.sqlite")


def _add_station_column(db: Database) -> None:
    db.execute("ALTER TABLE records ADD COLUMN station TEXT")


def _broken_step(db: Database) -> None:
    db.execute("ALTER TABLE records ADD COLUMN station TEXT")
    raise RuntimeError("migration bug")


def _version(db: Database) -> str:
    row = db.one("SELECT value FROM meta WHERE key = 'schema_version'")
    assert row is not None
    return str(row["value"])


def test_migrations_lift_a_ledger_one_version_at_a_time(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "l.sqlite", 5.0)
    db.execute("BEGIN IMMEDIATE")
    assert migrate(db, 0, 1) == 1
    db.execute("COMMIT")
    db.execute("BEGIN IMMEDIATE")
    assert migrate(db, 1, 2, {1: create_v1, 2: _add_station_column}) == 2
    db.execute("COMMIT")
    assert _version(db) == "2"
    assert "station" in db.columns("records")
    db.close()


def test_a_failing_migration_leaves_the_ledger_at_its_old_version(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Ledger(path).close()
    db = SQLiteDatabase(path, 5.0)
    db.execute("BEGIN IMMEDIATE")
    now, bad = SCHEMA_VERSION, SCHEMA_VERSION + 1
    with pytest.raises(RuntimeError, match="migration bug"):
        migrate(db, now, bad, {bad: _broken_step})
    db.execute("ROLLBACK")
    assert _version(db) == str(now)
    assert "station" not in db.columns("records")
    with pytest.raises(RuntimeError, match=f"no ledger migration to schema version {bad + 1}"):
        migrate(db, now, bad + 1, {bad: _add_station_column})
    db.close()


def test_a_version_2_ledger_is_lifted_to_allocations_and_keeps_its_records(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    db = SQLiteDatabase(path, 5.0)
    db.execute("BEGIN IMMEDIATE")
    migrate(db, 0, 2)
    db.execute("COMMIT")
    db.close()
    with Ledger(path) as ledger:  # a version 2 ledger, as an older fusebook left it
        assert ledger.schema_version == SCHEMA_VERSION
        rid = ledger.begin(**unit(1))
        ledger.finish(rid, "partial", exit_code=4)
        assert ledger.allocations() == []
