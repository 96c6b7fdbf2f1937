"""A virtual eFuse controller, emulated at register level.

It owns the controller's register window (`EFUSE_MEM_SIZE` bytes from the eFuse base) and
reacts to writes of the command register the way the silicon does: a program command
takes the write registers (PGM_DATA/CHECK_VALUE, or the ESP32's per-block WDATA), checks
the coding, leaves write-protected bits alone, ORs the rest into the block, clears the
write registers and hides read-protected data. Its state persists in espefuse's
`--path-efuse-file` layout (the register window stored byte-reversed), so one file moves
between the two tools.

Error flags live where the silicon reports them, in the error registers of that window,
and they describe the stored content: a program that failed leaves its block's flags set
for every later read, connection and process (the file carries them), until a complete
program of the same bits makes the content consistent again. The ESP32 reports 3/4-coding
groups only, so under its NONE coding a failed program leaves no flag (the read-back
comparison catches it). Registers outside the window that clients read for the revision
(the ESP32's APB_CTL_DATE) are served from `identity`, default 0: the revision the eFuse
bits give on their own.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from fusebook.chips.models import BlockDef, ChipDef
from fusebook.drivers.bus import FULL_MASK, MaskedWrite
from fusebook.efuse import codecs, coding
from fusebook.efuse.image import CODING_34, EfuseImage

MASK32 = 0xFFFFFFFF


class VirtualChip:
    """An in-process eFuse controller implementing the RegisterBus protocol."""

    def __init__(
        self,
        chip: ChipDef,
        efuse_file: Path | str | None = None,
        *,
        identity: Mapping[str, int] | None = None,
    ) -> None:
        self.chip = chip
        self.efuse_file = Path(efuse_file) if efuse_file else None
        self.mem = bytearray(chip.mem_size)
        self.fail_next_programs = 0
        self.programs = 0
        #: True until the chip has state of its own (no efuse file yet, or an empty one).
        self.fresh = True
        if self.efuse_file and self.efuse_file.exists():
            data = self.efuse_file.read_bytes()
            if len(data) == chip.mem_size:
                self.mem = bytearray(data[::-1])
                self.fresh = False
        self.identity = {r.register: 0 for r in chip.revision_registers}
        self.identity.update(identity or {})
        commands = chip.commands
        self._cmd = chip.registers[commands.register]
        self._pgm_cmd = chip.constants[commands.program]
        self._read_cmd = chip.constants[commands.read]

    # -- the register bus ----------------------------------------------------------
    def owns(self, addr: int) -> bool:
        return self.chip.base <= addr < self.chip.base + self.chip.mem_size

    def read(self, addr: int) -> int:
        if not self.owns(addr):
            for name, value in self.identity.items():
                if self.chip.registers.get(name) == addr:
                    return value & MASK32
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

    def factory_mac(self) -> str | None:
        """The MAC field as read now (None: the chip has none)."""
        if not self.chip.has_field("MAC"):
            return None
        f = self.chip.field("MAC")
        return str(codecs.decode_value(self.chip, f, self._image_now().raw(f)))

    def set_factory_mac(self, mac: str) -> None:
        """Write `mac` into the MAC field as the factory does (and MAC_CRC where the chip has one).

        Factory data is written straight into the read registers, not programmed, so it
        takes no program command and leaves no error flags.
        """
        if not self.chip.has_field("MAC"):
            return
        data = codecs.parse_mac(mac)
        updates = [(self.chip.field("MAC"), codecs.encode_value(self.chip, self.chip.field("MAC"), mac))]
        if self.chip.has_field("MAC_CRC"):
            updates.append((self.chip.field("MAC_CRC"), codecs.crc8_custom_mac(data)))
        for f, raw in updates:
            blk = self.chip.blocks[f.block]
            current = self._image_now().blocks[blk.id]
            merged = (current & ~f.mask) | f.spread(raw)
            for i in range(blk.words):
                self._poke(blk.read_addr + 4 * i, (merged >> (32 * i)) & MASK32)

    def hold(self, image: EfuseImage) -> None:
        """Hold `image` in the read and error registers, as a chip burned so would.

        Tests start a chip in a known state this way without a file; data the image's
        protections hide reads as zero, as on silicon.
        """
        for b in self.chip.blocks:
            for i, w in enumerate(image.words(b.id)):
                self._poke(b.read_addr + 4 * i, w)
        for name, value in image.errors.items():
            self._poke(self.chip.registers[name], value)
        self.fresh = False
        self._hide_read_protected()

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
        shift = self.chip.commands.block_shift
        if shift is None:  # one program command burns every block's write registers
            if value == self._pgm_cmd:
                self._program_all()
        elif value & self._pgm_cmd:
            self._program_block((value >> shift) & 0xF)
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
            self._flag_block(blk, data[: blk.words], failed=True)
        else:
            self._burn(blk, data[: blk.words])
            self._flag_block(blk, data[: blk.words], failed=not ok)
        for i in range(11):
            self._poke(pgm + 4 * i, 0)
        self._hide_read_protected()

    def _program_all(self) -> None:
        """The ESP32's controller: one program command burns every block's WDATA registers."""
        image = self._image_now()
        self.programs += 1
        failing = self.fail_next_programs > 0
        if failing:
            self.fail_next_programs -= 1
        for blk in reversed(self.chip.blocks):
            words = self._words(blk.write_addr, blk.words)
            if not any(words):
                continue
            coded = blk.id != 0 and image.coding(blk) == CODING_34
            bad_groups = 0
            touched = 0
            if coded:
                data, _ = coding.decode_34(words)
                good = coding.encode_34(data)
                for g in range(4):
                    if words[2 * g] or words[2 * g + 1]:
                        touched |= 1 << g
                    if tuple(words[2 * g : 2 * g + 2]) != tuple(good[2 * g : 2 * g + 2]):
                        bad_groups |= 1 << g
                words = list(coding.plain_words(data, blk.words))
            if not failing:
                self._burn(blk, words)
            if coded:
                self._flag_groups(blk, touched if failing else bad_groups, touched)
        for blk in self.chip.blocks:
            for i in range(blk.words):
                self._poke(blk.write_addr + 4 * i, 0)
        self._hide_read_protected()

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

    # -- error flags -----------------------------------------------------------------
    def _update(self, name: str, set_bits: int, clear_bits: int) -> None:
        addr = self.chip.registers[name]
        self._poke(addr, (self.read(addr) & ~clear_bits) | set_bits)

    def _flag_block(self, blk: BlockDef, words: list[int], *, failed: bool) -> None:
        """Set (failed) or clear (a complete program) the flags of what this program wrote.

        BLOCK0: the repeat-error bits mirror the block's last words bit for bit, so the
        bits this program asked for are the ones flagged. Other blocks: the RS fail bit
        and an error count.
        """
        if blk.id == 0:
            regs = self.chip.block0_error_registers
            if not regs:
                return
            first_word = max(0, blk.words - len(regs))
            asked = [words[first_word + i] if first_word + i < len(words) else 0 for i in range(len(regs))]
            if failed and not any(asked):
                asked[0] = 1  # only WR_DIS asked for: flag the block all the same
            for name, bits in zip(regs, asked, strict=True):
                self._update(name, bits if failed else 0, 0 if failed else bits)
            return
        if blk.id >= len(self.chip.block_errors):
            return
        layout = self.chip.block_errors[blk.id]
        if layout.fail_register is not None and layout.fail_bits:
            self._update(layout.fail_register, layout.fail_bits if failed else 0,
                         0 if failed else layout.fail_bits)
        if layout.count_register is not None and layout.count_mask:
            field = layout.count_mask << (layout.count_shift or 0)
            self._update(layout.count_register, (1 << (layout.count_shift or 0)) if failed else 0, field)

    def _flag_groups(self, blk: BlockDef, bad: int, touched: int) -> None:
        """ESP32: flag the 3/4-coding groups that do not decode, clear the others written."""
        layout = self.chip.block_errors[blk.id] if blk.id < len(self.chip.block_errors) else None
        if layout is None or layout.fail_register is None or not layout.fail_bits:
            return
        shift = (layout.fail_bits & -layout.fail_bits).bit_length() - 1
        self._update(layout.fail_register, (bad << shift) & layout.fail_bits,
                     ((touched & ~bad) << shift) & layout.fail_bits)


#: Espressif's IEEE OUI (7C:DF:A1, Espressif Inc.): virtual chips' factory MACs start with
#: it, so they look like what the factory burns and never like an unset (all-zero) MAC.
VIRTUAL_OUI = bytes.fromhex("7CDFA1")


def default_factory_mac(efuse_file: Path | None) -> str:
    """A new virtual chip's factory MAC: derived from its efuse file's path, else random.

    The same file path always gives the same MAC (a fresh process sees the same chip); two
    files, or two in-memory chips, give different ones.
    """
    import hashlib
    import secrets

    if efuse_file is not None:
        tail = hashlib.sha256(str(efuse_file.resolve()).encode()).digest()[:3]
    else:
        tail = secrets.token_bytes(3)
    return codecs.format_mac(VIRTUAL_OUI + tail)


def open_virtual(
    chip: ChipDef,
    efuse_file: Path | str | None = None,
    *,
    factory_mac: str | None = None,
    identity: Mapping[str, int] | None = None,
) -> VirtualChip:
    """A virtual chip with a factory MAC, as it leaves the factory.

    A new chip (no efuse file yet) gets `factory_mac`, or `default_factory_mac`. A chip
    from a file keeps its own; `factory_mac` may fill one left all-zero (a blank espefuse
    file) but never change one, which silicon cannot do either.
    """
    from fusebook.errors import InputError

    vc = VirtualChip(chip, efuse_file, identity=identity)
    if not chip.has_field("MAC"):
        return vc
    wanted = factory_mac.strip().lower() if factory_mac else None
    if wanted is not None:
        codecs.parse_mac(wanted)  # exit 2 on a malformed or multicast MAC
    if vc.fresh:
        vc.set_factory_mac(wanted or default_factory_mac(vc.efuse_file))
        if wanted is not None:
            vc.save()
        return vc
    if wanted is None:
        return vc
    current = vc.factory_mac() or ""
    if current == wanted:
        return vc
    if current.replace(":", "").strip("0"):
        raise InputError(
            f"the virtual chip in {vc.efuse_file} already has factory MAC {current}",
            hint="a factory MAC is set once; drop --factory-mac or use a new --efuse-file",
        )
    vc.set_factory_mac(wanted)
    vc.save()
    return vc
