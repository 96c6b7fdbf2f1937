"""Station throughput: units/hour for N = 1, 2, 4, 8, 16 ports, and several stations on one ledger.

Each N runs a virtual fleet (`serve-virtual --count N --latency 2 --swap-after 1`, a
process of its own: every port answers 2 ms late, like a USB-serial bridge, and gets a
new blank board after each unit) and `fusebook station` over its ports, continuous, with
`--index auto` and an SQLite ledger. The wall time is read from the station's own event
stream: from the N-th unit ending ok (every port has warmed up, on average) to the
(UNITS_PER_PORT * N)-th, so process start-up and first-use costs are not counted. Scaling efficiency is units/hour at N over N times units/hour at
1, so 1.0 means each of N ports burns as fast as a lone one. Target: at least 0.8 at N = 16 on two cores.

Then several hosts, simulated: 3 station processes x 8 ports each on one PostgreSQL
ledger (started for the run, as the test suite does), 10 rounds of `--once` each, 240
units in all. It prints duplicate indices, duplicate unique values and unfinished records
found in the ledger afterwards: each must be 0. Without the PostgreSQL server programs
that part says so and is skipped.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COUNTS = (1, 2, 4, 8, 16)
UNITS_PER_PORT = 8
LATENCY_MS = "2"
TARGET = 0.8

RECIPE = """\
fusebook: 1
name: bench-line
chip: esp32c3
indices: "1-100000"
unique: [CUSTOM_MAC]
steps:
  - burn_custom_mac: "{{ '02:00:00:00:00:00' | mac_add(index) }}"
  - burn_efuse: {DIS_USB_JTAG: 1, DIS_PAD_JTAG: 1, SECURE_VERSION: 1}
ensure:
  - that: "efuses.DIS_USB_JTAG and efuses.DIS_PAD_JTAG"
"""


def fusebook(*args: str, **kw: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "fusebook", *args], cwd=ROOT, **kw)  # type: ignore[call-overload]


def start_fleet(count: int) -> tuple[subprocess.Popen, list[str]]:
    proc = fusebook("serve-virtual", "--chip", "esp32c3", "--count", str(count), "--latency", LATENCY_MS,
                    "--swap-after", "1", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    return proc, [proc.stdout.readline().strip() for _ in range(count)]


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _seconds(iso: str) -> float:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def wall_for(count: int, recipe: Path, folder: Path) -> tuple[float, int]:
    """Seconds for (UNITS_PER_PORT - 1) * count units on `count` ports after the first
    `count`, and the failures seen."""
    fleet, urls = start_fleet(count)
    ports = sum((["--port", u] for u in urls), [])
    station = fusebook("station", str(recipe), "--yes", "--ledger", str(folder / f"n{count}.sqlite"),
                       "--events", "-", "--poll", "0.02", *ports,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    want = UNITS_PER_PORT * count
    first = last = None
    ok = failed = 0
    buf = b""
    try:
        assert station.stdout is not None
        fd = station.stdout.fileno()
        deadline = time.monotonic() + 600
        while ok < want and time.monotonic() < deadline and station.poll() is None:
            if not select.select([fd], [], [], 0.5)[0]:
                continue
            buf += os.read(fd, 1 << 16)
            *lines, buf = buf.split(b"\n")
            for line in lines:
                e = json.loads(line)
                if e["state"] == "ok":
                    ok += 1
                    if ok == count:
                        first = _seconds(e["time"])
                    if ok == want:
                        last = _seconds(e["time"])
                elif e["state"] in ("failed", "stopped"):
                    failed += 1
    finally:
        stop(station)
        stop(fleet)
    if first is None or last is None:
        raise SystemExit(f"N={count}: the station did not finish {want} units ({ok} ok, {failed} failed)")
    return last - first, failed


def throughput() -> None:
    print(f"station throughput: {UNITS_PER_PORT} units per port, --latency {LATENCY_MS} ms, "
          f"{os.cpu_count()} CPU(s)")
    print(f"{'N':>3} {'units':>6} {'wall s':>8} {'units/hour':>11} {'efficiency':>11} {'failed':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        recipe = folder / "line.yaml"
        recipe.write_text(RECIPE)
        base = None
        eff = 0.0
        for n in COUNTS:
            wall, failed = wall_for(n, recipe, folder)
            units = UNITS_PER_PORT * n
            rate = (units - n) / wall
            base = base or rate
            eff = rate / (n * base)
            print(f"{n:>3} {units - n:>6} {wall:>8.2f} {rate * 3600:>11.0f} {eff:>11.2f} {failed:>7}", flush=True)
    verdict = "meets" if eff >= TARGET else "MISSES"
    print(f"scaling efficiency at N={COUNTS[-1]}: {eff:.2f} ({verdict} the target {TARGET})")


def several_hosts() -> None:
    from tests import postgres as pg

    stations, ports_each, rounds = 3, 8, 10
    total = stations * ports_each * rounds
    print(f"\nseveral hosts: {stations} station processes x {ports_each} ports x {rounds} rounds of --once "
          f"= {total} units on one PostgreSQL ledger")
    reason = pg.skip_reason()
    if reason is not None:
        print(f"  skipped: {reason}")
        return
    bindir = pg.find_bindir()
    assert bindir is not None
    server = pg.PostgresServer(bindir)
    server.start()
    fleets: list[subprocess.Popen] = []
    try:
        url = server.create_database()
        with tempfile.TemporaryDirectory() as tmp:
            recipe = Path(tmp) / "line.yaml"
            recipe.write_text(RECIPE)
            lines = []
            for _ in range(stations):
                fleet, urls = start_fleet(ports_each)
                fleets.append(fleet)
                lines.append(urls)
            started = time.monotonic()
            codes: Counter[int] = Counter()
            for _ in range(rounds):
                procs = [fusebook("station", str(recipe), "--yes", "--once", "--ledger", url, "--format", "json",
                                  *sum((["--port", u] for u in urls), []),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for urls in lines]
                for p in procs:
                    codes[p.wait(timeout=600)] += 1
            wall = time.monotonic() - started
        from fusebook.ledger.store import Ledger

        with Ledger(url) as ledger:
            records = ledger.list(limit=None)
        ok = [r for r in records if r.outcome == "ok"]
        dup_index = sum(n - 1 for n in Counter(r.index for r in ok).values() if n > 1)
        values = Counter(v for r in ok for v in (f"{k}={x}" for k, x in r.unique_values.items()))
        dup_values = sum(n - 1 for n in values.values() if n > 1)
        unfinished = sum(1 for r in records if not r.finished)
        print(f"  {len(ok)} units ok of {len(records)} records in {wall:.1f} s "
              f"({len(ok) * 3600 / wall:.0f} units/hour, station exits {dict(codes)})")
        print(f"  duplicate indices: {dup_index}")
        print(f"  duplicate unique values: {dup_values}")
        print(f"  unfinished records: {unfinished}")
        if dup_index or dup_values or unfinished or len(ok) != total:
            raise SystemExit("several hosts: the ledger does not hold exactly one record per unit")
    finally:
        for f in fleets:
            stop(f)
        server.stop()


if __name__ == "__main__":
    throughput()
    if "--no-hosts" not in sys.argv:
        several_hosts()
