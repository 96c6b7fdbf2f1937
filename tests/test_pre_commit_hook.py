"""The pre-commit hook runs `fusebook validate` on the files it is given, as pre-commit does."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]


def test_the_hook_validates_recipes_and_fails_on_a_bad_one(tmp_path: Path) -> None:
    hooks = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "fusebook-validate")
    assert re.search(hook["files"], "recipes/custom-mac.yaml")
    assert re.search(hook["exclude"], "recipes/custom-mac.test.yaml")
    argv = shlex.split(hook["entry"])
    assert argv[0] == "fusebook"
    run = [sys.executable, "-m", "fusebook", *argv[1:]]
    good = subprocess.run([*run, str(ROOT / "recipes" / "usb-jtag-lockdown.yaml")], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("fusebook: 1\nname: bad\nchip: esp32c3\nsteps:\n  - burn_efuse: {NO_SUCH_FIELD: 1}\n")
    r = subprocess.run([*run, str(bad)], capture_output=True, text=True)
    assert r.returncode == 2 and "bad.yaml:5" in r.stderr
