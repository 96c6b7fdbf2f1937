"""A damaged ledger is refused when it is opened (LedgerError, exit 2), before any burn.

Every kind of damage tried here must either be refused at open or be detected when the
damaged part is read; none may escape as a raw SQLite or JSON exception.
"""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from fusebook.ledger import Ledger, LedgerError
from tests.ledger.units import unit

PAGE = 4096


def _ledger(path: Path, records: int = 40) -> None:
    with Ledger(path) as ledger:
        for i in range(records):
            rid = ledger.begin(**unit(i + 1, factory_mac=f"7c:df:a1:00:00:{i:02x}"))
            ledger.finish(rid, "ok", after_token=f"EFSR:after-{rid}")
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _truncate(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def _overwrite_pages(seed: int) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        rng = random.Random(seed)
        data = bytearray(path.read_bytes())
        for page in range(1, len(data) // PAGE):
            start = page * PAGE + rng.randrange(0, PAGE - 64)
            data[start:start + 64] = rng.randbytes(64)
        path.write_bytes(bytes(data))
    return damage


def _sql(*statements: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        db = sqlite3.connect(path, isolation_level=None)
        for s in statements:
            db.execute(s)
        db.close()
    return damage


def _index_mismatch(path: Path) -> None:
    """A per-unit value changed in the table's pages but not in its index (a flipped byte)."""
    data = bytearray(path.read_bytes())
    needle = b"02:00:00:00:00:05"
    at = data.find(needle)
    assert at > 0
    data[at + len(needle) - 1] = ord("9")
    path.write_bytes(bytes(data))


DAMAGE = {
    "truncated": _truncate,
    "pages overwritten (1)": _overwrite_pages(1),
    "pages overwritten (2)": _overwrite_pages(2),
    "pages overwritten (3)": _overwrite_pages(3),
    "header overwritten": lambda p: p.write_bytes(b"\0" * 100 + p.read_bytes()[100:]),
    "table dropped": _sql("PRAGMA writable_schema = ON",
                          "DELETE FROM sqlite_master WHERE name = 'unit_values'"),
    "trigger dropped": _sql("DROP TRIGGER records_no_delete"),
    "allocation trigger dropped": _sql("DROP TRIGGER allocations_no_update"),
    "allocation index dropped": _sql("DROP INDEX allocations_by_index"),
    "column missing": _sql("PRAGMA writable_schema = ON",
                           "UPDATE sqlite_master SET sql = replace(sql, 'key_fingerprints TEXT NOT NULL,', '') "
                           "WHERE name = 'records'"),
    "wrong application_id": _sql("PRAGMA application_id = 1234"),
    "no schema version": _sql("DELETE FROM meta"),
    "unit value changed": _index_mismatch,
    "emptied to zero bytes of a page": lambda p: p.write_bytes(bytes(PAGE)),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_a_damaged_ledger_is_refused_when_opened(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "ledger.sqlite"
    _ledger(path)
    DAMAGE[kind](path)
    with pytest.raises(LedgerError) as caught:
        with Ledger(path) as ledger:
            ledger.list(None)
            ledger.key_fingerprint("7c:df:a1:00:00:01", "BLOCK_KEY0")
    assert caught.value.exit_code == 2
    assert "ledger" in caught.value.message and caught.value.hint


def test_a_ledger_path_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero"), Path("/dev/null")):
        with pytest.raises(LedgerError, match="not a regular file"):
            Ledger(path)


def _set_checked_at(path: Path, value: str) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("UPDATE meta SET value = ? WHERE key = 'pages_checked_at'", (value,))
    db.close()


def test_a_large_ledger_reads_every_page_once_an_hour_and_on_ledger_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Damage no statement reads (a per-unit value out of step with its index) is found by
    the full check: every opening of a small ledger, hourly for a large one, and always
    with check_pages=True. Here every ledger counts as large."""
    from datetime import datetime, timedelta, timezone

    from fusebook.ledger import store
    from tests.e2e.conftest import fusebook

    monkeypatch.setattr(store, "ALWAYS_CHECK_BYTES", 0)
    path = tmp_path / "ledger.sqlite"
    _ledger(path)
    with Ledger(path) as ledger:
        created = ledger.pages_checked_at
    assert created is not None
    _index_mismatch(path)
    with Ledger(path) as ledger:  # checked within the hour: not read again
        assert ledger.pages_checked_at == created
    with pytest.raises(LedgerError, match="is damaged"):
        Ledger(path, check_pages=True)
    r = fusebook("ledger", "check", "--ledger", str(path))  # a child process: its own size rule
    assert r.code == 2 and "is damaged" in r.err and "Traceback" not in r.err
    import shutil

    copy = tmp_path / "copied.sqlite"  # a copy carries the stamp, but it is another file
    shutil.copy(path, copy)
    with pytest.raises(LedgerError, match="is damaged"):
        Ledger(copy)
    now = datetime.now(timezone.utc)
    for stamp in [(now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),  # an hour gone
                  (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),  # a clock set back
                  "not a time"]:
        _set_checked_at(path, stamp)
        with pytest.raises(LedgerError, match="is damaged"):
            Ledger(path)


def test_a_sound_check_is_recorded_and_ledger_check_says_so(tmp_path: Path) -> None:
    from tests.e2e.conftest import fusebook

    path = tmp_path / "ledger.sqlite"
    _ledger(path, records=3)
    Ledger(path).close()
    db = sqlite3.connect(path)  # a small ledger is read in full each time: opening it writes nothing
    assert db.execute("SELECT count(*) FROM meta WHERE key LIKE 'pages_checked%'").fetchone() == (0,)
    db.close()
    r = fusebook("ledger", "check", "--ledger", str(path), "--format", "json")
    assert r.code == 0, r.err
    assert r.json["ok"] is True and r.json["pages_checked"] is True and r.json["pages_checked_at"] > "2026"
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key = 'pages_checked_at'").fetchone() == (
        r.json["pages_checked_at"],)
    db.close()
    text = fusebook("ledger", "check", "--ledger", str(path))
    assert text.code == 0 and "sound (every page read, schema version" in text.out
    missing = fusebook("ledger", "check", "--ledger", str(tmp_path / "none.sqlite"))
    assert missing.code == 2 and "no ledger here" in missing.err
    assert not (tmp_path / "none.sqlite").exists()
