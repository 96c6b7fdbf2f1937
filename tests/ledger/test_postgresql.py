"""The PostgreSQL ledger: its rules hold in the server itself, and its failures are clear."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fusebook.ledger import Ledger, LedgerError
from fusebook.ledger.db import PostgresDatabase, redact_url
from fusebook.ledger.schema import SCHEMA_VERSION, migrate
from tests.e2e.conftest import fusebook
from tests.ledger.units import unit


@pytest.fixture
def url(postgres: Any) -> str:
    return str(postgres.create_ledger())


@pytest.fixture
def sql(url: str) -> Iterator[Any]:
    """A plain connection to the ledger's database, as someone with its password would have."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


def _refused(conn: Any, statement: str, args: tuple[Any, ...] = ()) -> str:
    import psycopg

    with pytest.raises(psycopg.Error) as caught:
        conn.execute(statement, args)
    return str(caught.value)


def test_records_and_allocations_cannot_be_changed_or_deleted_in_the_server(url: str, sql: Any) -> None:
    from fusebook.indices import parse_range

    with Ledger(url) as ledger:
        assert (ledger.kind, ledger.schema_version) == ("postgresql", SCHEMA_VERSION)
        done = ledger.begin(**unit(1))
        ledger.finish(done, "ok")
        open_id = ledger.begin(**unit(2, factory_mac="7c:df:a1:00:00:02"))
        ledger.allocate("r", "7c:df:a1:00:00:03", parse_range("1-9"))
    assert "cannot change" in _refused(sql, "UPDATE records SET outcome = 'failed' WHERE id = %s", (done,))
    assert "cannot change" in _refused(sql, "UPDATE records SET factory_mac = 'aa' WHERE id = %s", (open_id,))
    assert "cannot change" in _refused(sql, "UPDATE records SET recipe_files = '[{}]' WHERE id = %s", (open_id,))
    for statement in ("DELETE FROM records", "DELETE FROM unit_values", "UPDATE unit_values SET value = 'x'",
                      "DELETE FROM allocations", "UPDATE allocations SET unit_index = 5",
                      "TRUNCATE allocations", "TRUNCATE records CASCADE"):
        assert "append-only" in _refused(sql, statement), statement
    assert "duplicate key" in _refused(
        sql, "INSERT INTO allocations (recipe_name, unit_index, factory_mac, index_range, allocated_at, host, "
        "pid, fusebook_version) SELECT recipe_name, unit_index, 'other', index_range, allocated_at, host, pid, "
        "fusebook_version FROM allocations")
    sql.execute("UPDATE records SET outcome = 'failed', finished_at = 'now' WHERE id = %s", (open_id,))  # allowed


@pytest.mark.parametrize("damage", [
    "DROP TRIGGER records_no_delete ON records",
    "ALTER TABLE records DISABLE TRIGGER records_finish_once",
    "DROP TRIGGER allocations_no_truncate ON allocations",
    "DROP INDEX allocations_by_chip",
    "ALTER TABLE allocations DROP COLUMN index_range",
    "DELETE FROM meta",
])
def test_a_damaged_ledger_is_refused_when_opened(url: str, sql: Any, damage: str) -> None:
    Ledger(url).close()
    sql.execute(damage)
    with pytest.raises(LedgerError) as caught:
        Ledger(url)
    assert caught.value.exit_code == 2 and caught.value.hint
    assert "damaged" in caught.value.message or "schema version" in caught.value.message


def test_a_newer_ledger_and_a_database_of_other_tables_are_left_untouched(url: str, sql: Any) -> None:
    Ledger(url).close()
    sql.execute("UPDATE meta SET value = %s", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(LedgerError, match="written by a newer fusebook"):
        Ledger(url)
    for table in ("unit_values", "allocations", "records", "meta"):
        sql.execute(f"DROP TABLE {table} CASCADE")
    sql.execute("CREATE TABLE parts (id integer)")
    with pytest.raises(LedgerError, match="holds other tables") as caught:
        Ledger(url)
    assert caught.value.hint and "database of its own" in caught.value.hint
    tables = {r[0] for r in sql.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
    assert tables == {"parts"}


def test_a_version_2_ledger_is_lifted_to_this_version(url: str) -> None:
    db = PostgresDatabase(url, 5.0)
    db.transaction(lambda: migrate(db, 0, 2))
    db.close()
    with Ledger(url) as ledger:
        assert ledger.schema_version == SCHEMA_VERSION
        ledger.finish(ledger.begin(**unit(1)), "aborted", exit_code=130)
        assert [r.outcome for r in ledger.list()] == ["aborted"]


def test_an_unreachable_server_is_a_clear_error_that_never_shows_the_password(postgres: Any) -> None:
    from tests.postgres import _free_port

    url = f"postgresql://station:s3cret-pw@127.0.0.1:{_free_port()}/line"
    with pytest.raises(LedgerError) as caught:
        Ledger(url, busy_timeout_s=2)
    e = caught.value
    assert e.exit_code == 2 and "cannot connect" in e.message and e.hint and "reachable" in e.hint
    assert "s3cret-pw" not in e.message + e.hint and "station@127.0.0.1" in e.message
    assert redact_url(url + "?password=s3cret-pw&sslmode=disable") == (
        f"postgresql://station@127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/line?sslmode=disable")
    missing = postgres.url("no_such_database").replace("fusebook@", "fusebook:pw-9@")
    r = fusebook("ledger", "list", "--ledger", missing)
    assert r.code == 2 and "no_such_database" in r.err and "create the database" in r.err
    assert "pw-9" not in r.err + r.out and "Traceback" not in r.err


def test_the_command_line_reads_a_postgresql_ledger(url: str) -> None:
    from fusebook.indices import parse_range

    with Ledger(url) as ledger:
        ledger.finish(ledger.begin(**unit(4)), "ok")
        ledger.allocate("lockdown-and-mac", "7c:df:a1:00:00:09", parse_range("1-9"))
    records = fusebook("ledger", "list", "--ledger", url, "--format", "json")
    assert records.code == 0, records.err
    assert [r["index"] for r in records.json["records"]] == [4]
    allocations = fusebook("ledger", "list", "--allocations", "--ledger", url, "--format", "json")
    assert [a["index"] for a in allocations.json["allocations"]] == [1]
    csv = fusebook("ledger", "export", "--csv", "--ledger", url)
    assert csv.code == 0 and csv.out.count("\n") == 2


def test_reading_an_empty_database_leaves_it_empty(url: str, sql: Any) -> None:
    """`ledger list` (and the dashboard) on a database given by mistake creates no ledger in it."""
    r = fusebook("ledger", "list", "--ledger", url)
    assert r.code == 2 and "no ledger here (the database is empty)" in r.err, r.err
    assert "created by the first `apply`" in r.err and "Traceback" not in r.err
    with pytest.raises(LedgerError, match="no ledger here"):
        Ledger(url, create=False)
    assert not list(sql.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
    Ledger(url).close()  # a writer creates it, and then a reader opens it
    Ledger(url, create=False).close()
    checked = fusebook("ledger", "check", "--ledger", url, "--format", "json")
    assert checked.code == 0, checked.err
    assert checked.json["ok"] is True and checked.json["pages_checked"] is False  # never claimed
    assert "the server checks its own pages" in fusebook("ledger", "check", "--ledger", url).out
