"""Chip quirks that espefuse cannot serve as an oracle for (it refuses, or behaves
differently on purpose): checked against the chip data directly."""

from __future__ import annotations

import pytest

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import InputError, PlanError
from fusebook.plan.operations import Operation, step_requests
from fusebook.plan.planner import build_plan


def _plan(chip_name: str, steps: list[dict], revision: int | None = None):
    chip = load_chip(chip_name, revision)
    image = EfuseImage.blank(chip)
    ops = [Operation(k, v) for step in steps for k, v in step.items()]
    return chip, build_plan(chip, image, step_requests(chip, image, ops))


def test_p4_v3_five_bit_purpose_by_name_splits_over_both_fields() -> None:
    # espefuse's burn_efuse cannot log this value (it fails); burn_key covers the same bits.
    chip, plan = _plan("esp32p4", [{"burn_efuse": {"KEY_PURPOSE_2": "ECDSA_KEY_P384_H"}}], 300)
    after = plan.after.blocks[0]
    assert chip.field("KEY_PURPOSE_2").gather(after) == 18
    lo, hi = chip.field("KEY_PURPOSE_2").parts
    assert (after >> lo.start) & 0xF == 2 and (after >> hi.start) & 1 == 1
    assert chip.field("KEY_PURPOSE_2_H").gather(after) == 1


def test_p4_before_v3_has_four_bit_purposes() -> None:
    chip = load_chip("esp32p4", 100)
    assert chip.field("KEY_PURPOSE_0").bits == 4 and not chip.has_field("KEY_PURPOSE_0_H")
    with pytest.raises(InputError):
        _plan("esp32p4", [{"burn_efuse": {"KEY_PURPOSE_0": "ECDSA_KEY_P192"}}], 100)


def test_c2_key_goes_to_the_purposes_half_and_block_must_match() -> None:
    chip, plan = _plan("esp32c2", [{"burn_key": {
        "purpose": "XTS_AES_128_KEY_DERIVED_FROM_128_EFUSE_BITS", "data": "1112" * 8}}])
    key0 = chip.block("BLOCK_KEY0")
    assert [w.block for w in plan.writes][0] == key0.id
    assert plan.writes[0].expected == int.from_bytes(bytes.fromhex("1112" * 8)[::-1], "little")
    with pytest.raises(InputError, match="BLOCK_KEY0"):
        _plan("esp32c2", [{"burn_key": {"block": "BLOCK2", "purpose": "USER", "data": "2223" * 16}}])
    with pytest.raises(InputError, match="16-byte"):
        _plan("esp32c2", [{"burn_key": {"purpose": "XTS_AES_128_KEY_DERIVED_FROM_128_EFUSE_BITS",
                                        "data": "2223" * 16}}])


def test_c2_digest_keeps_the_first_16_bytes_and_defaults_its_purpose() -> None:
    digest = bytes(range(32))
    chip, plan = _plan("esp32c2", [{"burn_key_digest": {"digest": digest}}])
    hi = chip.field("BLOCK_KEY0_HI_128")
    assert hi.gather(plan.after.blocks[hi.block]) == int.from_bytes(digest[:16], "little")


def test_c2_block_key0_read_protect_needs_a_256_bit_flash_key() -> None:
    with pytest.raises(PlanError, match="must stay readable"):
        _plan("esp32c2", [{"read_protect_efuse": ["BLOCK_KEY0"]}])
    chip, plan = _plan("esp32c2", [{"burn_efuse": {"XTS_KEY_LENGTH_256": 1}},
                                   {"read_protect_efuse": ["BLOCK_KEY0"]}])
    assert plan.after.rd_dis == 0b11


def test_s3_usb_jtag_pair_is_refused_even_when_one_is_burned() -> None:
    chip = load_chip("esp32s3")
    f = chip.field("DIS_USB_JTAG")
    image = EfuseImage.blank(chip).with_blocks((f.spread(1),) + EfuseImage.blank(chip).blocks[1:])
    ops = [Operation("burn_efuse", {"DIS_USB_SERIAL_JTAG": 1})]
    with pytest.raises(PlanError, match="cannot all be set"):
        step_requests(chip, image, ops)
    # on chips without that ROM bug the pair is fine
    _plan("esp32c3", [{"burn_efuse": {"DIS_USB_JTAG": 1, "DIS_USB_SERIAL_JTAG": 1}}])


def test_combined_field_gather_and_spread_round_trip() -> None:
    chip = load_chip("esp32c5")
    f = chip.field("RECOVERY_BOOTLOADER_FLASH_SECTOR")
    for value in (0, 1, 0x1FF, 0x200, 0xFFF, 0xA5C):
        assert f.gather(f.spread(value)) == value
        assert f.spread(value) & ~f.mask == 0
    lo, hi = chip.field("RECOVERY_BOOTLOADER_FLASH_SECTOR_LO"), chip.field("RECOVERY_BOOTLOADER_FLASH_SECTOR_HI")
    assert f.mask == lo.mask | hi.mask
    assert hi.gather(f.spread(0xA5C)) == 0xA5C >> 9


def test_revision_zero_quirk_of_esp32s3() -> None:
    chip = load_chip("esp32s3")
    values = {"WAFER_VERSION_MAJOR": 1, "WAFER_VERSION_MINOR_LO": 0, "WAFER_VERSION_MINOR_HI": 1,
              "BLK_VERSION_MAJOR": 1, "BLK_VERSION_MINOR": 1}
    assert chip.revision_of(lambda n: values.get(n, 0)) == (0, 0)
    values["BLK_VERSION_MINOR"] = 2
    assert chip.revision_of(lambda n: values.get(n, 0)) == (1, 8)
