"""The burn ledger: every apply remembered, written so a crash loses nothing.

Every burn is recorded in two steps. `begin` commits a record reading "in-progress"
before the chip is touched; `finish` commits its outcome afterwards. A process killed at
any moment therefore leaves either no record (it died before `begin` returned, nothing
was burned) or an honest "in-progress" one, which the next opening of the ledger turns
into "interrupted" once it can prove the writer is gone. Each step is one transaction:
once `begin` or `finish` returns, the step is durable (SQLite: WAL mode with
`synchronous=FULL`; PostgreSQL: a committed transaction).

The ledger is one SQLite file or one PostgreSQL database (`db.open_database`); every rule
here is written once, for both, against the small `db.Database` seam.
"""

from __future__ import annotations

import builtins
import json
import os
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from fusebook import __version__
from fusebook.indices import IndexRange
from fusebook.ledger import record as rec
from fusebook.ledger.db import Database, DatabaseFailure, SQLiteDatabase, open_database
from fusebook.ledger.errors import DuplicateUnitValue, IndexRefused, LedgerError
from fusebook.ledger.owner import Writer
from fusebook.ledger.record import Allocation, Conflict, LedgerRecord
from fusebook.ledger.schema import REQUIRED_COLUMNS, SCHEMA_VERSION, migrate, required_objects

#: How long a write waits for another station's transaction (or retries) before giving up.
BUSY_TIMEOUT_S = 15.0

#: An SQLite ledger up to this size has every page checked each time it is opened; a larger
#: one once per PAGE_CHECK_INTERVAL_S, and on `ledger check`. Reading every page of a
#: season's ledger (hundreds of MB: a quarter second from the page cache, seconds from a
#: cold disk) on every one-shot apply would cost a station more time than its burns. Between full checks SQLite still refuses any damaged
#: page a statement reads (a LedgerError, before anything is burned when it is `begin`).
ALWAYS_CHECK_BYTES = 1 << 20
PAGE_CHECK_INTERVAL_S = 3600.0

_INTERRUPTED_NOTE = (
    "the process that started this burn ended without recording an outcome "
    "(killed, crashed or the host restarted); read the chip to see what was burned"
)


def _now() -> str:
    """UTC, ISO-8601, microseconds: sorts as text in the order things happened."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _optional_int(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"ledger field {name!r} must be an integer or None")
    return value


def _dumps(value: Mapping[str, str] | Sequence[Mapping[str, str]]) -> str:
    plain = dict(value) if isinstance(value, Mapping) else [dict(v) for v in value]
    return json.dumps(plain, sort_keys=True, separators=(",", ":"))


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


_CLAIMING = _quoted(rec.CLAIMING_OUTCOMES)


class Ledger:
    """An open ledger: a file path (SQLite, made on first use) or a `postgresql://` URL.

    One Ledger may be shared by the threads of a station: each call runs alone on its
    connection. Processes (and hosts) open a Ledger each.
    """

    def __init__(self, target: str | os.PathLike[str], *, busy_timeout_s: float = BUSY_TIMEOUT_S,
                 create: bool = True, check_pages: bool = False) -> None:
        """`create=False` opens an existing ledger only: readers (`ledger list`, the
        dashboard) must not leave an empty ledger behind in a database given by mistake.
        `check_pages=True` reads every page whatever the ledger's size and last check."""
        self._writer = Writer.current()
        self._create = create
        self._force_page_check = check_pages
        self._stamp_page_check = False  # set by _page_check_due: record a full check in meta
        #: when every page was last found sound (ISO time, UTC), if this ledger says
        self.pages_checked_at: str | None = None
        self._db: Database = open_database(target, busy_timeout_s)
        self.where = self._db.where
        self.kind = self._db.kind
        self.path = self._db.path if isinstance(self._db, SQLiteDatabase) else None
        try:
            self.schema_version = self._open(busy_timeout_s)
        except BaseException:
            self._db.close()
            raise
        if isinstance(self._db, SQLiteDatabase) and not self._db.existed:
            _sync_folder(self._db.path.parent)

    @property
    def journal_mode(self) -> str:
        return str(getattr(self._db, "journal_mode", ""))

    # -- opening ---------------------------------------------------------------------
    def _open(self, busy_timeout_s: float) -> int:
        """Check, create or migrate, and sweep interrupted records; retried while another
        process holds the ledger (two stations creating one ledger at the same moment).

        SQLite's busy timeout covers most waits, but not every one: switching a new file to
        WAL, or reading it while another process does so, can fail at once with "database
        is locked". Each attempt changes nothing unless it completes, so it is safe to retry.
        """
        deadline = time.monotonic() + busy_timeout_s
        delay = 0.005
        while True:
            try:
                version = self._open_schema()
                self._db.transaction(self._mark_interrupted, opening=True)
                return version
            except DatabaseFailure as e:
                if not self._db.retryable(e, True) or time.monotonic() + delay > deadline:
                    if e.retry:
                        raise LedgerError(e.message, hint="another fusebook is writing to this ledger; "
                                          "try again") from None
                    raise
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.25)

    def _open_schema(self) -> int:
        """Check the store before changing anything in it, then create or migrate the schema.

        A store that is not ours, or a ledger from a newer fusebook, is refused after a
        read only: not even an SQLite file's journal mode is changed.
        """
        db = self._db
        db.prepare()
        db.execute("BEGIN")
        try:
            found = self._inspect()
            if found is None and not self._create:
                raise LedgerError(f"{self.where}: no ledger here (the database is empty)",
                                  hint="give the --ledger URL the stations record into; "
                                  "a ledger is created by the first `apply` or `station`")
            checked = False
            if found is not None:
                checked = self._page_check_due()
                if checked:
                    db.check_pages()
                if found == SCHEMA_VERSION:  # an older one is checked once migrated
                    self._check_shape()
        finally:
            db.rollback()
        if isinstance(db, SQLiteDatabase):
            db.switch_to_wal()

        def create_or_migrate() -> int:
            found = self._inspect()  # again: another station may have created it meanwhile
            version = migrate(db, found or 0)
            self._check_shape()
            if checked and self._stamp_page_check and isinstance(db, SQLiteDatabase):
                self.pages_checked_at = _now()
                for key, value in (("pages_checked_at", self.pages_checked_at),
                                   ("pages_checked_file", _file_identity(db.path))):
                    db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                               "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))
            return version

        return db.transaction(create_or_migrate, opening=True)

    def _page_check_due(self) -> bool:
        """Whether this opening reads every page (see ALWAYS_CHECK_BYTES).

        PostgreSQL checks its own pages, so there it is always "yes" (a cheap no-op). A last
        check dated in the future (a clock set back) counts as due, and so does one made on
        another file: a ledger copied in (from a backup, another station) is read in full.
        """
        db = self._db
        self._stamp_page_check = False
        if not isinstance(db, SQLiteDatabase):
            return True
        if self._force_page_check:
            self._stamp_page_check = True
            return True
        stamps = {str(r["key"]): str(r["value"]) for r in db.query(
            "SELECT key, value FROM meta WHERE key IN ('pages_checked_at', 'pages_checked_file')")}
        self.pages_checked_at = stamps.get("pages_checked_at")
        try:
            if db.path.stat().st_size <= ALWAYS_CHECK_BYTES:
                return True  # checked on every opening: no stamp to write (no write per apply)
            self._stamp_page_check = True
            if not self.pages_checked_at or stamps.get("pages_checked_file") != _file_identity(db.path):
                return True
            age = (datetime.now(timezone.utc) - datetime.fromisoformat(self.pages_checked_at)).total_seconds()
        except (OSError, ValueError, TypeError):
            return True
        return not 0 <= age < PAGE_CHECK_INTERVAL_S

    def _check_shape(self) -> None:
        """The tables, columns and append-only triggers of this schema version are all there."""
        db = self._db
        found = db.objects()
        missing = [f"{kind} {name}" for kind, name in required_objects(db) if (kind, name) not in found]
        for table, columns in REQUIRED_COLUMNS.items():
            if ("table", table) in found:
                have = db.columns(table)
                missing += [f"column {table}.{c}" for c in columns if c not in have]
        if missing:
            raise LedgerError(f"ledger {self.where} is damaged: missing {', '.join(missing)}",
                              hint=db.damaged_hint)

    def _inspect(self) -> int | None:
        """The schema version of a usable ledger, None for an empty store; else LedgerError."""
        db = self._db
        tables = db.tables()
        if not tables and db.blank():
            return None
        if "meta" not in tables or not db.marked():
            if isinstance(db, SQLiteDatabase):
                raise LedgerError(
                    f"{self.where} is an SQLite database but not a fusebook ledger",
                    hint="pass another --ledger PATH; fusebook does not write into other databases",
                )
            raise LedgerError(
                f"{self.where} holds other tables: it is not a fusebook ledger",
                hint="give the ledger a database of its own (CREATE DATABASE, see docs/ledger.md); "
                "fusebook does not write into other databases",
            )
        row = db.one("SELECT value FROM meta WHERE key = 'schema_version'")
        try:
            found = int(row["value"]) if row else 0
        except (TypeError, ValueError):
            found = 0
        if found < 1:
            raise LedgerError(f"ledger {self.where} has no valid schema version",
                              hint="the ledger is damaged or not a fusebook ledger")
        if found > SCHEMA_VERSION:
            raise LedgerError(
                f"ledger {self.where} has schema version {found}, written by a newer fusebook; "
                f"this fusebook ({__version__}) knows versions up to {SCHEMA_VERSION}",
                hint="upgrade fusebook to use this ledger; it was left untouched",
            )
        return found

    def _mark_interrupted(self) -> None:
        """Turn open records whose writer is provably gone into "interrupted"."""
        rows = self._db.query(
            "SELECT id, host, boot_id, pid_namespace, pid FROM records "
            "WHERE finished_at IS NULL AND outcome = 'in-progress'"
        )
        for r in rows:
            writer = Writer(host=r["host"], boot_id=r["boot_id"], pid_namespace=r["pid_namespace"], pid=r["pid"])
            if writer.is_gone(self._writer):
                self._db.execute(
                    "UPDATE records SET outcome = 'interrupted', error = ? "
                    "WHERE id = ? AND finished_at IS NULL AND outcome = 'in-progress'",
                    (_INTERRUPTED_NOTE, r["id"]),
                )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------
    def begin(
        self,
        *,
        chip_type: str,
        revision: int | None,
        factory_mac: str,
        recipe_name: str,
        recipe_sha256: str,
        index: int | None,
        input_digests: Mapping[str, str],
        plan_json: str | None,
        plan_digest: str | None,
        before_token: str | None,
        unique_values: Mapping[str, str],
        key_fingerprints: Mapping[str, str],
        recipe_files: Sequence[Mapping[str, str]] = (),
    ) -> int:
        """Record an apply about to touch the chip; returns its id once it is durable.

        `recipe_files` lists every file the plan read (`{"path", "digest"}`, key files by
        fingerprint); `recipe_sha256` is the caller's digest over them.

        Call it after planning and confirmation, before the first program. The per-unit
        values are checked against other chips in the same transaction that records them,
        so two stations sharing a ledger cannot both claim one value (DuplicateUnitValue,
        exit 3; nothing is recorded then).
        """
        chip = rec.check_text("chip_type", chip_type)
        mac = rec.normalise_mac(rec.check_text("factory_mac", factory_mac) or "")
        name = rec.check_text("recipe_name", recipe_name)
        digest = rec.check_sha256("recipe_sha256", recipe_sha256)
        inputs = rec.check_text_map("input_digests", input_digests)
        plan = rec.check_json("plan_json", plan_json)
        plan_sum = rec.check_text("plan_digest", plan_digest, optional=True)
        before = rec.check_text("before_token", before_token, optional=True)
        unique = rec.check_text_map("unique_values", unique_values)
        fingerprints = rec.check_fingerprints(key_fingerprints)
        files = rec.check_files(recipe_files)
        revision = _optional_int("revision", revision)
        index = _optional_int("index", index)
        w = self._writer
        db = self._db

        def write() -> int:
            self._mark_interrupted()
            clashes = self._conflicts(unique, mac)
            if clashes:
                raise DuplicateUnitValue(tuple(clashes))
            record_id = db.insert(
                "INSERT INTO records (started_at, chip_type, revision, factory_mac, recipe_name, "
                "recipe_sha256, unit_index, input_digests, plan, plan_digest, before_token, "
                "unique_values, key_fingerprints, outcome, host, boot_id, pid_namespace, pid, "
                "fusebook_version, recipe_files) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'in-progress', ?, ?, ?, ?, ?, ?)",
                (_now(), chip, revision, mac, name, digest, index, _dumps(inputs), plan, plan_sum,
                 before, _dumps(unique), _dumps(fingerprints), w.host, w.boot_id, w.pid_namespace,
                 w.pid, __version__, _dumps(files)),
            )
            db.executemany(
                "INSERT INTO unit_values (record_id, field, value) VALUES (?, ?, ?)",
                [(record_id, f, rec.normalise_value(v)) for f, v in unique.items() if not rec.is_blank(v)],
            )
            return record_id

        return db.transaction(write)

    def finish(
        self,
        record_id: int,
        outcome: str,
        after_token: str | None = None,
        error: str | None = None,
        exit_code: int | None = None,
    ) -> None:
        """Record how an apply begun with `begin` ended; returns once it is durable.

        `outcome` is one of ok, nothing-to-do, failed, refused, interrupted, partial, aborted. `exit_code`
        defaults to 0 for ok and nothing-to-do. A record is finished once; finishing it
        again is a bug in the caller and raises ValueError.
        """
        if outcome not in rec.FINAL_OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(rec.FINAL_OUTCOMES)}, not {outcome!r}")
        after = rec.check_text("after_token", after_token, optional=True)
        message = rec.check_text("error", error, optional=True)
        code = _optional_int("exit_code", exit_code)
        if code is None and outcome in (rec.OK, rec.NOTHING_TO_DO):
            code = 0
        db = self._db

        def write() -> None:
            changed = db.execute(
                "UPDATE records SET finished_at = ?, outcome = ?, after_token = ?, exit_code = ?, "
                "error = ? WHERE id = ? AND finished_at IS NULL",
                (_now(), outcome, after, code, message, record_id),
            )
            if changed != 1:
                row = db.one("SELECT outcome FROM records WHERE id = ?", (record_id,))
                if row is None:
                    raise ValueError(f"no ledger record {record_id}")
                raise ValueError(f"ledger record {record_id} is already finished ({row['outcome']})")

        db.transaction(write)

    # -- index allocation ------------------------------------------------------------
    def allocate(self, recipe_name: str, factory_mac: str, index_range: IndexRange) -> Allocation:
        """The index of `recipe_name` this unit holds, allocating the lowest free one of
        `index_range` on its first visit; one transaction, so racing stations never share one.

        A unit plugged in again gets its index back; a unit already done under it (a record
        ok or nothing-to-do) is refused, as is a unit without a usable factory MAC and a
        range with no index left (IndexRefused, exit 3). Indices that records of this
        recipe show on other chips (an apply with `--index N`) are never handed out.
        """
        name = rec.check_text("recipe_name", recipe_name) or ""
        mac = rec.normalise_mac(rec.check_text("factory_mac", factory_mac) or "")
        if rec.unknown_mac(mac):
            raise IndexRefused(
                f"this chip's factory MAC reads {mac or 'nothing'}: a unit without an identity cannot be "
                "given an index by the ledger (it could not be told from other units when it comes back)",
                hint="pass --index N for this unit yourself, or set the chip aside: its factory MAC is blank",
            )
        if not isinstance(index_range, IndexRange):
            raise TypeError("index_range must be an IndexRange (fusebook.indices.parse_range)")
        db = self._db
        where = f"{_ALLOCATION_SELECT} WHERE a.recipe_name = ? AND a.factory_mac = ?"

        def write() -> Allocation:
            row = db.one(where, (name, mac))
            if row is not None:
                held = Allocation.from_row(row)
                _refuse_if_done(held)
                if held.index not in index_range:
                    raise IndexRefused(
                        f"this unit (factory MAC {mac}) holds index {held.index} of recipe {name} since "
                        f"{held.allocated_at}, outside the range {index_range}",
                        index=held.index,
                        hint=f"an index stays with its unit: pass --index {held.index}, or widen the range",
                    )
                return held
            index = self._index_for_new_unit(name, mac, index_range)
            db.execute(
                "INSERT INTO allocations (recipe_name, unit_index, factory_mac, index_range, allocated_at, "
                "host, pid, fusebook_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, index, mac, str(index_range), _now(), self._writer.host, self._writer.pid, __version__),
            )
            made = db.one(where, (name, mac))
            assert made is not None
            return Allocation.from_row(made, new=True)

        return db.transaction(write)

    def _index_for_new_unit(self, name: str, mac: str, index_range: IndexRange) -> int:
        """A unit the allocations do not know: its index from an earlier `--index N` record,
        else the lowest index of the range that no allocation and no other chip's record holds."""
        db = self._db
        earlier = db.one(
            "SELECT id, unit_index, outcome FROM records WHERE recipe_name = ? AND factory_mac = ? "
            f"AND unit_index IS NOT NULL AND outcome IN ({_CLAIMING}) ORDER BY id DESC LIMIT 1",
            (name, mac),
        )
        span = (index_range.lowest, index_range.highest)
        taken = {int(r["unit_index"]) for r in db.query(
            "SELECT unit_index FROM allocations WHERE recipe_name = ? AND unit_index BETWEEN ? AND ?",
            (name, *span))}
        taken |= {int(r["unit_index"]) for r in db.query(
            f"SELECT unit_index FROM records WHERE recipe_name = ? AND outcome IN ({_CLAIMING}) "
            "AND factory_mac != ? AND unit_index BETWEEN ? AND ?",
            (name, mac, *span))}
        if earlier is not None:
            index = int(earlier["unit_index"])
            if earlier["outcome"] in rec.DONE_OUTCOMES:
                raise IndexRefused(
                    f"this unit (factory MAC {mac}) is already burned as index {index} of recipe {name} "
                    f"(ledger record {earlier['id']}, {earlier['outcome']})",
                    index=index, hint=_DONE_HINT,
                )
            if index in index_range and index not in taken:
                return index
            raise IndexRefused(
                f"this unit (factory MAC {mac}) was begun as index {index} of recipe {name} (ledger record "
                f"{earlier['id']}, {earlier['outcome']}), which the range {index_range} cannot give it back",
                index=index, hint=f"finish it with --index {index}",
            )
        for lo, hi in index_range.intervals:
            i = lo
            while i <= hi and i in taken:
                i += 1
            if i <= hi:
                return i
        raise IndexRefused(
            f"no index of {index_range} is left for recipe {name}: all {len(index_range)} are taken",
            hint="declare the next range (`indices:` in the recipe, or --indices) for further units",
        )

    def allocations(self, limit: int | None = 50, chip_mac: str | None = None,
                    recipe: str | None = None) -> builtins.list[Allocation]:
        """Allocated indices newest first, optionally of one chip (factory MAC) or one recipe."""
        _check_limit(limit)
        where, args = self._filters(chip_mac, recipe, table="a.")
        sql = f"{_ALLOCATION_SELECT} {where} ORDER BY a.id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [Allocation.from_row(r) for r in self._db.query(sql, args)]

    # -- reading ---------------------------------------------------------------------
    def _conflicts(self, unique: Mapping[str, str], mac: str) -> builtins.list[Conflict]:
        anonymous = rec.unknown_mac(mac)  # a chip we cannot identify might be any chip
        out: builtins.list[Conflict] = []
        for field, value in unique.items():
            if rec.is_blank(value):
                continue
            rows = self._db.query(
                "SELECT r.id, r.factory_mac, r.recipe_name, r.started_at, r.outcome "
                "FROM unit_values u JOIN records r ON r.id = u.record_id "
                f"WHERE u.field = ? AND u.value = ? AND r.outcome IN ({_CLAIMING}) "
                "AND (r.factory_mac != ? OR ?) ORDER BY r.id",
                (field, rec.normalise_value(value), mac, anonymous),
            )
            out.extend(
                Conflict(field=field, value=value, factory_mac=r["factory_mac"], record_id=r["id"],
                         recipe_name=r["recipe_name"], started_at=r["started_at"], outcome=r["outcome"])
                for r in rows
            )
        return out

    def conflicts(self, unique: Mapping[str, str], factory_mac: str) -> builtins.list[Conflict]:
        """Per-unit values of this unit already recorded on another chip.

        Counted: records that are ok, nothing-to-do (the value was found on that chip),
        in-progress, interrupted or partial (it may be on that chip). Failed, refused and aborted applies
        claim nothing; blank (all-zero) values are never conflicts; values compare
        trimmed and case-insensitively.
        """
        values = rec.check_text_map("unique", unique)
        mac = rec.normalise_mac(rec.check_text("factory_mac", factory_mac) or "")
        return self._conflicts(values, mac)

    def key_fingerprint(self, factory_mac: str, block: str) -> str | None:
        """The fingerprint of the key last burned and verified (outcome ok) into `block` of this chip."""
        mac = rec.normalise_mac(factory_mac)
        if rec.unknown_mac(mac):
            return None  # a chip without identity has no history to confirm against
        wanted = block.strip().upper()
        rows = self._db.query(
            "SELECT key_fingerprints FROM records WHERE factory_mac = ? AND outcome = 'ok' ORDER BY id DESC",
            (mac,),
        )
        for row in rows:
            try:
                fingerprints = json.loads(row["key_fingerprints"])
            except (TypeError, ValueError):
                raise LedgerError(f"ledger {self.where} is damaged: a record's key fingerprints are not JSON",
                                  hint=self._db.damaged_hint) from None
            if not isinstance(fingerprints, dict):
                raise LedgerError(f"ledger {self.where} is damaged: a record's key fingerprints are not a mapping",
                                  hint=self._db.damaged_hint)
            for name, fp in fingerprints.items():
                if str(name).upper() == wanted:
                    return str(fp)
        return None

    def _select(self, where: str, args: tuple[Any, ...], order: str, limit: int | None) -> Iterator[LedgerRecord]:
        sql = f"SELECT * FROM records {where} ORDER BY id {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        for row in self._db.query(sql, args):
            try:
                record = LedgerRecord.from_row(row)
            except (TypeError, ValueError, KeyError, AttributeError):
                raise LedgerError(f"ledger {self.where} is damaged: record {row['id']} cannot be read",
                                  hint=self._db.damaged_hint) from None
            yield record

    @staticmethod
    def _filters(chip_mac: str | None, recipe: str | None, table: str = "") -> tuple[str, tuple[Any, ...]]:
        clauses, args = [], []
        if chip_mac:
            clauses.append(f"{table}factory_mac = ?")
            args.append(rec.normalise_mac(chip_mac))
        if recipe:
            clauses.append(f"{table}recipe_name = ?")
            args.append(recipe)
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(args)

    def list(self, limit: int | None = 50, chip_mac: str | None = None,
             recipe: str | None = None, index: int | None = None) -> builtins.list[LedgerRecord]:
        """Records newest first, optionally of one chip (factory MAC), one recipe name, one unit index."""
        _check_limit(limit)
        where, args = self._filters(chip_mac, recipe)
        index = _optional_int("index", index)
        if index is not None:
            where = f"{where} AND unit_index = ?" if where else "WHERE unit_index = ?"
            args = (*args, index)
        return builtins.list(self._select(where, args, "DESC", limit))

    def outcome_counts(self, since: str | None = None) -> dict[str, int]:
        """How many records have each outcome, counting those started at or after `since`
        (ISO-8601 UTC, as the records' times) or all: a dashboard's totals without reading records."""
        where, args = ("WHERE started_at >= ?", (since,)) if since else ("", ())
        rows = self._db.query(f"SELECT outcome, COUNT(*) AS n FROM records {where} GROUP BY outcome", args)
        return {str(r["outcome"]): int(r["n"]) for r in rows}

    def get(self, record_id: int) -> LedgerRecord | None:
        """One record by id, or None if there is none."""
        return next(self._select("WHERE id = ?", (record_id,), "ASC", 1), None)

    def export_csv(self, stream: TextIO, chip_mac: str | None = None, recipe: str | None = None) -> int:
        """Every record (or those of one chip / recipe), oldest first, as CSV; returns the row count."""
        where, args = self._filters(chip_mac, recipe)
        from fusebook.ledger.export import write_csv  # csv only for exports

        return write_csv(self._select(where, args, "ASC", None), stream)


def _file_identity(path: Path) -> str:
    """Which file this is (device and inode): a copy of a ledger is another file."""
    st = path.stat()
    return f"{st.st_dev}:{st.st_ino}"


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError("limit must be a non-negative integer or None")


_DONE = _quoted(rec.DONE_OUTCOMES)
_DONE_HINT = "a finished unit is not burned again; set it aside or check it with `fusebook summary`"
_UNIT_RECORDS = ("FROM records r WHERE r.recipe_name = a.recipe_name AND r.factory_mac = a.factory_mac "
                 "AND r.unit_index = a.unit_index")
#: An allocation with its state: the latest record that finished the unit, else its latest record.
_ALLOCATION_SELECT = (
    "SELECT a.id, a.recipe_name, a.unit_index, a.factory_mac, a.index_range, a.allocated_at, a.host, a.pid, "
    f"a.fusebook_version, COALESCE((SELECT r.outcome {_UNIT_RECORDS} AND r.outcome IN ({_DONE}) "
    f"ORDER BY r.id DESC LIMIT 1), (SELECT r.outcome {_UNIT_RECORDS} ORDER BY r.id DESC LIMIT 1)) AS state "
    "FROM allocations a"
)


def _refuse_if_done(held: Allocation) -> None:
    if held.done:
        raise IndexRefused(
            f"this unit (factory MAC {held.factory_mac}) is already burned as index {held.index} "
            f"of recipe {held.recipe_name} ({held.state})",
            index=held.index, hint=_DONE_HINT,
        )


def _sync_folder(folder: Path) -> None:
    """Make a newly created ledger file's name durable too (POSIX; best effort elsewhere)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
