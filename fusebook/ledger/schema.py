"""The ledger's tables, its version stamp, and the path from any older version to this one.

The version lives in the `meta` table (`schema_version`). A ledger is opened only by a
fusebook that knows its version or a newer one: an older fusebook refuses a newer ledger
rather than misread it. Each migration is one function that lifts the schema by one
version; all of them run inside the caller's single transaction, so a ledger is either
fully migrated or untouched.

SQLite and PostgreSQL get the same tables, columns, indexes and rules from the same
migrations. The table text names its few differing types as `{id}`, `{bigint}` and
`{without_rowid}` (see `Database.types`); the append-only rules are triggers in both,
written in each database's trigger language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fusebook.ledger.db import APPLICATION_ID, Database

__all__ = ["APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION", "migrate", "required_objects"]

SCHEMA_VERSION = 4

Migration = Callable[[Database], None]

# Columns `finish` (and the interrupted sweep) may still set on an open record; every
# other column is fixed when the record is begun.
CLOSING_COLUMNS = ("finished_at", "after_token", "outcome", "exit_code", "error")
_V1_FIXED_COLUMNS = (
    "id", "started_at", "chip_type", "revision", "factory_mac", "recipe_name", "recipe_sha256",
    "unit_index", "input_digests", "plan", "plan_digest", "before_token", "unique_values",
    "key_fingerprints", "host", "boot_id", "pid_namespace", "pid", "fusebook_version",
)
FIXED_COLUMNS = (*_V1_FIXED_COLUMNS, "recipe_files")

_V1_TABLES = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
){without_rowid};

CREATE TABLE records (
    id               {id},
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    chip_type        TEXT NOT NULL,
    revision         INTEGER,
    factory_mac      TEXT NOT NULL,
    recipe_name      TEXT NOT NULL,
    recipe_sha256    TEXT NOT NULL,
    unit_index       {bigint},
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
    record_id {bigint} NOT NULL REFERENCES records (id),
    field     TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (record_id, field)
){without_rowid};
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

_APPEND_ONLY = "ledger records are append-only"
_FINISHED = "a finished ledger record cannot change"


def _run_all(db: Database, text: str) -> None:
    for statement in text.split(";\n"):
        if statement.strip():
            db.execute(statement.format(**db.types))


def _refuse(db: Database, name: str, table: str, event: str, message: str) -> None:
    """A trigger refusing every `event` (DELETE, UPDATE) on `table`."""
    if db.kind == "postgresql":
        db.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$")
        db.execute(f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()")
        # TRUNCATE bypasses row triggers: refuse it too, on the same table.
        if event == "DELETE":
            db.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()")
    else:
        db.execute(f"CREATE TRIGGER {name} BEFORE {event} ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


def _finish_once(db: Database, fixed: tuple[str, ...]) -> None:
    """Refuse changing a finished record, or a begun record's `fixed` columns."""
    if db.kind == "postgresql":
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in fixed)
        db.execute("CREATE FUNCTION records_finish_once() RETURNS trigger LANGUAGE plpgsql AS "
                   f"$$ BEGIN IF OLD.finished_at IS NOT NULL OR {changed} THEN "
                   f"RAISE EXCEPTION '{_FINISHED}'; END IF; RETURN NEW; END $$")
        db.execute("CREATE TRIGGER records_finish_once BEFORE UPDATE ON records "
                   "FOR EACH ROW EXECUTE FUNCTION records_finish_once()")
    else:
        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in fixed)
        db.execute("CREATE TRIGGER records_finish_once BEFORE UPDATE ON records "
                   f"WHEN OLD.finished_at IS NOT NULL OR {changed} "
                   f"BEGIN SELECT RAISE(ABORT, '{_FINISHED}'); END")


def create_v1(db: Database) -> None:
    """Version 1 from an empty database."""
    _run_all(db, _V1_TABLES)
    _refuse(db, "records_no_delete", "records", "DELETE", _APPEND_ONLY)
    _refuse(db, "unit_values_no_delete", "unit_values", "DELETE", _APPEND_ONLY)
    _refuse(db, "unit_values_no_update", "unit_values", "UPDATE", _APPEND_ONLY)
    _finish_once(db, _V1_FIXED_COLUMNS)
    db.mark()


def lift_v2(db: Database) -> None:
    """Version 2: the outcomes "partial" and "aborted" (a burn stopped by a signal)."""
    if db.kind == "postgresql":
        db.execute("ALTER TABLE records DROP CONSTRAINT records_outcome_check")
        db.execute("ALTER TABLE records ADD CONSTRAINT records_outcome_check CHECK (outcome IN "
                   "('in-progress', 'ok', 'nothing-to-do', 'failed', 'refused', 'interrupted', "
                   "'partial', 'aborted'))")
        return
    _widen_sqlite_outcomes(db)


def _widen_sqlite_outcomes(db: Database) -> None:
    """SQLite cannot alter a CHECK constraint, and rebuilding the records table would have to
    drop what unit_values refers to. Widening the allowed values is the case SQLite
    documents for editing the stored table definition in place (lang_altertable.html,
    "other kinds of table schema changes"): no stored row changes meaning, the schema
    version is bumped so every connection re-reads it, and the file is checked before the
    caller commits.
    """
    row = db.one("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'records'")
    old = "'refused', 'interrupted')"
    if row is None or row["sql"].count(old) != 1:
        raise RuntimeError("ledger migration 2: the records table is not as version 1 made it")
    found = db.one("PRAGMA schema_version")
    version = int(found["schema_version"]) if found is not None else 0
    db.execute("PRAGMA writable_schema = ON")
    try:
        db.execute("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'records'",
                   (row["sql"].replace(old, "'refused', 'interrupted', 'partial', 'aborted')"),))
        db.execute(f"PRAGMA schema_version = {version + 1}")
    finally:
        db.execute("PRAGMA writable_schema = OFF")
    problems = [r["integrity_check"] for r in db.query("PRAGMA integrity_check")]
    if problems != ["ok"]:
        raise RuntimeError(f"ledger migration 2 left the file inconsistent: {problems[:3]}")


_V3_TABLES = """
CREATE TABLE allocations (
    id               {id},
    recipe_name      TEXT NOT NULL,
    unit_index       {bigint} NOT NULL,
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


def lift_v3(db: Database) -> None:
    """Version 3: index allocation (`apply --index auto`), one row per unit and recipe.

    The two unique indexes are the rule itself: an index of a recipe goes to one unit, and
    a unit holds one index of a recipe. Rows are never changed or deleted.
    """
    _run_all(db, _V3_TABLES)
    _refuse(db, "allocations_no_delete", "allocations", "DELETE", _APPEND_ONLY)
    _refuse(db, "allocations_no_update", "allocations", "UPDATE", _APPEND_ONLY)


def lift_v4(db: Database) -> None:
    """Version 4: `recipe_files`, every file the plan read with its digest, fixed once begun.

    Records begun before it hold an empty list: which files produced them is not known.
    """
    db.execute("ALTER TABLE records ADD COLUMN recipe_files TEXT NOT NULL DEFAULT '[]'")
    if db.kind == "postgresql":
        db.execute("DROP TRIGGER records_finish_once ON records")
        db.execute("DROP FUNCTION records_finish_once()")
    else:
        db.execute("DROP TRIGGER records_finish_once")
    _finish_once(db, FIXED_COLUMNS)


#: target version -> the function that lifts the schema from (target - 1) to target.
MIGRATIONS: Mapping[int, Migration] = {1: create_v1, 2: lift_v2, 3: lift_v3, 4: lift_v4}


def migrate(
    db: Database,
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


def required_objects(db: Database) -> tuple[tuple[str, str], ...]:
    """What a ledger of this version must hold in `db`; PostgreSQL also refuses TRUNCATE."""
    if db.kind != "postgresql":
        return REQUIRED_OBJECTS
    return REQUIRED_OBJECTS + tuple(
        ("trigger", f"{t}_no_truncate") for t in ("records", "unit_values", "allocations"))
