"""Production-line behaviour: stale saved plans, per-unit uniqueness across chips in the
ledger, and a ledger that survives an apply killed at any moment."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.snapshot.formats import to_efuse_file

from .conftest import ROOT, fusebook

RECIPE = """\
fusebook: 1
name: unit
chip: esp32c3
inputs:
  macs: {file: macs.json}
unique: [CUSTOM_MAC]
steps:
  - burn_custom_mac: "{{ inputs.macs[index|string] }}"
  - burn_block_data: {block: BLOCK_SYS_DATA2, data: "{{ '%064x' % index }}"}
  - burn_efuse: {DIS_USB_JTAG: 1, SECURE_VERSION: 3}
  - write_protect_efuse: [SECURE_VERSION]
"""


def setup(tmp_path: Path) -> Path:
    macs = {str(i): f"02:00:00:00:00:{i:02x}" for i in range(1, 50)}
    (tmp_path / "macs.json").write_text(json.dumps(macs))
    (tmp_path / "r.yaml").write_text(RECIPE)
    return tmp_path / "r.yaml"


def chip_with_factory_mac(path: Path, last: int) -> Path:
    """A virtual ESP32-C3 whose factory MAC is 24:0a:c4:00:00:<last>."""
    chip = load_chip("esp32c3")
    f = chip.field("MAC")
    blocks = list(EfuseImage.blank(chip).blocks)
    blocks[f.block] |= f.spread(int.from_bytes(bytes([0x24, 0x0A, 0xC4, 0, 0, last]), "big"))
    to_efuse_file(EfuseImage(chip, tuple(blocks)), path)
    return path


def planned(tmp_path: Path) -> tuple[Path, Path, list, Path]:
    """A recipe, a chip, its connection options and a plan saved for index 3."""
    recipe = setup(tmp_path)
    chip = chip_with_factory_mac(tmp_path / "c.efuse", 1)
    conn = ["--virt", "--chip", "esp32c3", "--efuse-file", chip]
    plan = tmp_path / "plan.json"
    assert fusebook("plan", recipe, *conn, "--index", "3", "-o", plan).code == 0
    return recipe, chip, conn, plan


def test_stale_plan_is_refused_and_a_fresh_one_applies(tmp_path: Path) -> None:
    recipe, chip, conn, plan = planned(tmp_path)
    assert "02:00:00:00:00:03" in plan.read_text()
    # the chip changes after the plan was made
    other = tmp_path / "other.yaml"
    other.write_text("fusebook: 1\nname: o\nchip: esp32c3\nsteps:\n  - burn_efuse: {DIS_PAD_JTAG: 1}\n")
    assert fusebook("apply", other, *conn, "--yes", "--no-ledger").code == 0
    before = chip.read_bytes()
    r = fusebook("apply", plan, *conn, "--yes", "--no-ledger")
    assert r.code == 3 and "changed since the plan" in r.err and "DIS_PAD_JTAG" in r.err
    assert chip.read_bytes() == before
    assert fusebook("plan", recipe, *conn, "--index", "3", "-o", plan).code == 0
    r = fusebook("apply", plan, *conn, "--yes", "--no-ledger", "--format", "json")
    assert r.code == 0, r.err
    assert r.json["outcome"] == "burned"


def test_edited_plan_is_refused(tmp_path: Path) -> None:
    _, _, conn, plan = planned(tmp_path)
    body = json.loads(plan.read_text())
    body["writes"][0]["words"][0] = "0xffffffff"
    plan.write_text(json.dumps(body))
    r = fusebook("apply", plan, *conn, "--yes", "--no-ledger")
    assert r.code == 2 and "edited" in r.err


def test_unique_value_on_another_chip_is_refused(tmp_path: Path) -> None:
    recipe = setup(tmp_path)
    ledger = tmp_path / "ledger.sqlite"
    a = chip_with_factory_mac(tmp_path / "a.efuse", 1)
    b = chip_with_factory_mac(tmp_path / "b.efuse", 2)
    ok = fusebook("apply", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", a, "--index", "5",
                  "--yes", "--ledger", ledger)
    assert ok.code == 0, ok.err
    before = b.read_bytes()
    r = fusebook("apply", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", b, "--index", "5",
                 "--yes", "--ledger", ledger)
    assert r.code == 3 and "24:0a:c4:00:00:01" in r.err
    assert b.read_bytes() == before
    # the same chip again is fine (re-apply), and a fresh index on chip b too
    assert fusebook("apply", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", a, "--index", "5",
                    "--yes", "--ledger", ledger).code == 0
    assert fusebook("apply", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", b, "--index", "6",
                    "--yes", "--ledger", ledger).code == 0
    outcomes = [r["outcome"] for r in fusebook("ledger", "list", "--ledger", ledger, "--format", "json").json["records"]]
    assert sorted(outcomes) == ["nothing-to-do", "ok", "ok", "refused"]


def test_killed_apply_leaves_a_ledger_that_matches_the_chip(tmp_path: Path) -> None:
    recipe = setup(tmp_path)
    rng = random.Random(1234)
    for n in range(6):
        ledger = tmp_path / f"l{n}.sqlite"
        chip = chip_with_factory_mac(tmp_path / f"k{n}.efuse", 10 + n)
        proc = subprocess.Popen(
            [sys.executable, "-m", "fusebook", "apply", str(recipe), "--virt", "--chip", "esp32c3",
             "--efuse-file", str(chip), "--index", str(n + 1), "--yes", "--ledger", str(ledger)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.2, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        r = fusebook("summary", "--snapshot", chip, "--chip", "esp32c3", "--format", "json")
        assert r.code == 0, r.err  # the chip file is never torn (atomic replace)
        if not ledger.exists():
            continue
        db = sqlite3.connect(ledger)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        records = fusebook("ledger", "list", "--ledger", ledger, "--format", "json").json["records"]
        values = {f["name"]: f["value"] for f in r.json["fields"]}
        for rec in records:
            if rec["outcome"] == "ok":  # reported done: the chip must hold it all
                assert values["CUSTOM_MAC"] == f"02:00:00:00:00:{n + 1:02x}"
                assert values["SECURE_VERSION"] == 3
            else:
                assert rec["outcome"] in ("interrupted", "in-progress")
        # and the unit finishes on a re-run, burning nothing twice
        again = fusebook("apply", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", chip,
                         "--index", str(n + 1), "--yes", "--ledger", ledger)
        assert again.code == 0, again.err
    assert os.path.exists(tmp_path)
