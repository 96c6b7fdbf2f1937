"""The rules every step kind shares when it turns a step into bit requests.

Pinned here: a block named by its number (0 and the last block included, one past the
end refused by name); a value wider than its field refused with the step, the field, its
width and the hint a user acts on (a purpose this chip revision lacks); a value of 0 is
still an exact request (a custom MAC whose CRC is 0); WR_DIS and RD_DIS given as values
only add bits to what the chip holds, and RD_DIS stays guarded by its own write
protection; bits a step sets are "set these bits" requests, which disagree with an exact
value by that name; and an unknown step kind is refused at the step.
"""

from __future__ import annotations

from typing import Any

import pytest

from fusebook.chips.loader import load_chip
from fusebook.chips.models import ChipDef
from fusebook.efuse.image import EfuseImage
from fusebook.errors import InputError, PlanError, SourceLocation
from fusebook.plan.operations import Operation, Request, step_requests
from fusebook.plan.requests import PlanContext

from ..images import with_field
from .helpers import ops, plan, refused_at_step

C3 = load_chip("esp32c3")
P4 = load_chip("esp32p4")  # before v3.0: KEY_PURPOSE_n has 4 bits
ESP32 = load_chip("esp32")
KEY = bytes(range(32)).hex()


def _writes(chip: ChipDef, image: EfuseImage, *steps: dict[str, Any]) -> list[tuple[str, int]]:
    return [(w.block_name, w.new_bits) for w in plan(chip, image, *steps).writes]


# -- blocks by number ----------------------------------------------------------------

@pytest.mark.parametrize("block", [0, "0"], ids=["int", "digits"])
def test_block_number_zero_is_block0(block: int | str) -> None:
    assert _writes(C3, EfuseImage.blank(C3), {"burn_bit": {"block": block, "bits": [40]}}) == [
        ("BLOCK0", 1 << 40)]


@pytest.mark.parametrize("block", [len(C3.blocks) - 1, str(len(C3.blocks) - 1)], ids=["int", "digits"])
def test_the_last_block_number_is_the_last_block(block: int | str) -> None:
    last = C3.blocks[-1].name
    assert _writes(C3, EfuseImage.blank(C3), {"burn_bit": {"block": block, "bits": [40]}}) == [(last, 1 << 40)]


@pytest.mark.parametrize("block", [len(C3.blocks), str(len(C3.blocks))], ids=["int", "digits"])
def test_one_block_number_past_the_end_is_refused_naming_chip_and_number(block: int | str) -> None:
    e = refused_at_step({"burn_bit": {"block": block, "bits": [0]}}, C3, cls=InputError)
    assert e.message == f"esp32c3 has no block {len(C3.blocks)}"
    assert e.hint is None


# -- a value wider than its field ----------------------------------------------------

@pytest.mark.parametrize(("purpose", "value"), [("ECDSA_KEY_P384_L", 17), ("CUSTOM_19", 19)])
def test_a_purpose_wider_than_key_purpose_is_refused_with_width_and_hint(purpose: str, value: int) -> None:
    e = refused_at_step({"burn_key": {"block": "BLOCK_KEY0", "purpose": purpose, "data": KEY}}, P4,
                        cls=PlanError)
    assert type(e) is PlanError
    assert e.message == f"burn_key: KEY_PURPOSE_0 has 4 bits; it cannot hold {value}"
    assert e.hint == "this value is not available on this chip (or chip revision)"


def test_the_widest_value_a_field_holds_is_not_refused() -> None:
    ctx = PlanContext(P4, EfuseImage.blank(P4))
    f = P4.field("KEY_PURPOSE_0")
    op = ops({"burn_efuse": {"KEY_PURPOSE_0": 15}})[0]
    ctx.set_field(op, f, 15)
    assert [(r.name, r.mask, r.value, r.exact) for r in ctx.out.requests] == [
        ("KEY_PURPOSE_0", f.mask, f.spread(15), True)]


def test_a_negative_value_is_refused_as_not_fitting() -> None:
    ctx = PlanContext(C3, EfuseImage.blank(C3))
    op = ops({"burn_efuse": {"SPI_BOOT_CRYPT_CNT": 1}})[0]
    with pytest.raises(PlanError) as e:
        ctx.set_field(op, C3.field("SPI_BOOT_CRYPT_CNT"), -1)
    assert e.value.message == "burn_efuse: SPI_BOOT_CRYPT_CNT has 3 bits; it cannot hold -1"
    assert str(e.value.location) == "r.yaml:1:5"


# -- a value of 0 --------------------------------------------------------------------

def _mac_with_crc_zero() -> str:
    from fusebook.efuse import codecs

    mac = next(f"02:00:00:00:00:{b:02x}" for b in range(256)
               if codecs.crc8_custom_mac(codecs.parse_mac(f"02:00:00:00:00:{b:02x}")) == 0)
    assert mac == "02:00:00:00:00:83"
    return mac


def test_a_custom_mac_whose_crc_is_zero_plans_and_asks_for_crc_zero() -> None:
    mac = _mac_with_crc_zero()
    blank = EfuseImage.blank(ESP32)
    asked = step_requests(ESP32, blank, ops({"burn_custom_mac": mac}))
    crc = ESP32.field("CUSTOM_MAC_CRC")
    assert [(r.mask, r.value, r.exact) for r in asked.requests if r.name == "CUSTOM_MAC_CRC"] == [
        (crc.mask, 0, True)]
    assert plan(ESP32, blank, {"burn_custom_mac": mac}).writes


# -- WR_DIS and RD_DIS as values -----------------------------------------------------

def test_wr_dis_as_a_value_adds_bits_to_those_already_burned() -> None:
    image = with_field(EfuseImage.blank(C3), "WR_DIS", 1)
    assert _writes(C3, image, {"burn_efuse": {"WR_DIS": 2}}) == [("BLOCK0", C3.field("WR_DIS").spread(2))]


def test_rd_dis_as_a_value_adds_bits_to_those_already_burned() -> None:
    image = with_field(EfuseImage.blank(C3), "RD_DIS", 1)
    assert _writes(C3, image, {"burn_efuse": {"RD_DIS": 2}}) == [("BLOCK0", C3.field("RD_DIS").spread(2))]


def test_wr_dis_and_rd_dis_values_are_set_these_bits_requests_guarded_by_themselves() -> None:
    asked = step_requests(C3, EfuseImage.blank(C3), ops({"burn_efuse": {"WR_DIS": 2, "RD_DIS": 4}}))
    wr, rd = C3.field("WR_DIS"), C3.field("RD_DIS")
    assert [(r.name, r.block, r.mask, r.value, r.exact, r.guard) for r in asked.requests] == [
        ("WR_DIS", 0, wr.spread(2), wr.spread(2), False, "WR_DIS"),
        ("RD_DIS", 0, rd.spread(4), rd.spread(4), False, "RD_DIS"),
    ]


def test_rd_dis_as_a_value_is_refused_once_rd_dis_is_write_protected() -> None:
    image = with_field(EfuseImage.blank(C3), "WR_DIS", 1 << C3.field("RD_DIS").wr_dis)
    e = refused_at_step({"burn_efuse": {"RD_DIS": 2}}, C3, image, cls=PlanError)
    assert e.message == "RD_DIS is write-protected on this chip; step 'burn_efuse' cannot burn it"
    assert e.hint == "write protection is permanent; this unit cannot take the change"


# -- set-these-bits requests ---------------------------------------------------------

def test_or_bits_records_a_set_these_bits_request_and_nothing_for_no_bits() -> None:
    ctx = PlanContext(C3, EfuseImage.blank(C3))
    op = Operation("burn_bit", {}, "burn_bit", SourceLocation("r.yaml", 1, 5))
    ctx.or_bits(op, 0, 0, "BLOCK0", guard="BLOCK0")
    assert ctx.out.requests == []
    ctx.or_bits(op, 0, 0b1010, "BLOCK0", guard="BLOCK0")
    assert ctx.out.requests == [Request(0, 0b1010, 0b1010, False, "BLOCK0", op.origin, guard="BLOCK0")]


def test_burned_bits_that_an_exact_value_wants_at_0_disagree_with_it() -> None:
    f = C3.field("SPI_BOOT_CRYPT_CNT")
    with pytest.raises(PlanError) as e:
        plan(C3, EfuseImage.blank(C3), {"burn_efuse": {"SPI_BOOT_CRYPT_CNT": 1}},
             {"burn_bit": {"block": "BLOCK0", "bits": [f.start + 1]}})
    assert e.value.message == (
        "steps 'burn_efuse' and 'burn_bit' disagree: BLOCK0 sets bits that SPI_BOOT_CRYPT_CNT wants at 0")
    assert str(e.value.location) == "r.yaml:1:5"
    assert [str(r) for r in e.value.related] == ["r.yaml:2:5"]


# -- unknown steps -------------------------------------------------------------------

def test_an_unknown_step_kind_is_refused_at_the_step() -> None:
    e = refused_at_step({"burn_efusee": {"SOFT_DIS_JTAG": 1}}, C3, cls=InputError)
    assert type(e) is InputError
    assert e.message == "burn_efusee: unknown step 'burn_efusee'"
