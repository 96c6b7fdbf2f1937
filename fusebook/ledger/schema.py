"""The ledger's tables, its version stamp, and the path from any older version to this one.

The version lives in the `meta` table (`schema_version`). A ledger is opened only by a
fusebook that knows its version or a newer one: an older fusebook refuses a newer ledger
rather than misread it. Each migration is one function that lifts the schema by one
version; all of them run inside the caller's single transaction, so a ledger is either
fully migrated or untouched.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping

SCHEMA_VERSION = 3

#: "FBkL" in the SQLite header, so `file` and other tools can tell a ledger apart.
APPLICATION_ID = 0x46426B4C

Migration = Callable[[sqlite3.Connection], None]

# Columns `finish` (and the interrupted sweep) may still set on an open record; every
# other column is fixed when the record is begun.
CLOSING_COLUMNS = ("finished_at", "after_token", "outcome", "exit_code", "error")
FIXED_COLUMNS = (
    "id", "started_at", "chip_type", "revision", "factory_mac", "recipe_name", "recipe_sha256",
    "unit_index", "input_digests", "plan", "plan_digest", "before_token", "unique_values",
    "key_fingerprints", "host", "boot_id", "pid_namespace", "pid", "fusebook_version",
)

_V1_TABLES = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE records (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    chip_type        TEXT NOT NULL,
    revision         INTEGER,
    factory_mac      TEXT NOT NULL,
    recipe_name      TEXT NOT NULL,
    recipe_sha256    TEXT NOT NULL,
    unit_index       INTEGER,
    input_digests    TEXT NOT NULL,
    plan             TEXT,
    plan_digest      TEXT,
    before_token     TEXT,
    after_token      TEXT,
    unique_values    TEXT NOT NULL,
    key_fingerprints TEXT NOT NULL,
    outcome          TEXT NOT NULL CHECK (outcome IN
                         ('in-progress', 'ok', 'nothing-to-do', 'failed', 'refused', 'interrupted')),
    exit_code        INTEGER,
    error            TEXT,
    host             TEXT NOT NULL,
    boot_id          TEXT NOT NULL,
    pid_namespace    TEXT NOT NULL,
    pid              INTEGER NOT NULL,
    fusebook_version TEXT NOT NULL
);
CREATE INDEX records_by_chip ON records (factory_mac, id);
CREATE INDEX records_by_recipe ON records (recipe_name, id);
CREATE INDEX records_open ON records (id) WHERE finished_at IS NULL;

CREATE TABLE unit_values (
    record_id INTEGER NOT NULL REFERENCES records (id),
    field     TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (record_id, field)
) WITHOUT ROWID;
CREATE INDEX unit_values_lookup ON unit_values (field, value);
"""

ALLOCATION_COLUMNS = (
    "id", "recipe_name", "unit_index", "factory_mac", "index_range", "allocated_at", "host", "pid",
    "fusebook_version",
)

#: What a ledger of this version must hold; a file missing any of it is damaged.
REQUIRED_OBJECTS = (
    ("table", "meta"), ("table", "records"), ("table", "unit_values"), ("table", "allocations"),
    ("index", "records_by_chip"), ("index", "records_by_recipe"), ("index", "records_open"),
    ("index", "unit_values_lookup"), ("index", "records_by_unit"),
    ("index", "allocations_by_index"), ("index", "allocations_by_chip"),
    ("trigger", "records_no_delete"), ("trigger", "unit_values_no_delete"),
    ("trigger", "unit_values_no_update"), ("trigger", "records_finish_once"),
    ("trigger", "allocations_no_delete"), ("trigger", "allocations_no_update"),
)
REQUIRED_COLUMNS = {
    "meta": ("key", "value"),
    "records": (*FIXED_COLUMNS, *CLOSING_COLUMNS),
    "unit_values": ("record_id", "field", "value"),
    "allocations": ALLOCATION_COLUMNS,
}

_APPEND_ONLY = "BEGIN SELECT RAISE(ABORT, 'ledger records are append-only'); END"


def _v1_triggers() -> tuple[str, ...]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FIXED_COLUMNS)
    return (
        f"CREATE TRIGGER records_no_delete BEFORE DELETE ON records {_APPEND_ONLY}",
        f"CREATE TRIGGER unit_values_no_delete BEFORE DELETE ON unit_values {_APPEND_ONLY}",
        f"CREATE TRIGGER unit_values_no_update BEFORE UPDATE ON unit_values {_APPEND_ONLY}",
        "CREATE TRIGGER records_finish_once BEFORE UPDATE ON records "
        f"WHEN OLD.finished_at IS NOT NULL OR {changed} "
        "BEGIN SELECT RAISE(ABORT, 'a finished ledger record cannot change'); END",
    )


def create_v1(db: sqlite3.Connection) -> None:
    """Version 1 from an empty database."""
    for statement in _V1_TABLES.split(";\n"):
        if statement.strip():
            db.execute(statement)
    for statement in _v1_triggers():
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def lift_v2(db: sqlite3.Connection) -> None:
    """Version 2: the outcomes "partial" and "aborted" (a burn stopped by a signal).

    SQLite cannot alter a CHECK constraint, and rebuilding the records table would have to
    drop what unit_values refers to. Widening the allowed values is the case SQLite
    documents for editing the stored table definition in place (lang_altertable.html,
    "other kinds of table schema changes"): no stored row changes meaning, the schema
    version is bumped so every connection re-reads it, and the file is checked before the
    caller commits.
    """
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'records'").fetchone()
    old = "'refused', 'interrupted')"
    if row is None or row[0].count(old) != 1:
        raise RuntimeError("ledger migration 2: the records table is not as version 1 made it")
    version = int(db.execute("PRAGMA schema_version").fetchone()[0])
    db.execute("PRAGMA writable_schema = ON")
    try:
        db.execute("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'records'",
                   (row[0].replace(old, "'refused', 'interrupted', 'partial', 'aborted')"),))
        db.execute(f"PRAGMA schema_version = {version + 1}")
    finally:
        db.execute("PRAGMA writable_schema = OFF")
    problems = [r[0] for r in db.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise RuntimeError(f"ledger migration 2 left the file inconsistent: {problems[:3]}")


_V3_TABLES = """
CREATE TABLE allocations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    recipe_name      TEXT NOT NULL,
    unit_index       INTEGER NOT NULL,
    factory_mac      TEXT NOT NULL,
    index_range      TEXT NOT NULL,
    allocated_at     TEXT NOT NULL,
    host             TEXT NOT NULL,
    pid              INTEGER NOT NULL,
    fusebook_version TEXT NOT NULL
);
CREATE UNIQUE INDEX allocations_by_index ON allocations (recipe_name, unit_index);
CREATE UNIQUE INDEX allocations_by_chip ON allocations (recipe_name, factory_mac);
CREATE INDEX records_by_unit ON records (recipe_name, unit_index);
"""


def lift_v3(db: sqlite3.Connection) -> None:
    """Version 3: index allocation (`apply --index auto`), one row per unit and recipe.

    The two unique indexes are the rule itself: an index of a recipe goes to one unit, and
    a unit holds one index of a recipe. Rows are never changed or deleted.
    """
    for statement in _V3_TABLES.split(";\n"):
        if statement.strip():
            db.execute(statement)
    db.execute(f"CREATE TRIGGER allocations_no_delete BEFORE DELETE ON allocations {_APPEND_ONLY}")
    db.execute(f"CREATE TRIGGER allocations_no_update BEFORE UPDATE ON allocations {_APPEND_ONLY}")


#: target version -> the function that lifts the schema from (target - 1) to target.
MIGRATIONS: Mapping[int, Migration] = {1: create_v1, 2: lift_v2, 3: lift_v3}


def migrate(
    db: sqlite3.Connection,
    found: int,
    target: int = SCHEMA_VERSION,
    steps: Mapping[int, Migration] = MIGRATIONS,
) -> int:
    """Lift a ledger from version `found` to `target`, one step at a time.

    The caller holds the write transaction; a failing step leaves it to roll back, so the
    ledger stays at `found`. Returns the version reached.
    """
    for version in range(found + 1, target + 1):
        step = steps.get(version)
        if step is None:
            raise RuntimeError(f"no ledger migration to schema version {version}")
        step(db)
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(version),),
        )
    return max(found, target)
