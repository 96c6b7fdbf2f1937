"""Refusals and bad input through the command line: the right exit code, a located
message, no traceback, and the chip file byte-identical."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import fusebook

HEAD = "fusebook: 1\nname: t\nchip: esp32c3\n"


def prepared(tmp_path: Path, steps: str) -> Path:
    """A chip file that already holds what `steps` burn."""
    f = tmp_path / "chip.efuse"
    r = tmp_path / "prep.yaml"
    r.write_text(HEAD + "steps:\n" + steps)
    assert fusebook("apply", r, "--virt", "--chip", "esp32c3", "--efuse-file", f, "--yes",
                    "--no-ledger").code == 0
    return f


def attempt(tmp_path: Path, chip_file: Path, text: str, *extra: str):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    before = chip_file.read_bytes() if chip_file.exists() else None
    r = fusebook("apply", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", chip_file,
                 "--yes", "--no-ledger", *extra)
    after = chip_file.read_bytes() if chip_file.exists() else None
    assert before == after or (before is None and after == bytes(len(after or b""))), "chip changed"
    assert "Traceback" not in r.err
    return r


PLAN_REFUSALS = [
    ("one-to-zero", "  - burn_efuse: {SOFT_DIS_JTAG: 5}\n", "  - burn_efuse: {SOFT_DIS_JTAG: 2}\n",
     "cannot go from 1 to 0"),
    ("rs-reprogram", "  - burn_block_data: {block: BLOCK3, data: '01'}\n",
     "  - burn_block_data: {block: BLOCK3, offset: 8, data: '01'}\n", "Reed-Solomon"),
    ("write-protected", "  - write_protect_efuse: [SOFT_DIS_JTAG]\n",
     "  - burn_efuse: {SOFT_DIS_JTAG: 1}\n", "write-protected"),
    ("conflict", "  - burn_efuse: {SECURE_VERSION: 1}\n",
     "  - burn_efuse: {DIS_USB_JTAG: 1}\n  - burn_efuse: {DIS_USB_JTAG: 1, SOFT_DIS_JTAG: 1}\n"
     "  - burn_efuse: {SOFT_DIS_JTAG: 2}\n", "different values"),
]


@pytest.mark.parametrize("name,prep,steps,message", PLAN_REFUSALS, ids=[p[0] for p in PLAN_REFUSALS])
def test_plan_refusals_exit_3(tmp_path: Path, name: str, prep: str, steps: str, message: str) -> None:
    chip = prepared(tmp_path, prep)
    r = attempt(tmp_path, chip, HEAD + "steps:\n" + steps)
    assert r.code == 3, r.err
    assert message in r.err
    assert "recipe.yaml:" in r.err


def test_failing_require_and_ensure_exit_3(tmp_path: Path) -> None:
    chip = prepared(tmp_path, "  - burn_efuse: {SECURE_VERSION: 1}\n")
    r = attempt(tmp_path, chip, HEAD + "require:\n  - that: 'efuses.SECURE_VERSION == 0'\n"
                "    message: unit already versioned\nsteps:\n  - burn_efuse: {DIS_USB_JTAG: 1}\n")
    assert r.code == 3 and "unit already versioned" in r.err and "recipe.yaml:" in r.err
    r = attempt(tmp_path, chip, HEAD + "steps:\n  - burn_efuse: {DIS_USB_JTAG: 1}\n"
                "ensure:\n  - that: 'efuses.DIS_PAD_JTAG'\n")
    assert r.code == 3 and "ensure" in r.err


BAD_INPUT = [
    ("malformed-yaml", HEAD + "steps:\n  - burn_efuse: {DIS_USB_JTAG: 1\n", None),
    ("unknown-step", HEAD + "steps:\n  - burn_efuses: {DIS_USB_JTAG: 1}\n", "burn_efuse"),
    ("unknown-field", HEAD + "steps:\n  - burn_efuse: {DIS_USB_JTAGG: 1}\n", "DIS_USB_JTAG"),
    ("too-wide", HEAD + "steps:\n  - burn_efuse: {SOFT_DIS_JTAG: 9}\n", "does not fit"),
    ("template-syntax", HEAD + "steps:\n  - burn_efuse: {SECURE_VERSION: '{{ 1 + }}'}\n", None),
    ("sandbox-mro", HEAD + "steps:\n  - burn_efuse: {SECURE_VERSION: \"{{ ''.__class__.__mro__ }}\"}\n", None),
    ("sandbox-globals", HEAD + "steps:\n  - burn_efuse: {SECURE_VERSION: '{{ cycler.__init__.__globals__ }}'}\n", None),
    ("include-escape", HEAD + "steps:\n  - include: ../../etc/passwd\n", None),
    ("include-absolute", HEAD + "steps:\n  - include: /etc/passwd\n", None),
]


@pytest.mark.parametrize("name,text,hint", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_exit_2_with_location(tmp_path: Path, name: str, text: str, hint: str | None) -> None:
    r = attempt(tmp_path, tmp_path / "chip.efuse", text)
    assert r.code == 2, (r.code, r.err)
    assert "recipe.yaml:" in r.err
    line = r.err.split("recipe.yaml:", 1)[1].split(":")
    assert line[0].isdigit(), r.err  # a line number follows the file name
    if hint:
        assert hint in r.err


def test_include_cycle_exit_2(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("steps:\n  - include: b.yaml\n")
    (tmp_path / "b.yaml").write_text("steps:\n  - include: a.yaml\n")
    r = attempt(tmp_path, tmp_path / "chip.efuse", HEAD + "steps:\n  - include: a.yaml\n")
    assert r.code == 2 and "cycle" in r.err.lower()
