"""Conflicts between steps, coding-scheme refusals and how protection bits and block bits read
in a plan.

Pinned here: which two steps a conflict names (and in which order, whatever else the block
holds), that an or-mode step agreeing with a field value is no conflict, the exact words,
hint and location of the 1 -> 0, 3/4-coding and ESP32 CODING_SCHEME refusals (users act on
them), that a recipe re-applied after its CODING_SCHEME burned plans, and that a plan lists
only the protection bits and block bytes it really adds.
"""

from __future__ import annotations

import pytest

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import PlanError, SourceLocation
from fusebook.plan.model import Origin
from fusebook.plan.planner import build_plan
from fusebook.plan.requests import Request, StepRequests
from fusebook.secret import Secret

from ..images import with_field
from .helpers import plan

C3 = load_chip("esp32c3")
ESP32 = load_chip("esp32")
CONFLICT_HINT = "keep one of them, or guard them with `when:` so only one applies"


# -- conflicts between steps ---------------------------------------------------------------
def test_a_conflict_is_named_from_the_earlier_step_when_a_third_step_shares_the_block() -> None:
    with pytest.raises(PlanError) as e:
        plan(C3, EfuseImage.blank(C3), {"burn_efuse": {"SOFT_DIS_JTAG": 1}}, {"burn_efuse": {"SOFT_DIS_JTAG": 2}},
             {"burn_efuse": {"DIS_USB_JTAG": 1}})
    assert e.value.message == "steps 'burn_efuse' and 'burn_efuse' ask for different values of SOFT_DIS_JTAG"
    assert str(e.value.location) == "r.yaml:1:5"
    assert [str(r) for r in e.value.related] == ["r.yaml:2:5"]
    assert e.value.hint == CONFLICT_HINT


def test_a_burned_bit_after_a_field_value_that_wants_it_at_0_is_a_conflict() -> None:
    with pytest.raises(PlanError) as e:
        plan(C3, EfuseImage.blank(C3), {"burn_efuse": {"SOFT_DIS_JTAG": 1}},
             {"burn_bit": {"block": "BLOCK0", "bits": [49]}})
    assert e.value.message == ("steps 'burn_efuse' and 'burn_bit' disagree: BLOCK0 sets bits that "
                               "SOFT_DIS_JTAG wants at 0")
    assert str(e.value.location) == "r.yaml:1:5"
    assert [str(r) for r in e.value.related] == ["r.yaml:2:5"]
    assert e.value.hint == CONFLICT_HINT


def test_a_burned_bit_that_a_field_value_also_sets_is_no_conflict() -> None:
    p = plan(C3, EfuseImage.blank(C3), {"burn_efuse": {"SOFT_DIS_JTAG": 7}},
             {"burn_bit": {"block": "BLOCK0", "bits": [49]}})
    assert [(c.field, c.after) for c in p.changes] == [("SOFT_DIS_JTAG", 7), ("BLOCK0", "01")]


# -- bits cannot go back --------------------------------------------------------------------
def test_a_value_needing_a_burned_bit_cleared_is_refused_with_the_way_out() -> None:
    image = with_field(EfuseImage.blank(C3), "SOFT_DIS_JTAG", 1)
    with pytest.raises(PlanError) as e:
        plan(C3, image, {"burn_efuse": {"SOFT_DIS_JTAG": 2}})
    assert e.value.message == "SOFT_DIS_JTAG: eFuse bits cannot go from 1 to 0 (on the chip: 1, wanted: 2)"
    assert e.value.hint == "this chip already holds another value; it cannot be changed"
    assert str(e.value.location) == "r.yaml:1:5"


# -- how a plan reads -----------------------------------------------------------------------
def test_burning_wr_dis_by_value_lists_only_the_bits_not_yet_burned() -> None:
    image = with_field(EfuseImage.blank(C3), "WR_DIS", 1 << 23)
    p = plan(C3, image, {"burn_efuse": {"WR_DIS": (1 << 23) | (1 << 24)}})
    assert [c.label() for c in p.changes] == ["WR_DIS bit 24 (BLOCK_KEY1)"]
    assert (p.changes[0].before, p.changes[0].after) == (0, 1)


@pytest.mark.parametrize("bits", [[8], [3, 4, 5, 6, 7, 8, 9, 10]], ids=["one-bit-at-a-byte", "a-byte-off-bytes"])
def test_burned_bits_that_are_not_whole_bytes_carry_no_byte_range(bits: list[int]) -> None:
    p = plan(C3, EfuseImage.blank(C3), {"burn_bit": {"block": "BLOCK_USR_DATA", "bits": bits}})
    assert [(c.label(), c.detail) for c in p.changes] == [("BLOCK_USR_DATA", None)]


# -- 3/4 coding (ESP32) -----------------------------------------------------------------------
def test_bits_past_the_34_data_name_the_step_that_asks_for_them() -> None:
    three_four = plan(ESP32, EfuseImage.blank(ESP32), {"burn_efuse": {"CODING_SCHEME": 1}}).after
    low = Request(3, 0xFF, 0x01, True, "BLOCK3", Origin("low byte", SourceLocation("r.yaml", 1, 5)))
    high = Request(3, 1 << 200, 1 << 200, False, "BLOCK3", Origin("high bit", SourceLocation("r.yaml", 2, 5)))
    with pytest.raises(PlanError) as e:
        build_plan(ESP32, three_four, StepRequests(requests=[low, high]))
    assert e.value.message == ("BLOCK3 uses 3/4 coding, which holds 192 data bits (0..191): step 'high bit' "
                               "asks for bits above them (BLOCK3)")
    assert str(e.value.location) == "r.yaml:2:5"
    assert e.value.hint == "keep the block's data below bit 192"


# -- ESP32 CODING_SCHEME -------------------------------------------------------------------------
def _scheme_hidden(image: EfuseImage) -> EfuseImage:
    return with_field(image, "RD_DIS", 1 << ESP32.field("CODING_SCHEME").rd_dis[0])


def test_block_data_under_a_read_protected_coding_scheme_is_refused() -> None:
    with pytest.raises(PlanError) as e:
        plan(ESP32, _scheme_hidden(EfuseImage.blank(ESP32)), {"burn_block_data": {"block": "BLOCK3", "data": "01"}})
    assert e.value.message == ("CODING_SCHEME is read-protected, so the coding of BLOCK3 is unknown: "
                               "step 'burn_block_data' cannot be encoded for it")
    assert e.value.hint == "this unit's BLOCK1-3 cannot be planned safely"
    assert str(e.value.location) == "r.yaml:1:5"
    assert e.value.related == ()


def test_a_read_protected_coding_scheme_refusal_names_the_step_adding_bits() -> None:
    done = plan(ESP32, EfuseImage.blank(ESP32), {"burn_block_data": {"block": "BLOCK3", "data": "01"}}).after
    with pytest.raises(PlanError) as e:
        plan(ESP32, _scheme_hidden(done), {"burn_block_data": {"block": "BLOCK3", "data": "01"}},
             {"burn_block_data": {"block": "BLOCK3", "offset": 4, "data": "02"}})
    assert "coding of BLOCK3 is unknown" in e.value.message
    assert str(e.value.location) == "r.yaml:2:5"


def test_changing_coding_scheme_with_block_data_names_the_step_adding_bits() -> None:
    done = plan(ESP32, EfuseImage.blank(ESP32), {"burn_block_data": {"block": "BLOCK3", "data": "01"}}).after
    with pytest.raises(PlanError) as e:
        plan(ESP32, done, {"burn_block_data": {"block": "BLOCK3", "data": "01"}},
             {"burn_block_data": {"block": "BLOCK3", "offset": 4, "data": "02"}},
             {"burn_efuse": {"CODING_SCHEME": 1}})
    assert e.value.message == ("step 'burn_efuse' changes CODING_SCHEME and step 'burn_block_data' writes "
                               "BLOCK3 in the same run: the data would be coded for the old scheme")
    assert str(e.value.location) == "r.yaml:3:5"
    assert [str(r) for r in e.value.related] == ["r.yaml:2:5"]
    assert e.value.hint == ("burn CODING_SCHEME in a run of its own first, then plan the block data "
                            "against the chip")


def test_a_coding_scheme_already_burned_is_no_change_for_block_data() -> None:
    three_four = plan(ESP32, EfuseImage.blank(ESP32), {"burn_efuse": {"CODING_SCHEME": 1}}).after
    p = plan(ESP32, three_four, {"burn_efuse": {"CODING_SCHEME": 1}},
             {"burn_block_data": {"block": "BLOCK3", "data": "01"}})
    assert [(c.label(), c.after) for c in p.changes] == [("BLOCK3 bytes 0..0", "01")]
    assert [w.block_name for w in p.writes] == ["BLOCK3"]


# -- secret writes ----------------------------------------------------------------------------
def _direct(*requests: Request) -> StepRequests:
    return StepRequests(requests=list(requests))


def test_a_secret_write_without_a_key_fingerprint_is_named_by_its_little_endian_content() -> None:
    at = Origin("secret data", SourceLocation("r.yaml", 1, 5))
    p = build_plan(ESP32, EfuseImage.blank(ESP32), _direct(Request(3, 0xFFFF, 0xA501, True, "BLOCK3", at, True)))
    (write,) = p.writes
    assert write.secret
    assert write.fingerprint == Secret((0xA501).to_bytes(32, "little")).fingerprint


def test_a_write_is_secret_only_when_it_carries_secret_bits() -> None:
    """A secret already on the chip does not make new public bits beside it secret."""
    image = EfuseImage.blank(ESP32)
    image = image.with_blocks((*image.blocks[:3], 0xAB, *image.blocks[4:]))
    held = Request(3, 0xFF, 0xAB, True, "BLOCK3", Origin("secret", SourceLocation("r.yaml", 1, 5)), True)
    public = Request(3, 1 << 100, 1 << 100, False, "BLOCK3", Origin("public", SourceLocation("r.yaml", 2, 5)))
    (write,) = build_plan(ESP32, image, _direct(held, public)).writes
    assert (write.new_bits, write.secret, write.fingerprint) == (1 << 100, False, None)
