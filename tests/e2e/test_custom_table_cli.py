"""Custom eFuse tables through the command line: overlaps load with a warning and the
planner judges the burns; an ESP32 under 3/4 coding refuses a field past its 192 data
bits before anything is sent; `fields` and `validate` show what fits a chip read."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusebook.chips.custom_table import extend_chip
from fusebook.chips.loader import load_chip
from fusebook.efuse import codecs

from .conftest import fusebook

MAC = "02:12:34:56:78:9a"
OVERLAP_CSV = "# a serial number over the custom MAC\nMY_FIELD, EFUSE_BLK3, 200, 8, overlaps CUSTOM_MAC\n"


def _agreeing_value() -> int:
    """MY_FIELD's value that the bits CUSTOM_MAC = MAC burns give it."""
    chip = extend_chip(load_chip("esp32c3"), OVERLAP_CSV, "t")
    mac = chip.field("CUSTOM_MAC")
    bits = mac.spread(codecs.encode_value(chip, mac, MAC))
    return chip.field("MY_FIELD").gather(bits)


def test_an_overlap_loads_with_a_warning_naming_both_fields_and_the_bits(tmp_path: Path) -> None:
    table = tmp_path / "custom.csv"
    table.write_text(OVERLAP_CSV)
    r = fusebook("fields", "esp32c3", "--extend-efuse-table", table, "--format", "json")
    assert r.code == 0, r.err
    assert any(f["name"] == "MY_FIELD" for f in r.json["fields"])
    assert "custom.csv:2:1: warning:" in r.err
    assert "MY_FIELD (bits 200..207" in r.err and "CUSTOM_MAC (bits 200..247)" in r.err


@pytest.mark.parametrize("agree", [True, False])
def test_overlapping_fields_burned_together_must_agree(tmp_path: Path, agree: bool) -> None:
    (tmp_path / "custom.csv").write_text(OVERLAP_CSV)
    value = _agreeing_value() if agree else _agreeing_value() ^ 0x01
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "fusebook: 1\nname: overlap\nchip: esp32c3\nextend_efuse_table: custom.csv\nsteps:\n"
        f"  - burn_efuse: {{CUSTOM_MAC: '{MAC}'}}\n"
        f"  - burn_efuse: {{MY_FIELD: {value}}}\n"
    )
    r = fusebook("plan", recipe, "--snapshot", "blank", "--chip", "esp32c3", "--format", "json")
    if agree:
        assert r.code == 0, r.err
        assert any("MY_FIELD" in w["message"] and "CUSTOM_MAC" in w["message"] for w in r.json["warnings"])
    else:
        assert r.code == 3, r.err
        assert "different values" in r.json["error"]["message"]


BIG_CSV = "LOW, EFUSE_BLK3, 160, 16, fits\nBIG, EFUSE_BLK3, 192, 48, past 3/4's data\n"


def _esp32_34(tmp_path: Path) -> Path:
    """A virtual ESP32 whose CODING_SCHEME is 3/4."""
    efuse = tmp_path / "esp32.efuse"
    recipe = tmp_path / "coding.yaml"
    recipe.write_text("fusebook: 1\nname: c\nchip: esp32\nsteps:\n  - burn_efuse: {CODING_SCHEME: 1}\n")
    r = fusebook("apply", recipe, "--virt", "--chip", "esp32", "--efuse-file", efuse, "--yes", "--no-ledger")
    assert r.code == 0, r.err
    return efuse


def test_esp32_3_4_refuses_a_custom_field_past_192_bits_at_plan_time(tmp_path: Path) -> None:
    efuse = _esp32_34(tmp_path)
    (tmp_path / "custom.csv").write_text(BIG_CSV)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("fusebook: 1\nname: big\nchip: esp32\nextend_efuse_table: custom.csv\nsteps:\n"
                      "  - burn_efuse: {LOW: 0x1234}\n  - burn_efuse: {BIG: '112233445566'}\n")
    before = efuse.read_bytes()
    r = fusebook("apply", recipe, "--virt", "--chip", "esp32", "--efuse-file", efuse, "--yes", "--no-ledger")
    assert r.code == 3, r.err
    assert "BIG" in r.err and "3/4" in r.err and "192" in r.err and "hint:" in r.err
    assert efuse.read_bytes() == before, "nothing may be sent"
    # `validate` against the chip says the same, at the step's line; without a chip it cannot know
    v = fusebook("validate", recipe, "--virt", "--chip", "esp32", "--efuse-file", efuse)
    assert v.code == 3 and "r.yaml:7:" in v.err and "BIG" in v.err, v.err
    assert fusebook("validate", recipe).code == 0
    # the LOW field alone fits and burns
    recipe.write_text(recipe.read_text().replace("  - burn_efuse: {BIG: '112233445566'}\n", ""))
    r = fusebook("apply", recipe, "--virt", "--chip", "esp32", "--efuse-file", efuse, "--yes", "--no-ledger")
    assert r.code == 0, r.err


def test_fields_of_a_chip_read_show_what_fits_its_coding(tmp_path: Path) -> None:
    efuse = _esp32_34(tmp_path)
    table = tmp_path / "custom.csv"
    table.write_text(BIG_CSV)
    r = fusebook("fields", "--virt", "--chip", "esp32", "--efuse-file", efuse, "--extend-efuse-table", table,
                 "--format", "json")
    assert r.code == 0, r.err
    fits = {f["name"]: f["fits_coding"] for f in r.json["fields"]}
    assert fits["LOW"] is True and fits["BIG"] is False
    blk3 = next(b for b in r.json["blocks"] if b["id"] == 3)
    assert (blk3["coding_in_effect"], blk3["data_bits"]) == ("3/4", 192)
    text = fusebook("fields", "--virt", "--chip", "esp32", "--efuse-file", efuse, "--extend-efuse-table", table)
    line = next(x for x in text.out.splitlines() if x.startswith("BIG "))
    assert "NO: 3/4 coding holds bits 0..191" in line
    # a blank ESP32 (no coding) holds the whole block
    blank = fusebook("fields", "--snapshot", "blank", "--chip", "esp32", "--extend-efuse-table", table,
                     "--format", "json")
    assert blank.code == 0, blank.err
    assert all(f["fits_coding"] for f in blank.json["fields"] if f["name"] in ("LOW", "BIG"))
