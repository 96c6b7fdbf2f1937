"""ESP-IDF custom eFuse tables: parsed as espefuse's --extend-efuse-table reads them,
burned by name through fusebook's core path and through espefuse, with identical
blocks; and every mistake reported with the CSV's file:line and both fields."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from espefuse import init_commands

from fusebook.chips.custom_table import extend_chip, load_table
from fusebook.chips.loader import load_chip
from fusebook.chips.models import ChipDef
from fusebook.commit import commit
from fusebook.drivers.controller import controller_for
from fusebook.efuse import codecs
from fusebook.errors import InputError
from fusebook.plan.operations import Operation, step_requests
from fusebook.plan.planner import build_plan
from fusebook.snapshot.formats import from_efuse_file
from fusebook.virtual.chip import VirtualChip
from tests.differential.espefuse_tables import memoised_tables


@pytest.fixture(scope="module", autouse=True)
def _fast_espefuse_tables() -> Iterator[None]:
    yield from memoised_tables()


# A table as ESP-IDF projects write them: a bool, numbers, a byte field, a field in two
# parts (the continuation line has no name) and a nested field. (espefuse cannot read an
# empty bit_start; ESP-IDF's continuation of the block is tested on fusebook alone.)
CSV_C3 = """\
# field_name,       efuse_block, bit_start, bit_count, comment
MODULE_VERSION,     EFUSE_BLK3,  0,         8,         Module version
DEVICE_ROLE,        EFUSE_BLK3,  8,         3,         [ROLE] Device role
SETTING_1,          EFUSE_BLK3,  11,        1,         A flag
SERIAL_NUMBER,      EFUSE_BLK3,  16,        64,        Serial number bytes
CALIB,              EFUSE_BLK3,  96,        20,        Calibration value
,                   EFUSE_BLK3,  128,       4,         ... continues here
USER_DATA.COUNTER,  EFUSE_BLK3,  140,       33,        A 33-bit counter
"""
CSV_IDF_ONLY = CSV_C3.replace("EFUSE_BLK3,  8,", "EFUSE_BLK3,  ,").replace("EFUSE_BLK3,  11,", "EFUSE_BLK3,  ,")

# ESP32 BLOCK3 also holds the custom MAC (bits 0..55), ADC calibration (96..127),
# SECURE_VERSION (128..159) and MAC_VERSION (184..191): custom fields go around them.
CSV_ESP32 = """\
SERIAL,         EFUSE_BLK3, 56,  32,  serial
FLAGS,          EFUSE_BLK3, 160, 4,   flags
BIG,            EFUSE_BLK3, 192, 48,  six bytes
"""

BURNS: dict[str, tuple[str, dict[str, Any]]] = {
    "esp32c3": (CSV_C3, {
        "MODULE_VERSION": 0xA5, "ROLE": 5, "SETTING_1": 1,
        "SERIAL_NUMBER": "0123456789abcdef", "CALIB_0": 0x5A5A5, "CALIB_1": 0x9,
        "USER_DATA_COUNTER": 0x1DEADBEEF,
    }),
    "esp32s3": (CSV_C3, {"CALIB_0": 0x3FFFF, "SERIAL_NUMBER": "0000001122334455"}),
    "esp32": (CSV_ESP32, {"SERIAL": 0xCAFEF00D, "FLAGS": 0xA, "BIG": "112233445566"}),
}


def _quiet() -> contextlib.redirect_stdout[io.StringIO]:
    return contextlib.redirect_stdout(io.StringIO())


def _fusebook_burn(chip: ChipDef, values: dict[str, Any], path: Path) -> None:
    ctl = controller_for(VirtualChip(chip, path), chip)
    image = ctl.read_image()
    plan = build_plan(chip, image, step_requests(chip, image, [Operation("burn_efuse", values)]))
    commit(plan, ctl)


def _espefuse(chip: ChipDef, path: Path, csv: Path, values: dict[str, Any] | None) -> dict[str, Any]:
    with _quiet(), csv.open() as table, init_commands(
        chip=chip.name, virt=True, virt_efuse_file=str(path), do_not_confirm=True,
        extend_efuse_table=table,
    ) as cmds:
        if values:
            cmds.use_batch_mode()
            # espefuse's API takes byte fields as bytes in memory order, numbers as text
            cmds.burn_efuse({k: bytes.fromhex(v) if chip.field(k).type == "bytes" else str(v)
                             for k, v in values.items()})
            cmds.burn_all()
        return {e.name: e.get() for e in cmds.efuses.efuses if e.category == "User"}


@pytest.mark.parametrize("chip_name", sorted(BURNS))
def test_custom_fields_burn_like_espefuse(chip_name: str, tmp_path: Path) -> None:
    text, values = BURNS[chip_name]
    csv = tmp_path / "esp_efuse_custom_table.csv"
    csv.write_text(text)
    chip = extend_chip(load_chip(chip_name, 0), text, str(csv))

    ours, theirs = tmp_path / "fusebook.bin", tmp_path / "espefuse.bin"
    _fusebook_burn(chip, values, ours)
    _espefuse(chip, theirs, csv, values)
    mine, reference = from_efuse_file(ours, chip), from_efuse_file(theirs, chip)
    assert mine.blocks == reference.blocks

    # espefuse's view of the custom fields equals fusebook's, field by field
    shown = _espefuse(chip, theirs, csv, None)
    assert shown, "espefuse must know the custom fields"
    for name, expected in shown.items():
        f = chip.field(name)
        got = codecs.decode_value(chip, f, f.gather(reference.blocks[f.block]))
        if f.type == "bytes":
            expected = str(expected).replace(" ", "")
        assert got == expected, name
        assert f.wr_dis == chip.blocks[f.block].wr_dis


def test_field_types_and_parts_follow_espefuse() -> None:
    chip = extend_chip(load_chip("esp32c3"), CSV_IDF_ONLY, "t.csv")
    assert chip.field("SETTING_1").type == "bool"
    assert chip.field("MODULE_VERSION").type == "uint"
    assert chip.field("SERIAL_NUMBER").type == "bytes"
    assert chip.field("USER_DATA_COUNTER").type == "uint"  # 33 bits: not whole bytes
    assert chip.field("ROLE") is chip.field("DEVICE_ROLE")
    assert chip.field("DEVICE_ROLE").start == 8  # an empty bit_start continues the block
    calib = chip.field("CALIB")
    assert (chip.field("CALIB_0").start, chip.field("CALIB_1").start) == (96, 128)
    assert calib.bits == 24 and calib.spread(0xABCDEF) == (0xBCDEF << 96) | (0xA << 128)
    assert chip.field("MODULE_VERSION").wr_dis == chip.block("BLOCK_USR_DATA").wr_dis
    # the original chip is untouched
    assert not load_chip("esp32c3").has_field("MODULE_VERSION")


def test_whole_block_field() -> None:
    chip = extend_chip(load_chip("esp32s3"), "ALL_OF_IT, EFUSE_BLK9, 0, MAX_BLK_LEN, x\n", "t.csv")
    assert chip.field("ALL_OF_IT").bits == 256 and chip.field("ALL_OF_IT").type == "bytes"


def _error(chip: str, text: str) -> InputError:
    with pytest.raises(InputError) as e:
        extend_chip(load_chip(chip), text, "custom.csv")
    return e.value


def test_overlap_with_a_chip_field_loads_with_a_warning_naming_both_and_the_bits() -> None:
    table = load_table(load_chip("esp32c3"),
                       "# comment\nOK_FIELD, EFUSE_BLK3, 0, 8, fine\nMY_MAC, EFUSE_BLK3, 196, 8, clash\n",
                       "custom.csv")
    assert table.chip.field("MY_MAC").start == 196
    [w] = table.warnings
    assert str(w.location) == "custom.csv:3:1"
    assert "MY_MAC (bits 196..203" in w.message and "CUSTOM_MAC (bits 200..247)" in w.message
    assert "bits 200..203 are shared" in w.message


def test_overlap_between_custom_fields_loads_with_a_warning_naming_both() -> None:
    table = load_table(load_chip("esp32c3"), "A, EFUSE_BLK3, 0, 16, a\nB, EFUSE_BLK3, 8, 4, b\n", "custom.csv")
    [w] = table.warnings
    assert str(w.location) == "custom.csv:2:1"
    assert w.message.startswith("B (bits 8..11") and "custom field A (bits 0..15, line 1)" in w.message


def test_no_warning_for_the_whole_block_field_or_a_nested_parent() -> None:
    text = "USER, EFUSE_BLK3, 0, 32, all\nUSER.ID, EFUSE_BLK3, 0, 8, id\n"
    assert load_table(load_chip("esp32c3"), text, "t").warnings == ()


def test_parts_of_a_split_field_take_suffixed_aliases_as_espefuse_does() -> None:
    chip = extend_chip(load_chip("esp32c3"),
                       "CAL, EFUSE_BLK3, 0, 8, [CALIB] a\n, EFUSE_BLK3, 16, 8, b\n", "t")
    assert chip.field("CALIB_0") is chip.field("CAL_0") and chip.field("CALIB") is chip.field("CAL")
    assert not chip.has_field("CALIB_1")


def test_an_empty_bit_start_follows_the_line_above_only_in_the_same_block() -> None:
    text = "A, EFUSE_BLK3, 8, 8, a\nB, EFUSE_BLK4, 0, 8, b\nC, EFUSE_BLK3, , 4, c\nD, EFUSE_BLK3, , 4, d\n"
    chip = extend_chip(load_chip("esp32c3"), text, "t")
    assert (chip.field("C").start, chip.field("D").start) == (0, 4)


def test_nested_fields_may_overlap_their_parent() -> None:
    chip = extend_chip(load_chip("esp32c3"), "USER, EFUSE_BLK3, 0, 32, all\nUSER.ID, EFUSE_BLK3, 0, 8, id\n", "t")
    assert chip.field("USER_ID").bits == 8


def test_duplicate_names_are_refused() -> None:
    e = _error("esp32c3", "A, EFUSE_BLK3, 0, 8, a\nA, EFUSE_BLK3, 8, 8, again\n")
    assert str(e.location) == "custom.csv:2:1" and "twice" in e.message
    e = _error("esp32c3", "DIS_USB_JTAG, EFUSE_BLK3, 0, 1, taken\n")
    assert "already" in e.message and str(e.location) == "custom.csv:1:1"


def test_fields_outside_their_block_are_refused() -> None:
    e = _error("esp32c3", "\nBIG, EFUSE_BLK3, 250, 8, too far\n")
    assert str(e.location).startswith("custom.csv:2:") and "does not fit" in e.message
    e = _error("esp32c3", "X, EFUSE_BLK11, 0, 8, no such block\n")
    assert "no eFuse block" in e.message
    e = _error("esp32c3", "X, EFUSE_BLK3, 0, 0, empty\n")
    assert "0" in e.message
    e = _error("esp32c3", ", EFUSE_BLK3, 0, 8, orphan continuation\n")
    assert "continuation" in e.message


def test_block_names_are_accepted_too() -> None:
    chip = extend_chip(load_chip("esp32c3"), "A, BLOCK_USR_DATA, 0, 8, a\nB, 3, 8, 8, b\n", "t")
    assert chip.field("A").block == chip.field("B").block == 3


def test_overlapping_fields_in_one_step_must_agree_in_their_shared_bits() -> None:
    from fusebook.efuse.image import EfuseImage
    from fusebook.errors import PlanError
    from tests.plan.helpers import plan

    chip = extend_chip(load_chip("esp32c3"), "WORD, EFUSE_BLK3, 0, 16, w\nNIBBLE, EFUSE_BLK3, 4, 4, n\n", "t")
    blank = EfuseImage.blank(chip)
    agreed = plan(chip, blank, {"burn_efuse": {"WORD": 0x00A0, "NIBBLE": 0xA}})
    assert agreed.after.blocks[3] == 0x00A0
    with pytest.raises(PlanError, match="different values") as e:
        plan(chip, blank, {"burn_efuse": {"WORD": 0x00A0, "NIBBLE": 0xB}})
    assert e.value.exit_code == 3
    # a field over bits already burned by the other: agreeing is a no-op, disagreeing 1 -> 0
    assert plan(chip, agreed.after, {"burn_efuse": {"NIBBLE": 0xA}}).writes == ()
    with pytest.raises(PlanError, match="1 to 0"):
        plan(chip, agreed.after, {"burn_efuse": {"NIBBLE": 0x2}})
