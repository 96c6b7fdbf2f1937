"""fusebook's RegisterBus over espefuse's own eFuse controller emulator.

fusebook's virtual chip is built from fusebook's chip data, so a mistake shared by the
data and the Controller (a register address, a command value, the RS or 3/4 coding, the
block a program command names) would pass every test run against it. espefuse's
emulator (`espefuse.efuse.<chip>.emulate_efuse_controller`) is written from Espressif's
facts independently: it reacts to writes of the command register, checks the coding of
what the write registers hold, leaves write-protected bits alone and hides read-protected
data. Driving fusebook's Controller against it is a second oracle for the register
traffic itself.

The bus is honest: every read and write of the Controller reaches the emulator unchanged
(masked writes arrive as the read-modify-write the bus protocol prescribes). One thing
the emulator does differently from the silicon is made up for here, and only that: the
ESP32's emulator burns its write registers when the *read* command comes (espefuse always
reads straight after programming), while the silicon burns them at the program command;
fusebook clears the WDATA registers between the two (ESP-IDF's HAL, too, clears the
program registers before its read command), so right after the program command this bus
asks the emulator to run its own burn routine. What is burned,
how the coding is checked and which bits are protected stay the emulator's.

The reference burn is espefuse's own, on a second emulator. There one simplification of
the emulator is set right (`esptool_update_reg`): its `update_reg` ORs the value in
unshifted, where esptool's, talking to a chip, shifts it into the mask and replaces those
bits. With esptool's, the programming timings espefuse sets up land where they land on a
chip, so the register window can be compared (all of it but the write registers): the eFuse
words, the error registers and the timing registers fusebook's chip data gives the
Controller.
"""

from __future__ import annotations

import contextlib
import importlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from espefuse.efuse.emulate_efuse_controller_base import EmulateEfuseControllerBase
from esptool.loader import ESPLoader

from fusebook import api
from fusebook.drivers.controller import controller_for


def emulator(chip: str, efuse_file: Path | None = None) -> Any:
    """espefuse's emulator of `chip`, on `efuse_file` (espefuse's layout) or in memory."""
    module = importlib.import_module(f"espefuse.efuse.{chip}.emulate_efuse_controller")
    with contextlib.redirect_stdout(io.StringIO()):
        return module.EmulateEfuseController(str(efuse_file) if efuse_file else None)


class EspefuseEmulatorBus:
    """The RegisterBus protocol (`read`, `write`) over one espefuse emulator."""

    def __init__(self, emu: Any) -> None:
        self.emu = emu
        self.writes: list[tuple[int, int]] = []
        regs = emu.REGS
        # the ESP32's controller (EFUSE_REG_CMD) is the one whose emulator burns late
        self._late_burn = (regs.EFUSE_REG_CMD, regs.EFUSE_CMD_WRITE) if hasattr(regs, "EFUSE_REG_CMD") else None

    def read(self, addr: int) -> int:
        return int(self.emu.read_reg(addr))

    def write(self, addr: int, value: int, *, delay_after_us: int = 0) -> None:
        self.writes.append((addr, value))
        with contextlib.redirect_stdout(io.StringIO()):
            self.emu.write_reg(addr, value, delay_after_us=delay_after_us)
            if self._late_burn == (addr, value):
                self.emu.copy_blocks_wr_regs_to_rd_regs()

    # -- what the tests compare ------------------------------------------------------
    def program_commands(self) -> list[int]:
        """The program commands the emulator received, in order (the command values)."""
        regs = self.emu.REGS
        if self._late_burn is not None:
            return [v for a, v in self.writes if (a, v) == self._late_burn]
        return [v for a, v in self.writes if a == regs.EFUSE_CMD_REG and v & regs.EFUSE_PGM_CMD]


@contextlib.contextmanager
def esptool_update_reg() -> Iterator[None]:
    """espefuse's burns in this block run esptool's `update_reg` (shift into the mask,
    replace those bits) on the emulator, as they would on a chip."""
    original = EmulateEfuseControllerBase.update_reg

    def update_reg(self: Any, addr: int, mask: int, new_val: int) -> None:
        ESPLoader.update_reg(self, addr, mask, new_val)

    EmulateEfuseControllerBase.update_reg = update_reg  # type: ignore[method-assign]
    try:
        yield
    finally:
        EmulateEfuseControllerBase.update_reg = original  # type: ignore[method-assign]


def write_registers(emu: Any) -> set[int]:
    """The write registers (PGM_DATA and CHECK_VALUE, or the ESP32's WDATA), by the
    emulator's own extent of them. They are scratch: fusebook clears them after key
    material, espefuse leaves what it wrote; what was burned is in the read registers."""
    out: set[int] = set()
    for name in emu.Blocks.BLOCKS:
        blk = emu.Blocks.get(name)
        out.update(blk.wr_addr + 4 * i for i in range(emu.get_bitlen_of_block(blk, wr=True) // 32))
    return out


def register_window(emu: Any) -> dict[int, int]:
    """Every register of the emulated controller's window but the write registers, by address."""
    base, size = emu.REGS.DR_REG_EFUSE_BASE, emu.REGS.EFUSE_MEM_SIZE
    scratch = write_registers(emu)
    return {addr: int(emu.read_reg(addr)) for addr in range(base, base + size, 4) if addr not in scratch}


def window_differences(mine: Any, reference: Any) -> list[str]:
    """The registers whose values differ, named by block word where they are one."""
    names = {}
    for name in reference.Blocks.BLOCKS:
        blk = reference.Blocks.get(name)
        for i in range(blk.len):
            names[blk.rd_addr + 4 * i] = f"{blk.name} word {i}"
    a, b = register_window(mine), register_window(reference)
    return [f"{names.get(addr, hex(addr))}: fusebook {a[addr]:#010x}, espefuse {b[addr]:#010x}"
            for addr in a if a[addr] != b[addr]]


def apply_on_emulator(chip: str, efuse_file: Path, recipe: Path) -> tuple[api.ApplyOutcome, EspefuseEmulatorBus]:
    """Apply `recipe` the user's way (`fusebook.api`), its Controller on espefuse's emulator
    of the chip in `efuse_file`."""
    bus = EspefuseEmulatorBus(emulator(chip, efuse_file))
    definition = api.load_chip(chip)
    session = api.Session(definition, controller_for(bus, definition), f"espefuse-emulator:{efuse_file}")
    return api.apply(api.load_recipe(recipe), session), bus
