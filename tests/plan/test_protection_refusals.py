"""Bits that land in a write- or read-protected part of a block are refused at plan time.

The refusal's words, its hint and its location (the step) are pinned word for word,
because users act on them: which protection bit stands in the way, why the burn cannot
work, and that it is permanent. The bits the planner takes as protected are pinned too:
a burned block write-disable bit freezes the whole block, each BLOCK0 field with its own
write-disable bit is frozen on its own, and the read-protected bits are exactly those
`EfuseImage.as_read` hides (a whole block, a 128-bit half of the ESP32-C2's BLOCK_KEY0,
or single fields).
"""

from __future__ import annotations

import pytest

from fusebook.chips.loader import chip_names, load_chip
from fusebook.chips.models import ChipDef
from fusebook.efuse.image import EfuseImage
from fusebook.errors import PlanError
from fusebook.plan.planner import _read_protected_bits, _write_protected_bits
from tests.images import with_field
from tests.plan.helpers import plan, refused_at_step

C3 = load_chip("esp32c3")
C2 = load_chip("esp32c2")
ESP32 = load_chip("esp32")
HALF_KEY = "0102030405060708090a0b0c0d0e0f10"


def _whole(chip: ChipDef, block: str) -> int:
    return (1 << (32 * chip.block(block).words)) - 1


# -- the refusals, word for word ------------------------------------------------------------
@pytest.mark.parametrize("bit", [40, 41])
def test_raw_bits_into_a_write_protected_block0_field_name_the_field_and_its_bit(bit: int) -> None:
    locked = with_field(EfuseImage.blank(C3), "WR_DIS", 1 << 2)  # DIS_ICACHE, DIS_USB_JTAG, ...
    name = {40: "DIS_ICACHE", 41: "DIS_USB_JTAG"}[bit]
    e = refused_at_step({"burn_bit": {"block": "BLOCK0", "bits": [bit]}}, C3, locked, PlanError)
    assert e.message == (f"step 'burn_bit' asks for bits of BLOCK0 that are write-protected by {name} "
                         "(WR_DIS bit 2); the chip would ignore them")
    assert e.hint == "write protection is permanent; this unit cannot take the change"


def test_raw_bits_into_a_read_protected_block0_field_name_the_field_and_what_it_means() -> None:
    hidden = with_field(EfuseImage.blank(ESP32), "RD_DIS", 1 << 3)  # CODING_SCHEME and its neighbours
    bit = ESP32.field("CODING_SCHEME").start
    e = refused_at_step({"burn_bit": {"block": "BLOCK0", "bits": [bit]}}, ESP32, hidden, PlanError)
    assert e.message == (
        "step 'burn_bit' asks for bits of BLOCK0 that are read-protected by CODING_SCHEME (RD_DIS bit 3): "
        "their content cannot be compared, so burning them may damage what is there")
    assert e.hint == "read protection is permanent; a read-protected key or data cannot be changed"


@pytest.mark.parametrize(("hidden_half", "burned"), [(0, "BLOCK_KEY0_HI_128"), (1, "BLOCK_KEY0_LOW_128")],
                         ids=["low-hidden", "high-hidden"])
def test_a_half_of_the_c2_key_block_beside_a_read_protected_half_is_refused_with_the_way_out(
    hidden_half: int, burned: str
) -> None:
    image = with_field(EfuseImage.blank(C2), "RD_DIS", 1 << hidden_half)
    e = refused_at_step({"burn_efuse": {burned: HALF_KEY}}, C2, image, PlanError)
    assert e.message == (
        "part of BLOCK_KEY0 is read-protected (BLOCK_KEY0 (RD_DIS bit 0/1)), so its RS coding "
        "cannot be computed: step 'burn_efuse' cannot add bits to it")
    assert e.hint == "a coded block is programmed whole; write everything it needs before read-protecting"


def test_either_half_of_the_c2_key_block_plans_while_nothing_is_read_protected() -> None:
    for half in ("BLOCK_KEY0_LOW_128", "BLOCK_KEY0_HI_128"):
        assert plan(C2, EfuseImage.blank(C2), {"burn_efuse": {half: HALF_KEY}}).writes


def test_the_refusal_is_located_at_the_step_that_asks_not_the_first_step() -> None:
    locked = with_field(EfuseImage.blank(C3), "WR_DIS", 1 << 2)
    with pytest.raises(PlanError) as e:
        plan(C3, locked, {"burn_efuse": {"SOFT_DIS_JTAG": 1}}, {"burn_bit": {"block": "BLOCK0", "bits": [41]}})
    assert str(e.value.location) == "r.yaml:2:5"


# -- which bits count as write-protected -----------------------------------------------------
@pytest.mark.parametrize(("chip", "block"), [(C3, "BLOCK_USR_DATA"), (C3, "MAC_SPI_8M_0"), (C2, "BLOCK1"),
                                             (ESP32, "BLOCK3")], ids=lambda x: getattr(x, "name", x))
def test_a_burned_block_write_disable_bit_freezes_every_bit_of_the_block_and_no_more(
    chip: ChipDef, block: str
) -> None:
    blk = chip.block(block)
    assert blk.wr_dis is not None
    locked = with_field(EfuseImage.blank(chip), "WR_DIS", 1 << blk.wr_dis)
    assert _write_protected_bits(locked, blk) == _whole(chip, block)
    assert _write_protected_bits(EfuseImage.blank(chip), blk) == 0


def test_block0_fields_are_frozen_one_by_one_by_their_own_write_disable_bit() -> None:
    locked = with_field(EfuseImage.blank(C3), "WR_DIS", 1 << 31)  # SOFT_DIS_JTAG
    assert _write_protected_bits(locked, C3.blocks[0]) == C3.field("SOFT_DIS_JTAG").mask


# -- which bits count as read-protected ------------------------------------------------------
def _hidden_by_reading(image: EfuseImage, block: int) -> int:
    """The bits of `block` that read as 0 although they hold 1 (`image` holds all ones there)."""
    return image.blocks[block] & ~image.as_read().blocks[block]


def _all_ones_beside(image: EfuseImage) -> EfuseImage:
    """`image` with every bit of every block but BLOCK0 burned (BLOCK0 keeps its RD_DIS)."""
    chip = image.chip
    rd = chip.field("RD_DIS")
    zero = list(image.blocks)
    zero[0] = (((1 << (32 * chip.blocks[0].words)) - 1) & ~rd.mask) | image.blocks[0]
    for blk in chip.blocks[1:]:
        zero[blk.id] = (1 << (32 * blk.words)) - 1
    return image.with_blocks(tuple(zero))


RD_CASES = [(name, bit) for name in chip_names() for bit in range(load_chip(name).field("RD_DIS").bits)]


@pytest.mark.parametrize(("name", "bit"), RD_CASES)
def test_the_read_protected_bits_of_each_block_are_those_reading_hides(name: str, bit: int) -> None:
    chip = load_chip(name)
    image = _all_ones_beside(with_field(EfuseImage.blank(chip), "RD_DIS", 1 << bit))
    for blk in chip.blocks:
        assert _read_protected_bits(image, blk) == _hidden_by_reading(image, blk.id), blk.name


def test_a_read_protected_block_hides_all_of_its_bits_and_its_neighbours_none() -> None:
    hidden = with_field(EfuseImage.blank(C3), "RD_DIS", 1 << 1)  # BLOCK_KEY1
    assert _read_protected_bits(hidden, C3.block("BLOCK_KEY1")) == _whole(C3, "BLOCK_KEY1")
    assert _read_protected_bits(hidden, C3.block("BLOCK_KEY0")) == 0
    assert _read_protected_bits(hidden, C3.block("BLOCK_KEY2")) == 0


@pytest.mark.parametrize(("rd", "mask"), [(1, (1 << 128) - 1), (2, ((1 << 128) - 1) << 128),
                                          (3, (1 << 256) - 1)], ids=["low", "high", "both"])
def test_the_c2_key_block_is_read_protected_by_halves(rd: int, mask: int) -> None:
    image = with_field(EfuseImage.blank(C2), "RD_DIS", rd)
    assert _read_protected_bits(image, C2.block("BLOCK_KEY0")) == mask


def test_nothing_is_read_protected_on_a_chip_without_read_disable_bits() -> None:
    blank = EfuseImage.blank(C3)
    assert [_read_protected_bits(blank, blk) for blk in C3.blocks] == [0] * len(C3.blocks)
