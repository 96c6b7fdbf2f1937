"""A two-block key whose burn stopped part-way resumes into the blocks it started in.

The planner writes blocks from the highest down, so a stop after the first program leaves
the key's second half in a block whose purpose (in BLOCK0, burned last) is still unset. A
re-run must find that half where it is; taking the next empty block would put the halves
in two different places and leave a stray copy of key material behind.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fusebook import api
from fusebook.chips.loader import load_chip

CHIPS = ["esp32", "esp32s2", "esp32s3", "esp32c2", "esp32c3", "esp32c5", "esp32c6", "esp32c61",
         "esp32h2", "esp32p4", "esp32h21", "esp32h4", "esp32s31", "esp32e22"]


def _cases() -> list[tuple[str, str]]:
    out = []
    for chip_name in CHIPS:
        chip = load_chip(chip_name)
        names = {kp.name for kp in chip.key_purposes}
        for kp in chip.key_purposes:
            # ESP32-P4 before v3.0 (the blank default) has 4-bit purpose fields: no P-384 there
            if kp.split is None or (chip_name == "esp32p4" and kp.name == "ECDSA_KEY_P384"):
                continue
            assert set(kp.split) <= names, (chip_name, kp.name)
            if chip.key_blocks:
                out.append((chip_name, kp.name))
    return out


CASES = _cases()


def _key(n: int) -> str:
    return b"".join(hashlib.sha256(bytes([n, i])).digest() for i in range(2)).hex()


def test_the_class_is_not_empty() -> None:
    assert len(CASES) >= 6, CASES


@pytest.mark.parametrize(("chip", "purpose"), CASES)
def test_a_stopped_split_key_burn_resumes_in_the_same_blocks(tmp_path: Path, chip: str, purpose: str) -> None:
    first = load_chip(chip).key_blocks[0].name
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"fusebook: 1\nname: split\nchip: {chip}\nsteps:\n"
        f"  - burn_key: {{block: {first}, purpose: {purpose}, data: '{_key(7)}'}}\n"
    )
    loaded = api.load_recipe(recipe)
    full = api.plan(loaded, api.load_snapshot("blank", chip)).plan
    assert len(full.writes) >= 3
    for stopped_after in range(1, len(full.writes)):
        blocks = list(full.before.blocks)
        for w in full.writes[:stopped_after]:
            blocks[w.block] = w.expected
        resumed = api.plan(loaded, full.before.with_blocks(tuple(blocks))).plan
        assert resumed.after.blocks == full.after.blocks, f"stopped after write {stopped_after}"
        assert {w.block for w in resumed.writes} <= {w.block for w in full.writes}
