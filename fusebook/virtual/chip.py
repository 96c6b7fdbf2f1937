"""A virtual eFuse controller, emulated at register level.

It owns the controller's register window (`EFUSE_MEM_SIZE` bytes from the eFuse base) and
reacts to writes of the command register the way the silicon does: a program command
takes the write registers (PGM_DATA/CHECK_VALUE, or the ESP32's per-block WDATA), checks
the coding, leaves write-protected bits alone, ORs the rest into the block, clears the
write registers and hides read-protected data. Its state persists in espefuse's
`--path-efuse-file` layout (the register window stored byte-reversed), so one file moves
between the two tools.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fusebook.chips.models import BlockDef, ChipDef
from fusebook.drivers.bus import FULL_MASK, MaskedWrite
from fusebook.efuse import coding
from fusebook.efuse.image import CODING_34, EfuseImage

MASK32 = 0xFFFFFFFF
#: ESP32 revision bit outside the eFuse window (APB_CTL_DATE bit 31), as a v3 chip reads it.
_APB_DATE_BIT = 1 << 31


class VirtualChip:
    """An in-process eFuse controller implementing the RegisterBus protocol."""

    def __init__(self, chip: ChipDef, efuse_file: Path | str | None = None) -> None:
        self.chip = chip
        self.efuse_file = Path(efuse_file) if efuse_file else None
        self.mem = bytearray(chip.mem_size)
        self.fail_next_programs = 0
        self.programs = 0
        self._faulty_blocks: set[int] = set()
        if self.efuse_file and self.efuse_file.exists():
            data = self.efuse_file.read_bytes()
            if len(data) == chip.mem_size:
                self.mem = bytearray(data[::-1])
        regs = chip.registers
        if chip.family == "esp32":
            self._cmd = regs["EFUSE_REG_CMD"]
            self._pgm_cmd = chip.constants["EFUSE_CMD_WRITE"]
            self._read_cmd = chip.constants["EFUSE_CMD_READ"]
        else:
            self._cmd = regs["EFUSE_CMD_REG"]
            self._pgm_cmd = chip.constants["EFUSE_PGM_CMD"]
            self._read_cmd = chip.constants["EFUSE_READ_CMD"]

    # -- the register bus ----------------------------------------------------------
    def owns(self, addr: int) -> bool:
        return self.chip.base <= addr < self.chip.base + self.chip.mem_size

    def read(self, addr: int) -> int:
        if not self.owns(addr):
            if self.chip.family == "esp32" and addr == self.chip.registers.get("APB_CTL_DATE_ADDR"):
                return _APB_DATE_BIT
            return 0
        off = addr - self.chip.base
        return int.from_bytes(self.mem[off : off + 4], "little")

    def write(self, addr: int, value: int, *, delay_after_us: int = 0) -> None:
        if not self.owns(addr):
            return
        self._poke(addr, value)
        if addr == self._cmd:
            self._command(value & MASK32)

    def write_many(self, writes: list[MaskedWrite], *, delay_after_us: int = 0) -> None:
        """Masked writes applied in order, as the ROM applies a multi-entry WRITE_REG."""
        for w in writes:
            value = w.value
            if w.mask != FULL_MASK:
                value = (self.read(w.addr) & ~w.mask) | (w.value & w.mask)
            self.write(w.addr, value)

    def _poke(self, addr: int, value: int) -> None:
        off = addr - self.chip.base
        self.mem[off : off + 4] = (value & MASK32).to_bytes(4, "little")

    def _words(self, addr: int, n: int) -> list[int]:
        return [self.read(addr + 4 * i) for i in range(n)]

    # -- persistence ---------------------------------------------------------------
    def save(self) -> None:
        """Write the register window to the efuse file atomically (espefuse's layout)."""
        if not self.efuse_file:
            return
        fd, tmp = tempfile.mkstemp(dir=str(self.efuse_file.parent), prefix=".efuse-")
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(self.mem[::-1]))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.efuse_file)

    def image(self) -> EfuseImage:
        """The blocks as the read registers show them now (a test and snapshot convenience)."""
        return EfuseImage.from_words(
            self.chip,
            [self._words(b.read_addr, b.words) for b in self.chip.blocks],
            {name: self.read(self.chip.registers[name]) for name in self.chip.error_registers},
        )

    # -- the controller ------------------------------------------------------------
    def _command(self, value: int) -> None:
        if self.chip.family == "esp32":
            if value == self._pgm_cmd:
                self._program_esp32()
            self._poke(self._cmd, 0)
            self.save()
            return
        if value & self._pgm_cmd:
            self._program_block((value >> 2) & 0xF)
        self._poke(self._cmd, 0)
        self.save()

    def _image_now(self) -> EfuseImage:
        return EfuseImage.from_words(
            self.chip, [self._words(b.read_addr, b.words) for b in self.chip.blocks]
        )

    def _program_block(self, block_id: int) -> None:
        """PGM_DATA/CHECK_VALUE controller: program one block, as the TRMs describe."""
        if block_id >= len(self.chip.blocks):
            return
        blk = self.chip.blocks[block_id]
        pgm = self.chip.registers["EFUSE_PGM_DATA0_REG"]
        data = self._words(pgm, 8)
        ok = True
        if block_id != 0:
            check = self._words(self.chip.registers["EFUSE_CHECK_VALUE0_REG"], 3)
            ok = coding.rs_check(data + check)
        self.programs += 1
        if self.fail_next_programs > 0:
            self.fail_next_programs -= 1
            self._faulty_blocks.add(block_id)
        else:
            self._burn(blk, data[: blk.words])
            if ok:
                self._faulty_blocks.discard(block_id)
            else:
                self._faulty_blocks.add(block_id)
        for i in range(11):
            self._poke(pgm + 4 * i, 0)
        self._hide_read_protected()
        self._update_error_registers()

    def _program_esp32(self) -> None:
        """ESP32 controller: one program command burns every block's WDATA registers."""
        image = self._image_now()
        self.programs += 1
        failing = self.fail_next_programs > 0
        if failing:
            self.fail_next_programs -= 1
        for blk in reversed(self.chip.blocks):
            words = self._words(blk.write_addr, blk.words)
            if not any(words):
                continue
            ok = True
            if blk.id != 0 and image.coding(blk) == CODING_34:
                data, ok = coding.decode_34(words)
                words = list(coding.plain_words(data, blk.words))
            if failing:
                self._faulty_blocks.add(blk.id)
                continue
            self._burn(blk, words)
            if not ok:
                self._faulty_blocks.add(blk.id)
        for blk in self.chip.blocks:
            for i in range(blk.words):
                self._poke(blk.write_addr + 4 * i, 0)
        self._hide_read_protected()
        self._update_error_registers()

    def _burn(self, blk: BlockDef, words: list[int]) -> None:
        """OR `words` into the block, except bits guarded by a burned write-disable bit."""
        image = self._image_now()
        new = 0
        for i, w in enumerate(words[: blk.words]):
            new |= (w & MASK32) << (32 * i)
        new &= ~self._write_protected_mask(image, blk)
        current = image.blocks[blk.id]
        merged = current | new
        for i in range(blk.words):
            self._poke(blk.read_addr + 4 * i, (merged >> (32 * i)) & MASK32)

    def _write_protected_mask(self, image: EfuseImage, blk: BlockDef) -> int:
        if not image.block_writeable(blk):
            return (1 << (32 * blk.words)) - 1
        mask = 0
        wr = image.wr_dis
        for f in self.chip.fields_in_block(blk.id):
            if f.wr_dis is not None and (wr >> f.wr_dis) & 1:
                mask |= f.mask
        return mask

    def _hide_read_protected(self) -> None:
        """Read-protected blocks and fields read as zero, as software sees them."""
        image = self._image_now()
        visible = image.as_read()
        for blk in self.chip.blocks:
            if visible.blocks[blk.id] != image.blocks[blk.id]:
                for i in range(blk.words):
                    self._poke(blk.read_addr + 4 * i, (visible.blocks[blk.id] >> (32 * i)) & MASK32)

    def _update_error_registers(self) -> None:
        """Reflect blocks whose last program failed in the chip's error registers."""
        regs = self.chip.registers
        for name in self.chip.error_registers:
            self._poke(regs[name], 0)
        for block_id in sorted(self._faulty_blocks):
            if self.chip.family == "esp32":
                name = "EFUSE_REG_DEC_STATUS"
                self._poke(regs[name], self.read(regs[name]) | 0x1)
                continue
            if block_id == 0:
                if self.chip.block0_error_registers:
                    name = self.chip.block0_error_registers[0]
                    self._poke(regs[name], self.read(regs[name]) | 0x1)
                continue
            layout = self.chip.block_errors[block_id]
            if layout.fail_register is not None and layout.fail_bit is not None:
                addr = regs[layout.fail_register]
                self._poke(addr, self.read(addr) | (1 << layout.fail_bit))
            if layout.count_register is not None and layout.count_mask:
                addr = regs[layout.count_register]
                self._poke(addr, self.read(addr) | ((1 & layout.count_mask) << (layout.count_shift or 0)))
