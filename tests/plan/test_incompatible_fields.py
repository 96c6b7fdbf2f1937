"""Fields that must never all be set together (the chip data's `incompatible:` groups).

ESP32-S3's ROM bootloader fails when DIS_USB_JTAG and DIS_USB_SERIAL_JTAG are both burned, so a
plan that would leave both set is refused, whether both come from the recipe or one is on the
chip already; a plan that sets only one of them, or none, goes through.
"""

from __future__ import annotations

import dataclasses

import pytest

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import PlanError

from .helpers import plan

S3 = load_chip("esp32s3")
PAIR = ("DIS_USB_JTAG", "DIS_USB_SERIAL_JTAG")
MESSAGE = ("DIS_USB_JTAG and DIS_USB_SERIAL_JTAG cannot all be set on ESP32-S3 "
           "(the ROM bootloader fails with them together)")


def _with(*names: str) -> EfuseImage:
    image = EfuseImage.blank(S3)
    for name in names:
        f = S3.field(name)
        blocks = list(image.blocks)
        blocks[f.block] |= f.spread(1)
        image = image.with_blocks(tuple(blocks))
    return image


def test_the_group_is_what_the_chip_data_says() -> None:
    assert PAIR in S3.incompatible
    assert all(S3.field(name).block == 0 for name in PAIR)


def test_both_in_one_step_are_refused_word_for_word_at_that_step() -> None:
    with pytest.raises(PlanError) as e:
        plan(S3, _with(), {"burn_efuse": {"DIS_USB_JTAG": 1, "DIS_USB_SERIAL_JTAG": 1}})
    assert e.value.message == MESSAGE
    assert e.value.hint == "burn only one of them"
    assert str(e.value.location) == "r.yaml:1:5"


def test_two_steps_are_refused_at_the_step_setting_the_groups_first_field() -> None:
    with pytest.raises(PlanError) as e:
        plan(S3, _with(), {"burn_efuse": {"DIS_USB_SERIAL_JTAG": 1}}, {"burn_efuse": {"DIS_USB_JTAG": 1}})
    assert e.value.message == MESSAGE
    assert str(e.value.location) == "r.yaml:2:5"


@pytest.mark.parametrize(("on_chip", "asked"), [(PAIR[0], PAIR[1]), (PAIR[1], PAIR[0])])
def test_one_on_the_chip_and_the_other_asked_for_is_refused(on_chip: str, asked: str) -> None:
    with pytest.raises(PlanError) as e:
        plan(S3, _with(on_chip), {"burn_efuse": {asked: 1}})
    assert e.value.message == MESSAGE
    assert str(e.value.location) == "r.yaml:1:5"


@pytest.mark.parametrize("name", PAIR)
def test_either_one_alone_plans(name: str) -> None:
    p = plan(S3, _with(), {"burn_efuse": {name: 1}})
    assert S3.field(name).gather(p.after.blocks[0]) == 1


def test_other_bits_of_the_same_block_do_not_count_as_the_missing_field() -> None:
    # BLOCK0 is asked for (another field), DIS_USB_JTAG is on the chip: the group is not complete
    p = plan(S3, _with(PAIR[0]), {"burn_efuse": {"DIS_PAD_JTAG": 1}})
    assert S3.field(PAIR[1]).gather(p.after.blocks[0]) == 0
    assert S3.field("DIS_PAD_JTAG").gather(p.after.blocks[0]) == 1


def test_a_chip_that_already_holds_both_is_not_a_plan_error() -> None:
    # nothing this plan asks for completes the group: the plan is not to blame for the chip
    p = plan(S3, _with(*PAIR), {"burn_efuse": {"DIS_PAD_JTAG": 1}})
    assert S3.field("DIS_PAD_JTAG").gather(p.after.blocks[0]) == 1


def test_chips_without_the_rom_fault_take_the_pair() -> None:
    c3 = load_chip("esp32c3")
    assert not c3.incompatible
    p = plan(c3, EfuseImage.blank(c3), {"burn_efuse": {"DIS_USB_JTAG": 1, "DIS_USB_SERIAL_JTAG": 1}})
    assert all(c3.field(name).gather(p.after.blocks[0]) == 1 for name in PAIR)


def test_every_group_is_checked_not_only_the_first() -> None:
    # a chip description with two groups: the first one incomplete must not end the check
    two = dataclasses.replace(S3, incompatible=(("DIS_PAD_JTAG", "DIS_USB_OTG"), PAIR))
    with pytest.raises(PlanError) as e:
        plan(two, _with(), {"burn_efuse": {"DIS_PAD_JTAG": 1, "DIS_USB_JTAG": 1, "DIS_USB_SERIAL_JTAG": 1}})
    assert e.value.message == MESSAGE
