"""A flagged block is described in the words `check-error` and refusals print."""

from __future__ import annotations

import pytest

from fusebook.chips.loader import chip_names, load_chip
from fusebook.efuse.flags import block_flags

C3 = load_chip("esp32c3")


def test_a_block_with_a_fail_bit_and_corrected_errors_lists_both_flags() -> None:
    errors = {"EFUSE_RD_RS_ERR0_REG": (1 << 19) | (2 << 12)}  # BLOCK_KEY0: fail bit 19, count [14:12]
    assert block_flags(C3, errors, 4).describe() == (
        "BLOCK_KEY0: fail, 2 error(s) (EFUSE_RD_RS_ERR0_REG bit 19; EFUSE_RD_RS_ERR0_REG[14:12] = 2)")


def test_a_clean_block_says_so() -> None:
    assert block_flags(C3, {"EFUSE_RD_RS_ERR0_REG": 1 << 3}, 4).describe() == "BLOCK_KEY0: no error flags"


def test_block0_counts_every_mismatching_bit_and_ignores_missing_registers() -> None:
    assert block_flags(C3, {}, 0).ok
    flags = block_flags(C3, {"EFUSE_RD_REPEAT_ERR0_REG": 0b1001, "EFUSE_RD_REPEAT_ERR2_REG": 1 << 31}, 0)
    assert (flags.fail, flags.errors) == (True, 3)
    assert flags.describe() == ("BLOCK0: fail, 3 error(s) (EFUSE_RD_REPEAT_ERR0_REG bit 0; "
                                "EFUSE_RD_REPEAT_ERR0_REG bit 3; EFUSE_RD_REPEAT_ERR2_REG bit 31)")


@pytest.mark.parametrize("name", chip_names())
def test_registers_missing_from_a_read_count_as_clean(name: str) -> None:
    chip = load_chip(name)
    for blk in chip.blocks:
        flags = block_flags(chip, {}, blk.id)
        assert (flags.block, flags.name, flags.fail, flags.errors, flags.flags) == (blk.id, blk.name, False, 0, ())
