"""Data a recipe read-protects itself: burned on the first run, skipped (with a located
warning) on the next, and nothing else skipped with it; 3/4-coded writes carry only the
groups they add to."""

from __future__ import annotations

import pytest

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import PlanError
from fusebook.secret import Secret

from .helpers import plan

C3 = load_chip("esp32c3")
ESP32 = load_chip("esp32")
DATA = "0102030405060708090a0b0c0d0e0f10" * 2
SYS2 = C3.block("BLOCK_SYS_DATA2").id
USR = C3.block("BLOCK_USR_DATA").id


def _steps(*extra: dict) -> tuple[dict, ...]:
    return ({"burn_efuse": {"BLOCK_SYS_DATA2": DATA}}, {"read_protect_efuse": ["BLOCK_SYS_DATA2"]}, *extra)


def test_the_first_run_burns_the_data_it_then_read_protects() -> None:
    other_hidden = plan(C3, _xts_key1(), {"read_protect_efuse": ["BLOCK_KEY1"]}).after
    for image in (EfuseImage.blank(C3), other_hidden):
        first = plan(C3, image, *_steps())
        assert SYS2 in [w.block for w in first.writes]
        assert first.skipped == () and first.warnings == ()


def test_the_next_run_skips_it_with_a_warning_at_the_step() -> None:
    done = plan(C3, EfuseImage.blank(C3), *_steps()).after
    again = plan(C3, done, *_steps())
    assert again.writes == () and again.skipped == ("BLOCK_SYS_DATA2",)
    [w] = again.warnings
    assert w.origin is not None and w.origin.location is not None and w.origin.location.line == 1


def test_a_step_after_the_skipped_one_is_still_planned() -> None:
    done = plan(C3, EfuseImage.blank(C3), *_steps()).after
    again = plan(C3, done, *_steps({"burn_efuse": {"SOFT_DIS_JTAG": 1}}))
    assert [c.field for c in again.changes] == ["SOFT_DIS_JTAG"]


def test_every_block_the_recipe_read_protects_is_skipped_not_only_the_last() -> None:
    steps = ({"burn_efuse": {"BLOCK_SYS_DATA2": DATA}}, {"burn_efuse": {"BLOCK_KEY1": DATA}},
             {"read_protect_efuse": ["BLOCK_SYS_DATA2"]}, {"read_protect_efuse": ["BLOCK_KEY1"]})
    done = plan(C3, _xts_key1(), *steps).after
    assert sorted(plan(C3, done, *steps).skipped) == ["BLOCK_KEY1", "BLOCK_SYS_DATA2"]


def test_someone_elses_read_protected_data_stays_refused() -> None:
    hidden = plan(C3, _xts_key1(), {"read_protect_efuse": ["BLOCK_SYS_DATA2"]}).after
    with pytest.raises(PlanError, match="read-protected"):
        plan(C3, hidden, {"burn_efuse": {"BLOCK_SYS_DATA2": DATA}}, {"read_protect_efuse": ["BLOCK_KEY1"]})


def _xts_key1() -> EfuseImage:
    """A C3 whose BLOCK_KEY1 already has a purpose that may be read-protected."""
    return plan(C3, EfuseImage.blank(C3), {"burn_efuse": {"KEY_PURPOSE_1": "XTS_AES_128_KEY"}}).after


def test_a_secret_value_shows_as_secret_in_the_plan() -> None:
    p = plan(C3, EfuseImage.blank(C3), {"burn_efuse": {"BLOCK_USR_DATA": Secret(bytes(range(1, 33)))}})
    [change] = p.changes
    assert change.after == "<secret>"


def test_a_34_coded_write_carries_only_the_new_group() -> None:
    three_four = plan(ESP32, EfuseImage.blank(ESP32), {"burn_efuse": {"CODING_SCHEME": 1}}).after
    once = plan(ESP32, three_four, {"burn_block_data": {"block": "BLOCK3", "data": "ff" * 6}}).after
    [write] = plan(ESP32, once, {"burn_block_data": {"block": "BLOCK3", "offset": 6, "data": "01"}}).writes
    assert write.words[0:2] == (0, 0) and write.words[2] == 1 and write.words[4:] == (0, 0, 0, 0)


def test_a_plan_shows_field_values_in_the_users_words_and_block_data_as_hex() -> None:
    [change] = plan(C3, EfuseImage.blank(C3), {"burn_efuse": {"SOFT_DIS_JTAG": 5}}).changes
    assert (change.field, change.before, change.after) == ("SOFT_DIS_JTAG", 0, 5)
    [change] = plan(C3, EfuseImage.blank(C3), {"burn_block_data": {"block": "BLOCK3", "offset": 4,
                                                                   "data": "0102"}}).changes
    assert (change.before, change.after) == ("0000", "0102")
