"""Stations allocating indices from one ledger at once: no index twice, every unit one index.

Real processes, released together: each asks for the indices of 20 units, and every unit
is asked for by two stations (a board moved from one fixture to another), in a different
order on each.
"""

from __future__ import annotations

import multiprocessing as mp
import random
from typing import Any

from fusebook.indices import parse_range
from fusebook.ledger import Ledger

STATIONS = 8
PER_STATION = 20
UNITS = STATIONS * PER_STATION // 2


def mac(n: int) -> str:
    return f"7c:df:a1:00:{n >> 8:02x}:{n & 0xff:02x}"


def station(target: str, n: int, barrier: Any, results: Any) -> None:
    """Allocate for units n*10 .. n*10+19 (mod UNITS), shuffled; report (unit, index) pairs."""
    units = [(n * PER_STATION // 2 + j) % UNITS for j in range(PER_STATION)]
    random.Random(n).shuffle(units)
    try:
        with Ledger(target) as ledger:
            barrier.wait(30)
            got = [(u, ledger.allocate("line", mac(u), parse_range(f"1-{UNITS + 50}")).index) for u in units]
        results.put(got)
    except Exception as e:  # reported to the test, which fails on it
        results.put(f"{type(e).__name__}: {e}")


def run_stations(target: str) -> list[list[tuple[int, int]]]:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(STATIONS)
    results = ctx.Queue()
    procs = [ctx.Process(target=station, args=(target, n, barrier, results)) for n in range(STATIONS)]
    for p in procs:
        p.start()
    reports = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    failures = [r for r in reports if isinstance(r, str)]
    assert not failures, failures[:3]
    return reports


def check_allocations(target: str, reports: list[list[tuple[int, int]]]) -> None:
    index_of: dict[int, int] = {}
    for report in reports:
        for u, index in report:
            assert index_of.setdefault(u, index) == index, f"unit {u} got {index_of[u]} and {index}"
    assert len(index_of) == UNITS
    owners = sorted(index_of.values())
    assert owners == list(range(1, UNITS + 1)), "an index went twice, or the lowest free was not taken"
    with Ledger(target) as ledger:
        held = {a.factory_mac: a.index for a in ledger.allocations(limit=None)}
    assert held == {mac(u): i for u, i in index_of.items()}


def test_stations_allocating_together_never_share_an_index(ledger_target: str) -> None:
    Ledger(ledger_target).close()
    check_allocations(ledger_target, run_stations(ledger_target))


def test_threads_sharing_one_ledger_allocate_and_record_safely(ledger_target: str) -> None:
    """A station's workers may share one Ledger: its calls are serialised on its connection."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.ledger.units import unit

    def work(u: int) -> int:
        index = ledger.allocate("line", mac(u), parse_range("1-100")).index
        rid = ledger.begin(**unit(index, factory_mac=mac(u), recipe_name="line"))
        ledger.finish(rid, "ok")
        return index

    with Ledger(ledger_target) as ledger, ThreadPoolExecutor(8) as pool:
        got = list(pool.map(work, range(40)))
        assert sorted(got) == list(range(1, 41))
        assert {a.state for a in ledger.allocations(limit=None)} == {"ok"}
