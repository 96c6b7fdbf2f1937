"""Where the ledger lives: one SQLite file, or one PostgreSQL database shared by many hosts.

The `Ledger` (store.py) holds every rule of the ledger once; it reaches its database only
through the small seam here: run a statement written with `?` placeholders, insert a row
and get its id, run a write transaction (retried where the database asks for that), list
the schema's objects, check the store before use, and say what a driver's error means in
a station operator's words. `open_database` picks the implementation from the target:
a `postgresql://` URL, or else a file path.

What differs between the two, and only here:
- SQLite: one writer at a time (`BEGIN IMMEDIATE`), WAL journal with `synchronous=FULL`,
  page checks (`quick_check`) on open; a lock held by another station is waited for.
- PostgreSQL: every write transaction first takes the ledger's write lock (a
  transaction-level advisory lock), then reads and writes at READ COMMITTED, so each of
  its statements sees everything committed before the lock was granted: writes from all
  stations and hosts run one at a time, exactly as in an SQLite file, and a check (is
  this value or index taken?) and the write that follows cannot be overtaken. Running
  the same claims as SERIALIZABLE transactions instead had to retry about every second
  one under contention; the lock never needs a retry. Serialization failures and
  deadlocks are still retried should a server report one. The server keeps its own
  pages; its URL is never shown with a password.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from fusebook.ledger.errors import LedgerError

T = TypeVar("T")
Row = Mapping[str, Any]

#: "FBkL" in the SQLite header, so `file` and other tools can tell a ledger apart.
APPLICATION_ID = 0x46426B4C

#: Key of PostgreSQL's advisory lock that serialises the ledger's writes (and its creation).
WRITE_LOCK_KEY = APPLICATION_ID

URL_SCHEMES = ("postgresql://", "postgres://")

DAMAGED_HINT_SQLITE = ("keep a copy of the file and restore the ledger from a backup (or salvage its records "
                       "with `sqlite3 FILE .recover`); nothing was burned; pass another --ledger PATH to go on")
DAMAGED_HINT_POSTGRESQL = ("restore the ledger database from a backup (pg_dump), or point --ledger at another "
                           "database; nothing was burned")


class DatabaseFailure(LedgerError):
    """A statement the database refused; `retry` when running the transaction again may succeed."""

    def __init__(self, message: str, *, hint: str | None = None, retry: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.retry = retry


def is_url(target: str | os.PathLike[str]) -> bool:
    return isinstance(target, str) and target.strip().lower().startswith(URL_SCHEMES)


def redact_url(url: str) -> str:
    """The URL as it may be shown: without a password (user, host, port and database stay)."""
    try:
        parts = urlsplit(url.strip())
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}@{host}" if user else host
        query = "&".join(q for q in parts.query.split("&") if q and not q.lower().startswith("password="))
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "postgresql://(unreadable URL)"


class Database:
    """A ledger store: statements, transactions, schema objects, checks. See the module doc."""

    kind: str = ""
    #: Column types the schema is written with, as each database spells them.
    types: Mapping[str, str] = {}
    where: str
    damaged_hint: str = ""

    def __init__(self, retry_s: float) -> None:
        self.retry_s = retry_s
        # One connection, shared by the threads of a station: a statement or a whole
        # transaction runs under this lock, so two threads never interleave on it.
        self.lock = threading.RLock()

    # -- statements ----------------------------------------------------------------------
    def query(self, sql: str, args: Iterable[Any] = ()) -> list[Row]:
        raise NotImplementedError

    def one(self, sql: str, args: Iterable[Any] = ()) -> Row | None:
        rows = self.query(sql, args)
        return rows[0] if rows else None

    def execute(self, sql: str, args: Iterable[Any] = ()) -> int:
        """Run a statement; returns the number of rows it changed."""
        raise NotImplementedError

    def insert(self, sql: str, args: Iterable[Any] = ()) -> int:
        """Run an INSERT into a table with an `id` column; returns the new row's id."""
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        for args in rows:
            self.execute(sql, args)

    # -- transactions --------------------------------------------------------------------
    begin_sql = "BEGIN"

    def retryable(self, e: DatabaseFailure, opening: bool) -> bool:
        return e.retry

    def transaction(self, body: Callable[[], T], *, opening: bool = False) -> T:
        """`body()` in one write transaction: all of it is committed, or none of it.

        A failure the database marks as retryable (see `retryable`) runs the whole body
        again, with a short random back-off, until `retry_s` has passed; errors raised by
        the body itself (a refusal, a caller bug) roll back and propagate at once.
        """
        with self.lock:
            return self._transaction(body, opening)

    def _transaction(self, body: Callable[[], T], opening: bool) -> T:
        deadline = time.monotonic() + self.retry_s
        delay = 0.005
        while True:
            try:
                self.execute(self.begin_sql)
                try:
                    self.lock_writes()
                    result = body()
                    self.execute("COMMIT")
                except BaseException:
                    self.rollback()
                    raise
                return result
            except DatabaseFailure as e:
                if not self.retryable(e, opening) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25)

    def rollback(self) -> None:
        with contextlib.suppress(LedgerError):
            self.execute("ROLLBACK")

    # -- schema --------------------------------------------------------------------------
    def prepare(self) -> None:
        """Session settings before the first look at the schema."""

    def lock_writes(self) -> None:
        """First in a write transaction: wait until no other station is writing."""

    def tables(self) -> set[str]:
        raise NotImplementedError

    def objects(self) -> set[tuple[str, str]]:
        """(kind, name) of the tables, indexes and triggers there: kind is table, index or trigger."""
        raise NotImplementedError

    def columns(self, table: str) -> set[str]:
        raise NotImplementedError

    def blank(self) -> bool:
        """No mark of any application: an empty store may become a ledger."""
        return True

    def marked(self) -> bool:
        """The store carries the ledger's own mark (or the database has no such mark)."""
        return True

    def mark(self) -> None:
        """Put the ledger's mark on a new store."""

    def check_pages(self) -> None:
        """Refuse a store whose storage is damaged (LedgerError); the schema is checked apart."""

    def close(self) -> None:
        raise NotImplementedError


# -- SQLite ------------------------------------------------------------------------------
def _sqlite_busy(e: sqlite3.Error) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(e) or "busy" in str(e)


class SQLiteDatabase(Database):
    kind = "sqlite"
    types = {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "bigint": "INTEGER", "without_rowid": " WITHOUT ROWID"}
    damaged_hint = DAMAGED_HINT_SQLITE
    begin_sql = "BEGIN IMMEDIATE"  # the write lock up front: no lock-upgrade deadlocks

    def __init__(self, path: Path, busy_timeout_s: float) -> None:
        super().__init__(busy_timeout_s)
        self.path = path
        self.where = str(path)
        self.busy_timeout_s = busy_timeout_s
        if path.is_dir():
            raise LedgerError(f"ledger {path} is a folder", hint="give a file path, e.g. fusebook-ledger.sqlite")
        if not path.parent.is_dir():
            raise LedgerError(f"ledger {path}: folder {path.parent} does not exist",
                              hint="create the folder or pass another --ledger PATH")
        if path.exists() and not stat.S_ISREG(path.stat().st_mode):
            raise LedgerError(f"ledger {path} is not a regular file (a device, pipe or socket)",
                              hint="give a file path, e.g. fusebook-ledger.sqlite")
        self.existed = path.exists() and path.stat().st_size > 0
        self.journal_mode = ""
        try:
            self._conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None,
                                         check_same_thread=False)  # guarded by self.lock
        except sqlite3.Error as e:
            raise self.failure(e) from None
        self._conn.row_factory = sqlite3.Row

    def failure(self, e: sqlite3.Error | UnicodeDecodeError) -> DatabaseFailure:
        """A SQLite failure in the words of someone running a production line.

        Text that is not UTF-8 where SQLite keeps its schema or a record can only be a
        damaged file: the sqlite3 module raises UnicodeDecodeError for it, not an Error.
        """
        text = str(e)
        if isinstance(e, UnicodeDecodeError):
            return DatabaseFailure(f"ledger {self.path} is damaged (text that is not UTF-8: {text})",
                                   hint=self.damaged_hint)
        code = getattr(e, "sqlite_errorcode", 0) or 0
        if "malformed" in text or "corrupt" in text or (
                code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) and "not a database" not in text):
            return DatabaseFailure(f"ledger {self.path} is damaged ({text})", hint=self.damaged_hint)
        if _sqlite_busy(e):
            return DatabaseFailure(f"ledger {self.path}: {text}", retry=True, hint=(
                "another fusebook is writing to this ledger; try again, or use --ledger for a separate file"))
        if "readonly" in text or "unable to open" in text:
            hint: str | None = "the ledger file and its folder must exist and be writable"
        elif "not a database" in text:
            hint = "this file is not a fusebook ledger (or is damaged); pass another --ledger PATH"
        elif "disk" in text or "full" in text:
            hint = "check the disk holding the ledger (space, errors)"
        else:
            hint = None
        return DatabaseFailure(f"ledger {self.path}: {text}", hint=hint)

    def retryable(self, e: DatabaseFailure, opening: bool) -> bool:
        # Writes wait for a lock through SQLite's busy timeout; only opening (creating the
        # file, switching it to WAL) can fail at once while another process does the same.
        return e.retry and opening

    def _run(self, sql: str, args: Iterable[Any], result: Callable[[sqlite3.Cursor], T]) -> T:
        with self.lock:
            try:
                return result(self._conn.execute(sql, tuple(args)))
            except (sqlite3.Error, UnicodeDecodeError) as e:
                raise self.failure(e) from None

    def query(self, sql: str, args: Iterable[Any] = ()) -> list[Row]:
        return self._run(sql, args, lambda cur: cur.fetchall())

    def execute(self, sql: str, args: Iterable[Any] = ()) -> int:
        return self._run(sql, args, lambda cur: cur.rowcount)

    def insert(self, sql: str, args: Iterable[Any] = ()) -> int:
        return self._run(sql, args, lambda cur: int(cur.lastrowid or 0))

    def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        with self.lock:
            try:
                self._conn.executemany(sql, [tuple(r) for r in rows])
            except (sqlite3.Error, UnicodeDecodeError) as e:
                raise self.failure(e) from None

    def prepare(self) -> None:
        self.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        self.execute("PRAGMA synchronous = FULL")
        self.execute("PRAGMA foreign_keys = ON")

    def switch_to_wal(self) -> None:
        """WAL journal: readers never wait for a writer. Refused for a file that is not ours,
        so it is switched only after the first look; an attempt that cannot happen yet
        (another process holds the file) is retryable."""
        row = self.one("PRAGMA journal_mode = WAL")
        self.journal_mode = str(row[0] if row is not None else "")  # type: ignore[index]
        if self.journal_mode.lower() != "wal":
            raise DatabaseFailure(f"ledger {self.path}: could not switch the ledger to WAL mode yet", retry=True)

    def tables(self) -> set[str]:
        return {r["name"] for r in self.query("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def objects(self) -> set[tuple[str, str]]:
        return {(r["type"], r["name"]) for r in self.query("SELECT type, name FROM sqlite_master")}

    def columns(self, table: str) -> set[str]:
        return {r["name"] for r in self.query(f"PRAGMA table_info({table})")}

    def _application_id(self) -> int:
        row = self.one("PRAGMA application_id")
        return int(row[0]) if row is not None else 0  # type: ignore[index]

    def blank(self) -> bool:
        return self._application_id() == 0

    def marked(self) -> bool:
        return self._application_id() == APPLICATION_ID

    def mark(self) -> None:
        self.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def check_pages(self) -> None:
        """`quick_check` reads every page (a torn or overwritten page, a truncated file);
        `integrity_check` of `unit_values` also compares that table with its index, so a
        changed per-unit value (which would let a duplicate MAC through) is noticed."""
        problems = [str(r[0]) for r in self.query("PRAGMA quick_check(5)")]  # type: ignore[index]
        if problems == ["ok"]:
            problems = [str(r[0]) for r in self.query("PRAGMA integrity_check(unit_values)")]  # type: ignore[index]
        if problems != ["ok"]:
            raise LedgerError(f"ledger {self.path} is damaged: {'; '.join(problems)[:300]}",
                              hint=self.damaged_hint)

    def close(self) -> None:
        self._conn.close()


# -- PostgreSQL --------------------------------------------------------------------------
#: SQLSTATEs after which the transaction may simply be run again.
_PG_RETRY = {"40001", "40P01"}  # serialization_failure, deadlock_detected

_PG_HINTS = {
    "28": "check the user name and password in the URL (or ~/.pgpass, PGPASSWORD) and the server's pg_hba.conf",
    "3D": "create the database first (see docs/ledger.md, PostgreSQL), or fix its name in the URL",
    "42501": "the ledger's role needs to own the ledger's tables (see docs/ledger.md, PostgreSQL)",
    "08": "check that the server runs and is reachable from this host (host, port, firewall)",
    "57": "the server is shutting down or restarting; try again when it is back",
    "53": "the server is out of resources (disk, memory, connections); ask its administrator",
    "55P03": "another station held the ledger's write lock too long; try again, and check for a stuck station",
}


class PostgresDatabase(Database):
    kind = "postgresql"
    types = {"id": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "bigint": "BIGINT", "without_rowid": ""}
    damaged_hint = DAMAGED_HINT_POSTGRESQL
    # READ COMMITTED: each statement sees what was committed before it, so everything after
    # the write lock sees the last writer's work (a REPEATABLE READ or SERIALIZABLE snapshot
    # would be taken by the lock statement itself, before the lock is granted).
    begin_sql = "BEGIN ISOLATION LEVEL READ COMMITTED"

    def __init__(self, url: str, timeout_s: float) -> None:
        super().__init__(timeout_s)
        self.where = redact_url(url)
        self._secret = urlsplit(url.strip()).password or ""
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError:
            raise LedgerError(f"ledger {self.where}: a PostgreSQL ledger needs the psycopg package",
                              hint="install it with `pip install 'fusebook[postgresql]'`") from None
        self._errors = psycopg.Error
        try:
            self._conn: Any = psycopg.connect(
                url.strip(), autocommit=True, row_factory=dict_row,
                connect_timeout=max(1, int(timeout_s)), application_name="fusebook")
        except psycopg.Error as e:
            raise self.failure(e, "cannot connect: ") from None
        except Exception as e:  # a malformed URL is refused by libpq's parser with other types
            raise LedgerError(f"ledger {self.where}: {self._scrub(str(e))}",
                              hint="write the URL as postgresql://USER@HOST:PORT/DATABASE") from None

    def _scrub(self, text: str) -> str:
        text = text.strip()
        return text.replace(self._secret, "***") if self._secret else text

    def failure(self, e: Exception, prefix: str = "") -> DatabaseFailure:
        state = str(getattr(e, "sqlstate", "") or "")
        text = self._scrub(str(e)).splitlines()[0] if str(e).strip() else type(e).__name__
        if not state and prefix:  # libpq refuses a connection without an SQLSTATE: read its words
            low = text.lower()
            state = ("3D000" if "database" in low and "does not exist" in low else
                     "28000" if "authentication" in low or ("role" in low and "does not exist" in low) else "")
        hint = _PG_HINTS.get(state) or _PG_HINTS.get(state[:2])
        if not state and not prefix:
            hint = _PG_HINTS["08"]
            prefix = "lost the connection to the server: "
        elif prefix and hint is None:
            hint = _PG_HINTS["08"]
        return DatabaseFailure(f"ledger {self.where}: {prefix}{text}", hint=hint, retry=state in _PG_RETRY)

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def _run(self, sql: str, args: Iterable[Any], result: Callable[[Any], T]) -> T:
        with self.lock:
            try:
                return result(self._conn.execute(self._sql(sql), tuple(args)))
            except self._errors as e:
                raise self.failure(e) from None

    def query(self, sql: str, args: Iterable[Any] = ()) -> list[Row]:
        return self._run(sql, args, lambda cur: list(cur.fetchall()))

    def execute(self, sql: str, args: Iterable[Any] = ()) -> int:
        return self._run(sql, args, lambda cur: int(cur.rowcount))

    def insert(self, sql: str, args: Iterable[Any] = ()) -> int:
        return self._run(sql + " RETURNING id", args, lambda cur: int(cur.fetchone()["id"]))

    def prepare(self) -> None:
        self.execute(f"SET lock_timeout = {int(self.retry_s * 1000)}")

    def lock_writes(self) -> None:
        self.query(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")

    def tables(self) -> set[str]:
        return {r["tablename"] for r in self.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}

    def objects(self) -> set[tuple[str, str]]:
        found = {("table", t) for t in self.tables()}
        found |= {("index", r["indexname"]) for r in self.query(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")}
        found |= {("trigger", r["tgname"]) for r in self.query(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND NOT t.tgisinternal AND t.tgenabled != 'D'")}
        return found

    def columns(self, table: str) -> set[str]:
        return {r["column_name"] for r in self.query(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ?", (table,))}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()


def open_database(target: str | os.PathLike[str], timeout_s: float) -> Database:
    """The database `--ledger` names: a `postgresql://` URL, else an SQLite file path."""
    if is_url(target):
        return PostgresDatabase(str(target), timeout_s)
    return SQLiteDatabase(Path(target), timeout_s)
