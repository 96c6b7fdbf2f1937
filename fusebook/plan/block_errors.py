"""Refusing to write or lock a block whose error flags are set.

A block flagged by the controller (an RS fail bit or error count, an ESP32 3/4-coding
group, BLOCK0 bits whose copies disagree) holds content an earlier program left
inconsistent. Programming it again cannot be checked, and locking it (its WR_DIS or
RD_DIS bits, the key purpose that puts it to use) would seal a key or data nobody can
trust. So any request that writes such a block or locks it is refused at plan time, with
the flags that show why: the unit needs inspection (`fusebook check-error`), not a re-run.
"""

from __future__ import annotations

from collections.abc import Iterable

from fusebook.chips.models import BlockDef, ChipDef
from fusebook.efuse.flags import BlockFlags, damaged_blocks
from fusebook.efuse.image import EfuseImage
from fusebook.errors import PlanError
from fusebook.plan.requests import Request


def _lock_bits(chip: ChipDef, blk: BlockDef) -> tuple[int, int]:
    """WR_DIS and RD_DIS masks (as field values) of the bits that protect `blk` or a field in it."""
    wr = 0 if blk.wr_dis is None else 1 << blk.wr_dis
    rd = 0
    for b in blk.rd_dis:
        rd |= 1 << b
    for f in chip.fields_in_block(blk.id):
        if f.wr_dis is not None:
            wr |= 1 << f.wr_dis
        for b in f.rd_dis:
            rd |= 1 << b
    return wr, rd


def _touches(chip: ChipDef, image: EfuseImage, r: Request, flags: BlockFlags) -> str | None:
    """How `r` would write or lock the flagged block (None: it does not)."""
    blk = chip.blocks[flags.block]
    new = r.value & ~image.blocks[r.block] & r.mask
    if not new:
        return None  # already burned: a no-op touches nothing
    if r.block == blk.id:
        return "writes"
    if blk.id == 0:
        return None
    wr, rd = _lock_bits(chip, blk)
    for name, mask in (("WR_DIS", wr), ("RD_DIS", rd)):
        if mask and chip.has_field(name):
            f = chip.field(name)
            if r.block == f.block and new & f.spread(mask):
                return "write-protects" if name == "WR_DIS" else "read-protects"
    if blk.key_purpose_field and chip.has_field(blk.key_purpose_field):
        f = chip.field(blk.key_purpose_field)
        if r.block == f.block and new & f.mask:
            return "sets the key purpose of"
    return None


def refuse_damaged_blocks(chip: ChipDef, image: EfuseImage, requests: Iterable[Request]) -> None:
    """PlanError (exit 3) if a request writes or locks a block whose error flags are set."""
    if not image.errors:
        return
    damaged = damaged_blocks(chip, image.errors)
    if not damaged:
        return
    for r in requests:
        for flags in damaged:
            how = _touches(chip, image, r, flags)
            if how is None:
                continue
            raise PlanError(
                f"step '{r.origin.step}' {how} {flags.name}, whose error flags are set on this chip: "
                f"{flags.describe()}",
                location=r.origin.location,
                hint="an earlier program of this block failed; inspect the unit with "
                "`fusebook check-error` and do not burn it further",
            )
