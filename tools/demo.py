"""`make demo`: a real recipe against the virtual chip, through the real command line.

Shows what a station does: plan (the diff), burn with verification, a summary of the
result, and a second apply that burns nothing. State lives in demo-out/ (deleted first).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "demo-out"


def run(*args: str, expect: int = 0) -> None:
    cmd = [sys.executable, "-m", "fusebook", *args]
    print(f"\n$ fusebook {' '.join(args)}", flush=True)
    code = subprocess.call(cmd, cwd=ROOT)
    if code != expect:
        print(f"demo: expected exit {expect}, got {code}", file=sys.stderr)
        sys.exit(1)


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir()
    chip = ["--virt", "--chip", "esp32c3", "--efuse-file", str(OUT / "esp32c3.efuse")]
    recipe = "recipes/production-esp32c3.yaml"
    ledger = ["--ledger", str(OUT / "ledger.sqlite")]
    run("validate", recipe, "recipes/flash-encryption-esp32c3.yaml")
    run("plan", recipe, *chip, "--index", "7", "-o", str(OUT / "plan.json"))
    run("apply", recipe, *chip, "--index", "7", "--yes", *ledger)
    run("apply", "recipes/flash-encryption-esp32c3.yaml", *chip, "--yes", *ledger)
    run("summary", "CUSTOM_MAC", "DIS_USB_JTAG", "DIS_PAD_JTAG", "SECURE_VERSION",
        "SPI_BOOT_CRYPT_CNT", "KEY_PURPOSE_0", "BLOCK_KEY0", "BLOCK_USR_DATA", *chip)
    print("\nSecond apply of the same recipes: nothing left to burn.")
    run("apply", recipe, *chip, "--index", "7", "--yes", *ledger)
    run("apply", "recipes/flash-encryption-esp32c3.yaml", *chip, "--yes", *ledger)
    print("\nA different unit index on the finished chip is refused (exit 3): a MAC cannot change.")
    run("plan", recipe, *chip, "--index", "8", expect=3)
    run("ledger", "list", *ledger)
    print(f"\ndemo done; the virtual chip is {OUT / 'esp32c3.efuse'} (espefuse reads it too:"
          f" espefuse --virt --path-efuse-file {OUT / 'esp32c3.efuse'} --chip esp32c3 summary)")


if __name__ == "__main__":
    main()
