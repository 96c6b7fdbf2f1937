"""Block error flags: what the controller's error registers say about each block.

After every read command the controller checks what the eFuses hold and reports it:
the ESP32 sets a DEC_STATUS bit for each 6-byte 3/4-coding group that does not decode;
the newer controllers count corrected errors and flag uncorrectable ones per RS block
(RD_RS_ERR) and flag BLOCK0 bits whose redundant copies disagree (RD_REPEAT_ERR). The
flags follow the stored content, so a program that failed stays visible on every later
read. Where each block's flags sit is chip data (`block_errors`, `block0_error_registers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fusebook.chips.models import ChipDef


@dataclass(frozen=True)
class BlockFlags:
    """One block's error flags as read."""

    block: int
    name: str
    fail: bool  # an uncorrectable error (RS fail bit, 3/4 group, BLOCK0 repeat mismatch)
    errors: int  # corrected errors (RS) or mismatching BLOCK0 bits
    flags: tuple[str, ...]  # each flag as `REGISTER bit N` / `REGISTER[a:b] = v`

    @property
    def ok(self) -> bool:
        return not self.fail and self.errors == 0

    def describe(self) -> str:
        if self.ok:
            return f"{self.name}: no error flags"
        what = []
        if self.fail:
            what.append("fail")
        if self.errors:
            what.append(f"{self.errors} error(s)")
        return f"{self.name}: {', '.join(what)} ({'; '.join(self.flags)})"


def _bits(value: int) -> list[int]:
    return [i for i in range(32) if (value >> i) & 1]


def block_flags(chip: ChipDef, errors: Mapping[str, int], block_id: int) -> BlockFlags:
    """The flags of `block_id` in `errors` (register name -> value as read)."""
    blk = chip.blocks[block_id]
    flags: list[str] = []
    if block_id == 0:
        count = 0
        for name in chip.block0_error_registers:
            value = errors.get(name, 0) & 0xFFFFFFFF
            count += bin(value).count("1")
            flags.extend(f"{name} bit {b}" for b in _bits(value))
        return BlockFlags(0, blk.name, count != 0, count, tuple(flags))
    if block_id >= len(chip.block_errors):
        return BlockFlags(block_id, blk.name, False, 0, ())
    layout = chip.block_errors[block_id]
    fail = False
    count = 0
    if layout.fail_register is not None and layout.fail_bits:
        value = errors.get(layout.fail_register, 0) & layout.fail_bits
        fail = value != 0
        flags.extend(f"{layout.fail_register} bit {b}" for b in _bits(value))
    if layout.count_register is not None and layout.count_mask:
        shift = layout.count_shift or 0
        count = (errors.get(layout.count_register, 0) >> shift) & layout.count_mask
        if count:
            hi = shift + layout.count_mask.bit_length() - 1
            flags.append(f"{layout.count_register}[{hi}:{shift}] = {count}")
    return BlockFlags(block_id, blk.name, fail, count, tuple(flags))


def all_block_flags(chip: ChipDef, errors: Mapping[str, int]) -> tuple[BlockFlags, ...]:
    """Every block's flags, BLOCK0 first."""
    return tuple(block_flags(chip, errors, b.id) for b in chip.blocks)


def damaged_blocks(chip: ChipDef, errors: Mapping[str, int]) -> tuple[BlockFlags, ...]:
    """The blocks whose flags are set."""
    return tuple(f for f in all_block_flags(chip, errors) if not f.ok)
