"""Stations creating one new ledger at the same moment: every record is kept.

Real processes (forked, released together by a barrier) open a ledger that does not
exist yet and record one unit each; creation and migration must serialise, so no station
fails with "database is locked" and no record is lost.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

import pytest

from fusebook.ledger import Ledger
from tests.ledger.units import unit

STATIONS = 8
ROUNDS = 20


def _station(path: str, n: int, barrier: Any, results: Any) -> None:
    barrier.wait(30)
    try:
        with Ledger(path) as ledger:
            rid = ledger.begin(**unit(n + 1, factory_mac=f"7c:df:a1:00:00:{n:02x}"))
            ledger.finish(rid, "ok", after_token=f"EFSR:after-{rid}")
        results.put("ok")
    except Exception as e:  # reported to the test, which fails on it
        results.put(f"{type(e).__name__}: {e}")


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_stations_creating_a_new_ledger_together_keep_every_record(tmp_path: Path, store: str,
                                                                   request: Any) -> None:
    ctx = mp.get_context("fork")
    failures: list[str] = []
    server = request.getfixturevalue("postgres") if store == "postgresql" else None
    for r in range(ROUNDS if server is None else ROUNDS // 4):
        if server is None:
            (tmp_path / f"round-{r}").mkdir()
            path = str(tmp_path / f"round-{r}" / "ledger.sqlite")
        else:
            path = server.create_ledger()  # an empty schema: the stations create the tables together
        barrier = ctx.Barrier(STATIONS)
        results = ctx.Queue()
        procs = [ctx.Process(target=_station, args=(str(path), n, barrier, results)) for n in range(STATIONS)]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(30)
            assert p.exitcode == 0
        failures += [f"round {r}: {o}" for o in outcomes if o != "ok"]
        with Ledger(path) as ledger:
            count = len(ledger.list(limit=None))
        if count != STATIONS:
            failures.append(f"round {r}: {count} records of {STATIONS}")
    assert not failures, failures[:5]
