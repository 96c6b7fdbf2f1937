"""A flagged block refuses only what writes or locks it: its neighbours, BLOCK0's other
fields and bits it already holds still plan (tests/virtual/test_error_flags.py has the
refusals themselves)."""

from __future__ import annotations

import pytest

from fusebook.chips.loader import load_chip
from fusebook.chips.models import ChipDef
from fusebook.efuse.image import EfuseImage
from fusebook.errors import PlanError

from ..virtual.test_error_flags import CASES, _flagged
from .helpers import plan


def _lock_and_purpose_bits(chip: ChipDef) -> int:
    """BLOCK0 bits of WR_DIS, RD_DIS and every key-purpose field."""
    names = ["WR_DIS", "RD_DIS"] + [b.key_purpose_field for b in chip.blocks if b.key_purpose_field]
    return sum(chip.field(n).mask for n in names if chip.has_field(n) and chip.field(n).block == 0)


@pytest.mark.parametrize(("name", "block_id"), CASES, ids=[f"{n}-{b}" for n, b in CASES])
def test_a_flagged_block_leaves_its_neighbours_and_block0_alone(name: str, block_id: int) -> None:
    chip = load_chip(name)
    blk = chip.blocks[block_id]
    image = EfuseImage(chip, tuple(0 for _ in chip.blocks), _flagged(chip, block_id))
    for other in chip.blocks[1:]:
        if other.id != block_id and other.wr_dis is not None and other.wr_dis != blk.wr_dis:
            assert plan(chip, image, {"write_protect_efuse": [other.name]}).writes, other.name
        if other.id != block_id and other.rd_dis and not set(other.rd_dis) & set(blk.rd_dis):
            assert plan(chip, image, {"burn_efuse": {"RD_DIS": 1 << other.rd_dis[0]}}).writes, other.name
    free = ((1 << (32 * chip.blocks[0].words)) - 1) & ~_lock_and_purpose_bits(chip)
    bit = free.bit_length() - 1
    assert plan(chip, image, {"burn_bit": {"block": "BLOCK0", "bits": [bit]}}).writes


@pytest.mark.parametrize(("name", "block_id"), CASES, ids=[f"{n}-{b}" for n, b in CASES])
def test_bits_a_flagged_block_already_holds_are_a_no_op(name: str, block_id: int) -> None:
    chip = load_chip(name)
    blocks = [0] * len(chip.blocks)
    blocks[block_id] = 1
    image = EfuseImage(chip, tuple(blocks), _flagged(chip, block_id))
    assert plan(chip, image, {"burn_bit": {"block": chip.blocks[block_id].name, "bits": [0]}}).writes == ()
    with pytest.raises(PlanError, match="error flags are set"):
        plan(chip, image, {"burn_bit": {"block": chip.blocks[block_id].name, "bits": [1]}})


@pytest.mark.parametrize(("name", "block_id"), [c for c in CASES if load_chip(c[0]).blocks[c[1]].rd_dis],
                         ids=lambda v: str(v))
def test_read_protecting_a_flagged_block_is_refused(name: str, block_id: int) -> None:
    chip = load_chip(name)
    blk = chip.blocks[block_id]
    image = EfuseImage(chip, tuple(0 for _ in chip.blocks), _flagged(chip, block_id))
    with pytest.raises(PlanError, match=f"read-protects {blk.name}"):
        plan(chip, image, {"burn_efuse": {"RD_DIS": 1 << blk.rd_dis[0]}})


def test_a_request_is_refused_for_the_second_flagged_block_it_touches_with_place_and_hint() -> None:
    chip = load_chip("esp32c3")
    one, two = chip.block("BLOCK_KEY0").id, chip.block("BLOCK_KEY1").id
    errors = _flagged(chip, one)
    for reg, value in _flagged(chip, two).items():
        errors[reg] |= value
    image = EfuseImage(chip, tuple(0 for _ in chip.blocks), errors)
    with pytest.raises(PlanError) as caught:
        plan(chip, image, {"burn_bit": {"block": "BLOCK_KEY1", "bits": [3]}})
    e = caught.value
    assert "BLOCK_KEY1" in str(e) and "error flags are set" in str(e)
    assert e.location is not None and (e.location.line, e.location.column) == (1, 5)
    assert e.hint == ("an earlier program of this block failed; inspect the unit with "
                      "`fusebook check-error` and do not burn it further")
