"""docs/chips/<chip>.md are what the chip data gives today (regenerate with `make chipdocs`)."""

from __future__ import annotations

import runpy
from pathlib import Path

from fusebook.chips.loader import load_chip
from fusebook.chips.reference import chip_reference

TOOL = Path(__file__).resolve().parents[2] / "tools" / "gen_chip_docs.py"


def test_the_chip_pages_are_current() -> None:
    tool = runpy.run_path(str(TOOL))
    assert tool["main"](["--check"]) == 0, "docs/chips is out of date: run `make chipdocs`"


def test_a_page_names_every_field_block_and_purpose_with_its_protection() -> None:
    chip = load_chip("esp32c3")
    page = chip_reference(chip)
    for f in chip.fields:
        assert f"`{f.name}`" in page
    for b in chip.blocks:
        assert f"| {b.id} | `{b.name}` |" in page
    for k in chip.key_purposes:
        assert f"`{k.name}`" in page
    key0 = chip.block("BLOCK_KEY0")
    assert f"WR_DIS bit {key0.wr_dis}; RD_DIS bit {key0.rd_dis[0]}" in page
    assert "`KEY_PURPOSE_5` must not take `XTS_AES` purposes" in page
