"""Batch dry-run throughput: `fusebook check` over 5,000 units vs espefuse's API.

The workload is a realistic ESP32-C3 production recipe: a custom MAC from JSON, 16 bytes
of per-unit serial from CSV into a data block, three BLOCK0 fields and an `ensure`.
fusebook is timed as a whole `fusebook check` process (start-up included); espefuse is
timed doing the same burn per chip through its Python API in virtual batch mode.
Prints both figures and the per-chip ratio. Targets: >= 1,000 chips/s and >= 250x.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIPE = """\
fusebook: 1
name: bench-esp32c3
chip: esp32c3
inputs:
  macs: {file: macs.json}
  serials: {file: serials.csv, key: index}
unique: [CUSTOM_MAC]
steps:
  - burn_custom_mac: "{{ inputs.macs[index|string] }}"
  - name: serial
    burn_block_data: {block: BLOCK_SYS_DATA2, data: "{{ inputs.serials[index|string].serial }}"}
  - burn_efuse: {DIS_USB_JTAG: 1, SOFT_DIS_JTAG: 7, SECURE_VERSION: 2}
ensure:
  - that: "efuses.CUSTOM_MAC == inputs.macs[index|string] and efuses.DIS_USB_JTAG"
"""


def make_batch(d: Path, n: int) -> Path:
    macs = {str(i): "02:fb:" + ":".join(f"{b:02x}" for b in i.to_bytes(4, "big"))
            for i in range(1, n + 1)}
    (d / "macs.json").write_text(json.dumps(macs))
    with open(d / "serials.csv", "w") as f:
        f.write("index,serial\n")
        for i in range(1, n + 1):
            f.write(f"{i},{0xABCD0000_00000000_00000000_00000000 + i:032x}\n")
    (d / "recipe.yaml").write_text(RECIPE)
    return d / "recipe.yaml"


def fusebook_rate(recipe: Path, n: int) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "fusebook", "check", str(recipe), "--indices", f"1-{n}",
         "--format", "json"],
        capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"fusebook check failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    body = json.loads(proc.stdout)
    assert body["planned"] == n, body
    return n / elapsed


def espefuse_rate(recipe_dir: Path, n: int) -> float:
    from espefuse import init_commands

    macs = json.loads((recipe_dir / "macs.json").read_text())
    start = time.perf_counter()
    for i in range(1, n + 1):
        serial = bytes.fromhex(f"{0xABCD0000_00000000_00000000_00000000 + i:032x}")
        with contextlib.redirect_stdout(io.StringIO()), init_commands(
            chip="esp32c3", virt=True, do_not_confirm=True
        ) as e:
            e.use_batch_mode()
            e.burn_custom_mac(bytes.fromhex(macs[str(i)].replace(":", "")))
            e.burn_block_data(["BLOCK_SYS_DATA2"], [io.BytesIO(serial + bytes(16))])
            e.burn_efuse({"DIS_USB_JTAG": "1", "SOFT_DIS_JTAG": "7", "SECURE_VERSION": "2"})
            e.burn_all()
            assert e.efuses["DIS_USB_JTAG"].get()
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--units", type=int, default=5000)
    ap.add_argument("--espefuse-units", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        recipe = make_batch(d, args.units)
        ours = fusebook_rate(recipe, args.units)
        theirs = espefuse_rate(d, args.espefuse_units)
    print(f"fusebook check: {args.units} units, {ours:,.0f} chips/s (whole process)")
    print(f"espefuse API (virtual, batch): {theirs:,.2f} chips/s over {args.espefuse_units} units")
    print(f"ratio per chip: {ours / theirs:,.0f}x (targets: >= 1,000 chips/s, >= 250x)")


if __name__ == "__main__":
    main()
