"""`make demo-station`: a station burning 8 virtual units at once, through the real command line.

A virtual fleet (`serve-virtual --count 8`, every port answering 2 ms late like a
USB-serial bridge) stands in for eight fixtures; `fusebook station --once` burns the
production recipe on all of them, each unit with the index the ledger allocates, and
prints the summary. State lives in demo-out/station/ (deleted first).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-out" / "station"
UNITS = 8


def fusebook(*args: str) -> list[str]:
    return [sys.executable, "-m", "fusebook", *args]


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    fleet_args = ["serve-virtual", "--chip", "esp32c3", "--count", str(UNITS), "--latency", "2",
                  "--efuse-dir", str(OUT / "boards")]
    print(f"$ fusebook {' '.join(fleet_args)} > {OUT / 'ports.txt'}", flush=True)
    fleet = subprocess.Popen(fusebook(*fleet_args), cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert fleet.stdout is not None
        urls = [fleet.stdout.readline().strip() for _ in range(UNITS)]
        (OUT / "ports.txt").write_text("".join(u + "\n" for u in urls))
        station_args = ["station", "recipes/production-esp32c3.yaml", "--ports-from", str(OUT / "ports.txt"),
                        "--once", "--yes", "--index", "auto", "--indices", "1-1000",
                        "--ledger", str(OUT / "ledger.sqlite"), "--events", str(OUT / "events.jsonl")]
        print(f"\n$ fusebook {' '.join(station_args)}", flush=True)
        code = subprocess.call(fusebook(*station_args), cwd=ROOT)
        print(f"\n$ fusebook ledger list --allocations --ledger {OUT / 'ledger.sqlite'}", flush=True)
        subprocess.call(fusebook("ledger", "list", "--allocations", "--ledger", str(OUT / "ledger.sqlite")),
                        cwd=ROOT)
        print(f"\nevents (JSON Lines, one per state change of a unit): {OUT / 'events.jsonl'}")
    finally:
        fleet.send_signal(signal.SIGTERM)
        fleet.wait(timeout=30)
    if code != 0:
        print(f"demo-station: the station exited {code}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
