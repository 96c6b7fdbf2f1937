"""`plan --format efsw` and `snapshot --format efsr` through the command line, against
espefuse's own command line (`--show-token`, `dump --format token`) on the same file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..api_burn import same_start
from .conftest import ROOT, fusebook

RECIPE = """\
fusebook: 1
name: jtag-off
chip: esp32c3
steps:
  - burn_efuse: {DIS_USB_JTAG: 1, SOFT_DIS_JTAG: 7}
"""

KEY = bytes(range(7, 39))
KEYED = RECIPE + f"  - burn_key: {{block: BLOCK_KEY1, purpose: HMAC_UP, data: '{KEY.hex()}'}}\n"


def espefuse(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "espefuse", "--chip", "esp32c3", *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _token(text: str, kind: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(kind + ":"))


def test_plan_efsw_and_snapshot_efsr_equal_espefuse(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours.bin", tmp_path / "theirs.bin"
    same_start("esp32c3", ours, theirs)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE)

    r = fusebook("plan", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", ours, "--format", "efsw")
    assert r.code == 0, r.err
    shown = espefuse("--virt", "--path-efuse-file", str(theirs), "--do-not-confirm",
                     "burn-efuse", "DIS_USB_JTAG", "1", "SOFT_DIS_JTAG", "7", "--show-token")
    assert r.out.strip() == _token(shown, "EFSW")

    r = fusebook("snapshot", "--virt", "--chip", "esp32c3", "--efuse-file", theirs, "--format", "efsr")
    assert r.code == 0, r.err
    dumped = espefuse("--virt", "--path-efuse-file", str(theirs), "dump", "--format", "token")
    assert r.out.strip() == _token(dumped, "EFSR")


def test_efsw_with_key_material_is_refused_unless_allowed(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(KEYED)
    args = ("plan", recipe, "--snapshot", "blank", "--chip", "esp32c3", "--format", "efsw")
    r = fusebook(*args)
    assert r.code == 2
    assert "EFSW" not in r.out and "key material" in r.err and "--allow-secrets" in r.err

    r = fusebook(*args, "--allow-secrets")
    assert r.code == 0, r.err
    assert r.out.startswith("EFSW:esp32c3:") and "warning" in r.err and "key material" in r.err
    # the key is in the token, in clear, where the firmware needs it
    from fusebook.snapshot.formats import from_token

    staged = from_token(r.out.strip())
    assert staged.block_bytes(staged.chip.block("BLOCK_KEY1").id)[:32] == KEY
