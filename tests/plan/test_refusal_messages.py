"""A refusal says which steps, which protection and what to do: the words a user acts on."""

from __future__ import annotations

import pytest

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import PlanError

from .helpers import plan

C3 = load_chip("esp32c3")
C2 = load_chip("esp32c2")


def test_a_conflict_names_both_steps_the_field_and_the_way_out() -> None:
    with pytest.raises(PlanError) as e:
        plan(C3, EfuseImage.blank(C3), {"burn_efuse": {"SOFT_DIS_JTAG": 1}}, {"burn_efuse": {"SOFT_DIS_JTAG": 2}})
    assert e.value.message == "steps 'burn_efuse' and 'burn_efuse' ask for different values of SOFT_DIS_JTAG"
    assert e.value.location is not None and e.value.location.line == 1
    assert [r.line for r in e.value.related] == [2]
    assert "keep one of them, or guard them with `when:`" in (e.value.hint or "")


def test_the_other_half_of_a_half_read_protected_rs_block_is_refused_naming_the_coding() -> None:
    rd = C2.field("RD_DIS")
    blocks = list(EfuseImage.blank(C2).blocks)
    blocks[rd.block] |= rd.spread(1)  # BLOCK_KEY0_LOW_128 hidden; the high half is readable
    image = EfuseImage(C2, tuple(blocks))
    with pytest.raises(PlanError) as e:
        plan(C2, image, {"burn_efuse": {"BLOCK_KEY0_HI_128": "0102030405060708090a0b0c0d0e0f10"}})
    assert e.value.message == (
        "part of BLOCK_KEY0 is read-protected (BLOCK_KEY0 (RD_DIS bit 0/1)), so its RS coding "
        "cannot be computed: step 'burn_efuse' cannot add bits to it")
    assert "before read-protecting" in (e.value.hint or "")


@pytest.mark.parametrize(("chip", "field"), [(C3, "BLOCK_SYS_DATA2"), (C2, "BLOCK_KEY0_LOW_128")],
                         ids=["whole-block", "c2-low-half"])
def test_data_the_recipe_read_protects_itself_is_skipped_on_the_next_run(chip, field: str) -> None:
    steps = ({"burn_efuse": {field: "0102030405060708090a0b0c0d0e0f10" * (chip.field(field).bits // 128)}},
             {"read_protect_efuse": [field]})
    done = plan(chip, EfuseImage.blank(chip), *steps).after
    again = plan(chip, done, *steps)
    assert again.writes == ()
    assert field in again.skipped or chip.field(field).name in again.skipped
    assert any("already read-protected: skipped, content unverifiable" in w.message for w in again.warnings)


def test_more_bits_for_a_written_rs_block_name_the_step_that_adds_them() -> None:
    done = plan(C3, EfuseImage.blank(C3), {"burn_block_data": {"block": "BLOCK3", "data": "01"}}).after
    with pytest.raises(PlanError) as e:
        plan(C3, done, {"burn_block_data": {"block": "BLOCK3", "data": "01"}},
             {"burn_block_data": {"block": "BLOCK3", "offset": 4, "data": "02"}})
    assert "Reed-Solomon coded and already written" in e.value.message
    assert e.value.location is not None and e.value.location.line == 2
    assert "programmed once; write everything it needs in one plan" in (e.value.hint or "")


ESP32 = load_chip("esp32")


@pytest.mark.parametrize("group", [0, 3])
def test_a_written_34_group_is_refused_naming_its_bytes(group: int) -> None:
    three_four = plan(ESP32, EfuseImage.blank(ESP32), {"burn_efuse": {"CODING_SCHEME": 1}}).after
    start = 6 * group
    once = plan(ESP32, three_four, {"burn_block_data": {"block": "BLOCK3", "offset": start, "data": "01"}}).after
    with pytest.raises(PlanError) as e:
        plan(ESP32, once, {"burn_block_data": {"block": "BLOCK3", "offset": start + 5, "data": "01"}})
    assert e.value.message == (f"BLOCK3 uses 3/4 coding and bytes {start}..{start + 5} are already written: "
                               "they cannot take more bits (step 'burn_block_data')")
    assert e.value.location is not None and e.value.location.line == 1
    assert e.value.hint == "3/4 coding programs each 6-byte group once"


def test_block_data_under_the_repeat_scheme_is_refused() -> None:
    repeat = plan(ESP32, EfuseImage.blank(ESP32), {"burn_efuse": {"CODING_SCHEME": 2}}).after
    with pytest.raises(PlanError) as e:
        plan(ESP32, repeat, {"burn_block_data": {"block": "BLOCK3", "data": "01"}})
    assert e.value.message == "BLOCK3: the REPEAT coding scheme is not supported"
    assert e.value.location is not None and e.value.location.line == 1
