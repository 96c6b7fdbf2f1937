"""Planner rules: 0 -> 1 only, no-ops, conflicts, protections, coding, order."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import InputError, PlanError, SourceLocation

from .helpers import plan

C3 = load_chip("esp32c3")
ESP32 = load_chip("esp32")
BLANK = EfuseImage.blank(C3)


def test_one_to_zero_names_field_current_and_wanted() -> None:
    chip_has_5 = plan(C3, BLANK, {"burn_efuse": {"SOFT_DIS_JTAG": 5}}).after
    with pytest.raises(PlanError) as e:
        plan(C3, chip_has_5, {"burn_efuse": {"SOFT_DIS_JTAG": 2}})
    assert "SOFT_DIS_JTAG" in e.value.message and "5" in e.value.message and "2" in e.value.message
    assert str(e.value.location) == "r.yaml:1:5"


def test_value_already_burned_is_a_no_op() -> None:
    done = plan(C3, BLANK, {"burn_efuse": {"SOFT_DIS_JTAG": 7}}).after
    assert plan(C3, done, {"burn_efuse": {"SOFT_DIS_JTAG": 7}}).writes == ()


def test_conflicting_steps_name_both_places() -> None:
    with pytest.raises(PlanError) as e:
        plan(C3, BLANK, {"burn_efuse": {"SOFT_DIS_JTAG": 1}}, {"burn_efuse": {"SOFT_DIS_JTAG": 3}})
    assert str(e.value.location) == "r.yaml:1:5"
    assert [str(r) for r in e.value.related] == ["r.yaml:2:5"]


def test_same_value_from_two_steps_is_fine() -> None:
    p = plan(C3, BLANK, {"burn_efuse": {"DIS_USB_JTAG": 1}}, {"burn_efuse": {"DIS_USB_JTAG": True}})
    assert len(p.writes) == 1


def test_rs_block_cannot_be_reprogrammed() -> None:
    done = plan(C3, BLANK, {"burn_block_data": {"block": "BLOCK3", "data": "01"}}).after
    with pytest.raises(PlanError, match="Reed-Solomon"):
        plan(C3, done, {"burn_block_data": {"block": "BLOCK3", "offset": 4, "data": "02"}})


def test_esp32_34_coding_groups_are_written_once() -> None:
    three_four = plan(ESP32, EfuseImage.blank(ESP32), {"burn_efuse": {"CODING_SCHEME": 1}}).after
    once = plan(ESP32, three_four, {"burn_block_data": {"block": "BLOCK3", "data": "01"}}).after
    with pytest.raises(PlanError, match="3/4"):
        plan(ESP32, once, {"burn_block_data": {"block": "BLOCK3", "offset": 2, "data": "01"}})
    # another 6-byte group is still free
    assert plan(ESP32, once, {"burn_block_data": {"block": "BLOCK3", "offset": 6, "data": "01"}}).writes


ESP32_TABLE = "LOW, EFUSE_BLK3, 160, 16, fits\nSTRADDLE, EFUSE_BLK3, 184, 16, half\nBIG, EFUSE_BLK3, 192, 48, past\n"


def test_esp32_34_coding_refuses_custom_bits_past_192_before_any_write() -> None:
    from fusebook.chips.custom_table import extend_chip
    from fusebook.plan.model import Origin
    from fusebook.plan.planner import build_plan
    from fusebook.plan.requests import Request, StepRequests

    chip = extend_chip(ESP32, ESP32_TABLE, "t.csv")
    three_four = plan(chip, EfuseImage.blank(chip), {"burn_efuse": {"CODING_SCHEME": 1}}).after
    with pytest.raises(PlanError) as e:
        plan(chip, three_four, {"burn_efuse": {"BIG": "112233445566"}})
    assert "BIG" in e.value.message and "192 data bits" in e.value.message and e.value.exit_code == 3
    assert "below bit 192" in (e.value.hint or "")
    # a field across the boundary: its low bits fit, a value reaching past them does not
    assert plan(chip, three_four, {"burn_efuse": {"STRADDLE": 0xFF}}).writes
    with pytest.raises(PlanError, match="sets bit 199"):
        plan(chip, three_four, {"burn_efuse": {"STRADDLE": 0x8000}})
    assert plan(chip, three_four, {"burn_efuse": {"LOW": 0x1234}}).writes
    # without 3/4 coding the whole block is data
    assert plan(chip, EfuseImage.blank(chip), {"burn_efuse": {"BIG": "112233445566"}}).writes
    # the planner's own last check, for bits that reach it by any other way
    req = Request(3, 1 << 200, 1 << 200, False, "BLOCK3", Origin("s", SourceLocation("r.yaml", 1, 5)))
    with pytest.raises(PlanError, match="3/4 coding, which holds 192 data bits"):
        build_plan(chip, three_four, StepRequests(requests=[req]))


def test_write_protected_target_is_refused() -> None:
    locked = plan(C3, BLANK, {"write_protect_efuse": ["SOFT_DIS_JTAG"]}).after
    with pytest.raises(PlanError, match="write-protected"):
        plan(C3, locked, {"burn_efuse": {"SOFT_DIS_JTAG": 1}})


def test_read_protected_foreign_data_is_refused() -> None:
    hidden = plan(C3, BLANK, {"read_protect_efuse": ["BLOCK_SYS_DATA2"]}).after
    with pytest.raises(PlanError, match="read-protected"):
        plan(C3, hidden, {"burn_bit": {"block": "BLOCK_SYS_DATA2", "bits": [3]}})


def test_lock_bits_go_last_in_their_own_block0_program() -> None:
    p = plan(
        C3, BLANK,
        {"burn_key": {"block": "BLOCK_KEY0", "purpose": "XTS_AES_128_KEY", "data": "1122" * 16}},
        {"burn_efuse": {"DIS_USB_JTAG": 1, "SPI_BOOT_CRYPT_CNT": 1}},
    )
    assert [(w.block_name, w.phase) for w in p.writes] == [
        ("BLOCK_KEY0", "data"), ("BLOCK0", "data"), ("BLOCK0", "lock")]
    lock = p.writes[-1]
    wr = C3.field("WR_DIS")
    assert lock.new_bits & wr.mask
    assert not p.writes[1].new_bits & wr.mask


def test_zero_value_is_refused_with_a_hint() -> None:
    with pytest.raises(InputError) as e:
        plan(C3, BLANK, {"burn_efuse": {"DIS_USB_JTAG": 0}})
    assert "when" in (e.value.hint or "")


def test_unknown_field_suggests_the_nearest() -> None:
    with pytest.raises(InputError) as e:
        plan(C3, BLANK, {"burn_efuse": {"DIS_USB_JTAGG": 1}})
    assert e.value.hint == "did you mean DIS_USB_JTAG?"


def test_key_purpose_erratum_is_refused() -> None:
    with pytest.raises(PlanError, match="erratum"):
        plan(C3, BLANK, {"burn_key": {"block": "BLOCK_KEY5", "purpose": "XTS_AES_128_KEY",
                                      "data": "2233" * 16}})


def test_plan_json_never_holds_key_bytes() -> None:
    key = bytes(range(0x40, 0x60))
    p = plan(C3, BLANK, {"burn_key": {"block": "BLOCK_KEY1", "purpose": "HMAC_UP", "data": key.hex()}})
    import json

    text = json.dumps(p.to_json())
    for form in (key.hex(), key[::-1].hex()):
        assert form not in text
    assert p.key_fingerprints["BLOCK_KEY1"].startswith("sha256:")


# -- properties ----------------------------------------------------------------------
C3_SIMPLE = [f for f in C3.fields if f.block == 0 and f.burnable and f.klass != "keypurpose"
             and f.name not in ("WR_DIS", "RD_DIS")]


@st.composite
def images(draw):
    """BLOCK0 with about a quarter of its bits burned (not the protection words)."""
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))  # hypothesis' own randoms lean to 0
    width = 32 * C3.blocks[0].words
    b0 = rnd.getrandbits(width) & rnd.getrandbits(width)
    b0 &= ~C3.field("WR_DIS").mask & ~C3.field("RD_DIS").mask
    return EfuseImage(C3, (b0, *(0 for _ in C3.blocks[1:])))


@st.composite
def cases(draw):
    """A random BLOCK0 and a request for a few fields; most requests keep what is burned.

    The case predicts its own outcome: the plan must be refused exactly when some field
    asks for a bit to go from 1 to 0 (none of these fields overlap, none is protected).
    """
    image = draw(images())
    fields = draw(st.lists(st.sampled_from(C3_SIMPLE), min_size=1, max_size=6, unique_by=lambda f: f.name))
    rnd = random.Random(draw(st.integers(0, 2**32 - 1)))
    request = {}
    for f in fields:
        value = rnd.randint(1, (1 << f.bits) - 1)
        if rnd.random() < 0.6:  # most keep the bits already burned
            value |= image.raw(f.name)
        request[f.name] = value
    clearing = sorted(n for n, v in request.items() if image.raw(n) & ~v)
    return image, request, clearing


def test_the_generated_fields_do_not_overlap() -> None:
    masks = [f.mask for f in C3_SIMPLE]
    assert all(a & b == 0 for i, a in enumerate(masks) for b in masks[i + 1:])


def test_planner_never_clears_a_bit_and_replanning_burns_nothing() -> None:
    outcomes = {"planned": 0, "refused": 0}

    @settings(max_examples=200, deadline=None)
    @given(cases(), st.booleans())
    def run(case, protect) -> None:
        image, request, clearing = case
        steps = [{"burn_efuse": request}]
        if protect:
            steps.append({"write_protect_efuse": list(request)[:1]})
        if clearing:
            with pytest.raises(PlanError) as e:
                plan(C3, image, *steps)
            assert any(name in e.value.message for name in clearing), e.value.message
            assert "cannot go from 1 to 0" in e.value.message, e.value.message
            outcomes["refused"] += 1
            return
        p = plan(C3, image, *steps)
        outcomes["planned"] += 1
        for before, after in zip(image.blocks, p.after.blocks, strict=False):
            assert before & ~after == 0
        for name, value in request.items():
            assert p.after.raw(name) == value
        for w in p.writes:
            if w.phase == "data" and w.block == 0:
                assert not w.new_bits & C3.field("WR_DIS").mask
        assert plan(C3, p.after, *steps).writes == ()
        phases = [(w.block, w.phase) for w in p.writes]
        assert phases == sorted(phases, key=lambda x: (-x[0], x[1] == "lock"))

    run()
    total = outcomes["planned"] + outcomes["refused"]
    assert total >= 100
    assert outcomes["planned"] >= total // 2, outcomes  # a planner refusing all would fail here
    assert outcomes["refused"] >= total // 20, outcomes  # and the refusal path is exercised


def test_a_plan_is_a_value_that_carries_its_coded_words() -> None:
    """`commit` programs the words the plan holds: nothing in a write calls back into the planner."""
    import dataclasses
    import pickle

    from fusebook.efuse import coding

    burn = plan(C3, BLANK, {"burn_efuse": {"SOFT_DIS_JTAG": 7}},
                {"burn_block_data": {"block": "BLOCK_USR_DATA", "data": "0x0102"}})
    for w in burn.writes:
        assert not any(callable(getattr(w, f.name)) for f in dataclasses.fields(w))
        assert pickle.loads(pickle.dumps(w)) == w
    usr = next(w for w in burn.writes if w.block_name == "BLOCK_USR_DATA")
    assert usr.words == coding.rs_encode(usr.expected.to_bytes(32, "little"))
    assert usr.words[0] == 0x0102


def test_a_protection_bit_reads_as_what_it_protects_the_first_three_and_how_many_more() -> None:
    bits = {"WR_DIS": (1 << 1) | (1 << 3) | (1 << 5) | (1 << 6), "RD_DIS": 1 << 3}
    p = plan(ESP32, EfuseImage.blank(ESP32), {"burn_efuse": bits})
    assert [(c.field, c.detail) for c in p.changes] == [
        ("WR_DIS", "bit 1 (nothing named)"),  # it protects WR_DIS itself, which is left unsaid
        ("WR_DIS", "bit 3 (MAC, MAC_CRC, DISABLE_APP_CPU and 3 more)"),
        ("WR_DIS", "bit 5 (XPD_SDIO_REG, XPD_SDIO_TIEH, XPD_SDIO_FORCE)"),
        ("WR_DIS", "bit 6 (SPI_PAD_CONFIG_CLK, SPI_PAD_CONFIG_Q, SPI_PAD_CONFIG_D and 1 more)"),
        ("RD_DIS", "bit 3 (BLK3_PART_RESERVE, FLASH_CRYPT_CONFIG, CODING_SCHEME and 1 more)"),
    ]
