"""A station killed at any moment leaves a ledger that opens, is intact, and lost nothing it reported."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fusebook.ledger import Ledger
from tests.ledger.writer_child import after_token

ROOT = Path(__file__).resolve().parents[2]
RUNS = 10


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ledger.writer_child", *args],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _kill_at_random_moment(child: subprocess.Popen[str], rng: random.Random, at_least: int = 0) -> list[str]:
    """Kill while opening the ledger, or after a random number (at least `at_least`) of finished records."""
    assert child.stdout is not None
    lines: list[str] = []
    if not at_least and rng.random() < 0.3:
        time.sleep(rng.uniform(0.0, 0.4))  # somewhere in start-up, creation or the first records
    else:
        wanted = rng.randint(at_least, 25)
        while sum(line.startswith("F ") for line in lines) < wanted:
            line = child.stdout.readline()
            assert line, f"the writer stopped early: {child.stderr.read() if child.stderr else ''}"
            lines.append(line)
        time.sleep(rng.uniform(0.0, 0.02))  # land inside begin, finish or between them
    child.kill()
    rest, _ = child.communicate(timeout=30)
    assert child.returncode == -9
    return [line.strip() for line in lines + rest.splitlines(keepends=True) if line.endswith("\n")]


def _reported(lines: list[str], tag: str) -> set[int]:
    return {int(line.split()[1]) for line in lines if line.startswith(tag + " ")}


class _Store:
    """A plain look into the ledger's store, past fusebook: its integrity and raw rows."""

    def __init__(self, target: str) -> None:
        self.sqlite = not target.startswith("postgresql://")
        if self.sqlite:
            self.conn: Any = sqlite3.connect(target)
        else:
            import psycopg

            self.conn = psycopg.connect(target, autocommit=True)

    def intact(self) -> bool:
        if not self.sqlite:
            return True  # the server keeps its own pages; a killed client aborts its transaction
        return bool(self.conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)])

    def unit_values(self, record_id: int) -> dict[str, str]:
        mark = "?" if self.sqlite else "%s"
        return dict(self.conn.execute(f"SELECT field, value FROM unit_values WHERE record_id = {mark}",
                                      (record_id,)).fetchall())

    def close(self) -> None:
        self.conn.close()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_writer_never_tears_or_loses_a_record(ledger_target: str) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    path = ledger_target
    sqlite = not path.startswith("postgresql://")
    finished: set[int] = set()
    begun: set[int] = set()
    # Fewer on PostgreSQL: there the server rolls back a killed client, not a file on disk.
    for run in range(RUNS if sqlite else RUNS // 2):
        # the first run always finishes a record, so every seed tests finished records too
        lines = _kill_at_random_moment(_spawn(str(path), "loop", str(run)), rng, at_least=1 if run == 0 else 0)
        finished |= _reported(lines, "F")
        begun |= _reported(lines, "B")
        if sqlite and not Path(path).exists():
            continue  # killed before the ledger file was made
        with Ledger(path) as ledger:
            check = _Store(path)
            assert check.intact(), f"seed {seed}"
            records = {r.id: r for r in ledger.list(limit=None)}
            for record_id in begun:
                assert record_id in records, f"seed {seed}: begun record {record_id} lost"
            for record_id in finished:
                r = records[record_id]
                assert (r.outcome, r.exit_code, r.after_token) == ("ok", 0, after_token(record_id)), f"seed {seed}"
                assert r.finished_at is not None and r.finished_at >= r.started_at
            for r in records.values():
                # Every record is whole: its per-unit index rows were written with it.
                indexed = check.unit_values(r.id)
                assert indexed == {k: v.lower() for k, v in r.unique_values.items()}, f"seed {seed}"
                assert json.loads(r.plan_json or "null") is not None
                # The writer is dead: nothing may be left pretending to be in progress.
                assert r.outcome in ("ok", "interrupted"), f"seed {seed}: record {r.id} is {r.outcome}"
                if r.outcome == "interrupted":
                    assert r.id not in finished and r.finished_at is None and r.error
            check.close()
    assert finished, f"seed {seed}: no run finished a record, the test exercised nothing"


def test_two_stations_never_claim_the_same_unit_value(ledger_target: str) -> None:
    """Check-and-record is one transaction: racing stations split the values, never share one."""
    path = ledger_target
    Ledger(path).close()
    count = 40
    # Opposite orders: the stations meet in the middle, where both want the same values.
    children = [_spawn(str(path), "claim", mac, str(count), order)
                for mac, order in (("7c:df:a1:00:00:0a", "up"), ("7c:df:a1:00:00:0b", "down"))]
    for c in children:
        assert c.stdout is not None and c.stdout.readline() == "ready\n"
    for c in children:
        assert c.stdin is not None
        c.stdin.write("go\n")
        c.stdin.flush()
    outputs = [c.communicate(timeout=60) for c in children]
    assert [c.returncode for c in children] == [0, 0], [err for _, err in outputs]
    with Ledger(path) as ledger:
        records = ledger.list(limit=None)
    assert len(records) == count
    owners: dict[str, str] = {}
    for r in records:
        value = r.unique_values["CUSTOM_MAC"]
        assert value not in owners, f"{value} claimed by {owners.get(value)} and {r.factory_mac}"
        owners[value] = r.factory_mac
    refused = sum(out.count("D ") for out, _ in outputs)
    assert refused == count
