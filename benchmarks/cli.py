"""Start-up: one `fusebook apply --virt` of a two-field recipe against espefuse 5.6's same burn.

Both tools burn DIS_USB_JTAG = 1 and SOFT_DIS_JTAG = 7 into a blank in-memory virtual
ESP32-C3, each as a fresh process, the way a CI job or a shell loop runs them. They run in
turn (fusebook, espefuse, fusebook, ...) so a machine whose speed drifts slows both alike;
each run's CPU time is the operating system's accounting of the finished child (user +
system), its wall time a monotonic clock around it. Printed: the median wall and CPU time of
each tool and the ratios. fusebook's ledger is one file kept across the runs, as on a
station. Targets: fusebook under 0.2 s wall and
under espefuse's CPU time.

    python benchmarks/cli.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIPE = """\
fusebook: 1
name: jtag-off
chip: esp32c3
steps:
  - burn_efuse: {DIS_USB_JTAG: 1, SOFT_DIS_JTAG: 7}
"""

WALL_TARGET_S = 0.2


def _espefuse() -> list[str] | None:
    beside = Path(sys.executable).with_name("espefuse")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("espefuse")
    return [found] if found else None


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run of `cmd`; exits if the run fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each tool (default 15)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs of each tool first")
    args = parser.parse_args(argv)
    espefuse = _espefuse()
    if espefuse is None:
        print("espefuse is not installed (pip install esptool==5.6.0): nothing to compare with")
        return 1
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        recipe = Path(tmp) / "jtag-off.yaml"
        recipe.write_text(RECIPE)
        tools = {
            "fusebook": [sys.executable, "-m", "fusebook", "apply", str(recipe), "--virt", "--chip",
                         "esp32c3", "--yes", "--ledger", str(Path(tmp) / "ledger.sqlite")],
            "espefuse": [*espefuse, "--virt", "--chip", "esp32c3", "--do-not-confirm",
                         "burn-efuse", "DIS_USB_JTAG", "1", "SOFT_DIS_JTAG", "7"],
        }
        for _ in range(args.warmup):
            for cmd in tools.values():
                _run(cmd, env)
        walls: dict[str, list[float]] = {name: [] for name in tools}
        cpus: dict[str, list[float]] = {name: [] for name in tools}
        for _ in range(args.runs):
            for name, cmd in tools.items():
                wall, cpu = _run(cmd, env)
                walls[name].append(wall)
                cpus[name].append(cpu)
    wall = {name: statistics.median(v) for name, v in walls.items()}
    cpu = {name: statistics.median(v) for name, v in cpus.items()}
    print(f"one-shot burn of 2 fields on a virtual ESP32-C3, median of {args.runs} runs each")
    print(f"{'':10} {'wall s':>8} {'cpu s':>8}")
    for name in tools:
        print(f"{name:10} {wall[name]:8.3f} {cpu[name]:8.3f}")
    print(f"{'ratio':10} {wall['fusebook'] / wall['espefuse']:8.2f} {cpu['fusebook'] / cpu['espefuse']:8.2f}"
          "   (fusebook / espefuse)")
    ok_wall = wall["fusebook"] < WALL_TARGET_S
    ok_cpu = cpu["fusebook"] < cpu["espefuse"]
    print(f"targets: wall under {WALL_TARGET_S} s {'met' if ok_wall else 'MISSED'}, "
          f"less CPU than espefuse {'met' if ok_cpu else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
