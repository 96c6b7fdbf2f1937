"""eFuse controller drivers, one per controller family, over a RegisterBus.

`Esp32xxController` drives the PGM_DATA/CHECK_VALUE controller of every chip after the
ESP32 (one block per program command, `CMD = PGM | block << 2`); `Esp32Controller` drives
the ESP32's own controller (per-block WDATA registers, one program command for all).
Both: programming timings for the crystal, program, read command, error registers. The
same code runs on the virtual chip and, through the ROM link, on silicon.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fusebook.chips.models import BlockDef, ChipDef
from fusebook.drivers.bus import MaskedWrite, RegisterBus, write_many
from fusebook.efuse.flags import block_flags
from fusebook.efuse.image import EfuseImage
from fusebook.errors import BurnError, LinkError

#: The ROM and espefuse give the controller this long to finish a command.
COMMAND_TIMEOUT_S = 0.25
#: After a read command the ROM checks eFuse state; espefuse leaves it this long.
READ_SETTLE_US = 1000


@dataclass(frozen=True)
class BlockStatus:
    """What the controller reports for one block after a read command."""

    fail: bool
    errors: int

    @property
    def ok(self) -> bool:
        return not self.fail and self.errors == 0


class Controller:
    """Common driver behaviour; subclasses supply the family's program sequence."""

    def __init__(self, bus: RegisterBus, chip: ChipDef, xtal_mhz: int | None = None) -> None:
        self.bus = bus
        self.chip = chip
        self.xtal_mhz = xtal_mhz
        self._timing_done = False
        self._idle_known = False  # True right after we waited for the controller ourselves
        self.program_sent = False  # the last program command reached the chip

    # -- reading -------------------------------------------------------------------
    def read_block_words(self, block: BlockDef) -> list[int]:
        return [self.bus.read(block.read_addr + 4 * i) for i in range(block.words)]

    def read_errors(self) -> dict[str, int]:
        regs = self.chip.registers
        return {name: self.bus.read(regs[name]) for name in self.chip.error_registers}

    def read_identity(self) -> dict[str, int]:
        """The registers outside the eFuse block the revision needs (ESP32: APB_CTL_DATE)."""
        regs = self.chip.registers
        return {r.register: self.bus.read(regs[r.register]) for r in self.chip.revision_registers}

    def read_image(self) -> EfuseImage:
        """Every block, the error registers and the identity registers: the pre-burn read."""
        words = [self.read_block_words(b) for b in self.chip.blocks]
        return EfuseImage.from_words(self.chip, words, self.read_errors(), self.read_identity())

    def block_status(self, block_id: int, errors: dict[str, int] | None = None) -> BlockStatus:
        """The fail flag and error count of `block_id` from the error registers.

        Only the registers that hold this block's flags are read (chip data says which).
        """
        if errors is None:
            regs = self.chip.registers
            names = set(self.chip.block0_error_registers) if block_id == 0 else set()
            if block_id and block_id < len(self.chip.block_errors):
                layout = self.chip.block_errors[block_id]
                names |= {n for n in (layout.fail_register, layout.count_register) if n}
            errors = {name: self.bus.read(regs[name]) for name in sorted(names)}
        flags = block_flags(self.chip, errors, block_id)
        return BlockStatus(flags.fail, flags.errors)

    # -- helpers -------------------------------------------------------------------
    def set_timing(self) -> None:
        """Programming timings for the crystal, once per session (they do not change)."""
        if self._timing_done or not self.chip.timing:
            self._timing_done = True
            return
        freq = self.xtal_mhz
        if freq is None:
            # No link told us the crystal: the common 40 MHz, or the chip's only one.
            freq = 40 if 40 in self.chip.timing else next(iter(self.chip.timing))
        if freq not in self.chip.timing:
            raise BurnError(
                f"{self.chip.description}: no eFuse programming timing for a "
                f"{freq} MHz crystal (known: {sorted(self.chip.timing)})"
            )
        writes = []
        for step in self.chip.timing[freq]:
            shift = (step.mask & -step.mask).bit_length() - 1
            writes.append(MaskedWrite(self.chip.registers[step.register],
                                      (step.value << shift) & step.mask, step.mask))
        write_many(self.bus, writes)
        self._timing_done = True

    def _wait_idle(self, cmd_reg: int, mask: int) -> None:
        deadline = time.monotonic() + COMMAND_TIMEOUT_S
        while True:
            if self.bus.read(cmd_reg) & mask == 0:
                return
            if time.monotonic() > deadline:
                raise LinkError(
                    "the eFuse controller did not finish its command in time",
                    hint="check the chip's power and the link, then re-run: nothing is burned twice",
                )

    def program(self, block: BlockDef, words: tuple[int, ...], *, clear: bool = False) -> None:
        """Program `block` with coded `words`; `clear` wipes the write registers after
        (for key material: nothing secret is left where the link could read it)."""
        raise NotImplementedError


class Esp32xxController(Controller):
    """The PGM_DATA/CHECK_VALUE controller (ESP32-S2 and every chip after it)."""

    def _cmd_mask(self) -> int:
        c = self.chip.constants
        return c["EFUSE_PGM_CMD"] | c["EFUSE_READ_CMD"]

    def program(self, block: BlockDef, words: tuple[int, ...], *, clear: bool = False) -> None:
        """Load the write registers, program `block`, then run a read command.

        Every program loads all the words the block takes (zeros included), so nothing
        left in the write registers by an earlier program can reach this one.
        """
        regs = self.chip.registers
        c = self.chip.constants
        cmd = regs["EFUSE_CMD_REG"]
        self.set_timing()
        if not self._idle_known:
            self._wait_idle(cmd, self._cmd_mask())
        pgm = regs["EFUSE_PGM_DATA0_REG"]
        load = [MaskedWrite(pgm + 4 * i, w) for i, w in enumerate(words)]
        load.append(MaskedWrite(regs["EFUSE_CONF_REG"], c["EFUSE_WRITE_OP_CODE"]))
        load.append(MaskedWrite(cmd, c["EFUSE_PGM_CMD"] | (block.id << 2)))
        self._idle_known = False
        write_many(self.bus, load)
        self.program_sent = True
        self._wait_idle(cmd, self._cmd_mask())
        if clear:
            write_many(self.bus, [MaskedWrite(pgm + 4 * i, 0) for i in range(len(words))])
        self.read_command()

    def read_command(self) -> None:
        """Refresh the read registers from the eFuses (and the error registers)."""
        regs = self.chip.registers
        c = self.chip.constants
        cmd = regs["EFUSE_CMD_REG"]
        write_many(self.bus, [MaskedWrite(regs["EFUSE_CONF_REG"], c["EFUSE_READ_OP_CODE"]),
                              MaskedWrite(cmd, c["EFUSE_READ_CMD"])], delay_after_us=READ_SETTLE_US)
        self._wait_idle(cmd, self._cmd_mask())
        self._idle_known = True


class Esp32Controller(Controller):
    """The ESP32's own controller: WDATA registers per block, one program for all."""

    def program(self, block: BlockDef, words: tuple[int, ...], *, clear: bool = False) -> None:
        """Load the block's WDATA registers, program, then run a read command.

        The ESP32 programs every block's WDATA registers at once, so the block's WDATA
        registers are always cleared after its program: nothing of it can reach the next.
        """
        regs = self.chip.registers
        c = self.chip.constants
        cmd = regs["EFUSE_REG_CMD"]
        self.set_timing()
        if not self._idle_known:
            self._wait_idle(cmd, 0xFFFFFFFF)
        load = [MaskedWrite(block.write_addr + 4 * i, w) for i, w in enumerate(words)]
        load.append(MaskedWrite(regs["EFUSE_REG_CONF"], c["EFUSE_CONF_WRITE"]))
        load.append(MaskedWrite(cmd, c["EFUSE_CMD_WRITE"]))
        self._idle_known = False
        write_many(self.bus, load)
        self.program_sent = True
        self._wait_idle(cmd, 0xFFFFFFFF)
        write_many(self.bus, [MaskedWrite(block.write_addr + 4 * i, 0) for i in range(len(words))])
        self.read_command()

    def read_command(self) -> None:
        regs = self.chip.registers
        c = self.chip.constants
        cmd = regs["EFUSE_REG_CMD"]
        write_many(self.bus, [MaskedWrite(regs["EFUSE_REG_CONF"], c["EFUSE_CONF_READ"]),
                              MaskedWrite(cmd, c["EFUSE_CMD_READ"])], delay_after_us=READ_SETTLE_US)
        self._wait_idle(cmd, 0xFFFFFFFF)
        self._idle_known = True


def controller_for(bus: RegisterBus, chip: ChipDef, xtal_mhz: int | None = None) -> Controller:
    """The driver for `chip`'s controller family."""
    cls = Esp32Controller if chip.family == "esp32" else Esp32xxController
    return cls(bus, chip, xtal_mhz)
