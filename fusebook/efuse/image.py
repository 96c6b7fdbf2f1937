"""The eFuse image: a chip's blocks as read, as immutable integers.

Each block is one integer: word i of the block's read registers sits at bits 32*i.
A field is then a shift and a mask away, which keeps planning pure and fast. Protection
(WR_DIS / RD_DIS) is answered from the image itself, as the silicon applies it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fusebook.chips.models import BlockDef, ChipDef, FieldDef

CODING_NONE = "none"
CODING_34 = "3/4"
CODING_REPEAT = "repeat"
CODING_RS = "rs"


@dataclass(frozen=True)
class EfuseImage:
    """A snapshot of every block of one chip (read values; read-protected data reads 0).

    `errors` holds the error registers as read with the blocks; `identity` the registers
    outside the eFuse block the revision needs (the ESP32's APB_CTL_DATE).
    """

    chip: ChipDef
    blocks: tuple[int, ...]
    errors: Mapping[str, int] = field(default_factory=dict)
    identity: Mapping[str, int] = field(default_factory=dict)

    # -- construction --------------------------------------------------------------
    @classmethod
    def blank(cls, chip: ChipDef) -> EfuseImage:
        return cls(chip, tuple(0 for _ in chip.blocks))

    @classmethod
    def from_words(
        cls,
        chip: ChipDef,
        words: Iterable[Iterable[int]],
        errors: Mapping[str, int] | None = None,
        identity: Mapping[str, int] | None = None,
    ) -> EfuseImage:
        blocks = []
        for ws in words:
            v = 0
            for i, w in enumerate(ws):
                v |= (int(w) & 0xFFFFFFFF) << (32 * i)
            blocks.append(v)
        if len(blocks) != len(chip.blocks):
            raise ValueError(f"{chip.name} has {len(chip.blocks)} blocks, got {len(blocks)}")
        return cls(chip, tuple(blocks), dict(errors or {}), dict(identity or {}))

    def words(self, block: int) -> tuple[int, ...]:
        v = self.blocks[block]
        return tuple((v >> (32 * i)) & 0xFFFFFFFF for i in range(self.chip.blocks[block].words))

    def with_blocks(self, blocks: tuple[int, ...]) -> EfuseImage:
        return EfuseImage(self.chip, blocks, self.errors, self.identity)

    def with_chip(self, chip: ChipDef) -> EfuseImage:
        """The same content over another table of the chip (a custom eFuse table)."""
        return EfuseImage(chip, self.blocks, self.errors, self.identity)

    # -- fields --------------------------------------------------------------------
    def raw(self, f: FieldDef | str) -> int:
        fd = self.chip.field(f) if isinstance(f, str) else f
        return fd.gather(self.blocks[fd.block])

    @property
    def wr_dis(self) -> int:
        return self.raw("WR_DIS")

    @property
    def rd_dis(self) -> int:
        return self.raw("RD_DIS")

    # -- protection ----------------------------------------------------------------
    def _protect_bits(self, name: str) -> tuple[int | None, tuple[int, ...]]:
        if self.chip.has_field(name):
            f = self.chip.field(name)
            return f.wr_dis, f.rd_dis
        b = self.chip.block(name)
        return b.wr_dis, b.rd_dis

    def writeable(self, name: str) -> bool:
        """False once the WR_DIS bit guarding `name` (a field or block name) is burned."""
        wr, _ = self._protect_bits(name)
        return wr is None or not (self.wr_dis >> wr) & 1

    def readable(self, name: str) -> bool:
        """False once any RD_DIS bit guarding `name` is burned (its data then reads as 0)."""
        _, rd = self._protect_bits(name)
        rd_dis = self.rd_dis if rd else 0
        return not any((rd_dis >> b) & 1 for b in rd)

    def block_writeable(self, block: BlockDef) -> bool:
        return block.wr_dis is None or not (self.wr_dis >> block.wr_dis) & 1

    def block_readable(self, block: BlockDef) -> bool:
        return not any((self.rd_dis >> b) & 1 for b in block.rd_dis)

    def field_writeable(self, f: FieldDef) -> bool:
        """A field is writeable if neither its own WR_DIS bit nor its block's is burned."""
        wr = self.wr_dis
        if f.wr_dis is not None and (wr >> f.wr_dis) & 1:
            return False
        b = self.chip.blocks[f.block]
        return b.wr_dis is None or not (wr >> b.wr_dis) & 1

    def field_readable(self, f: FieldDef) -> bool:
        """A field's own read-disable bits decide (ESP32-C2 protects BLOCK_KEY0 by halves);
        a field without any is hidden with its block."""
        rd = self.rd_dis
        bits = f.rd_dis or self.chip.blocks[f.block].rd_dis
        return not any((rd >> b) & 1 for b in bits)

    # -- coding --------------------------------------------------------------------
    def coding(self, block: BlockDef | int) -> str:
        """The coding scheme of `block` on this chip, as the silicon will apply it."""
        b = self.chip.blocks[block] if isinstance(block, int) else block
        if b.coding == "none":
            return CODING_NONE
        if b.coding == "rs":
            return CODING_RS
        scheme = self.raw("CODING_SCHEME")
        return {0: CODING_NONE, 1: CODING_34, 2: CODING_REPEAT, 3: CODING_NONE}[scheme]

    def data_bytes(self, block: BlockDef | int) -> int:
        """How many data bytes the block holds under its coding scheme."""
        b = self.chip.blocks[block] if isinstance(block, int) else block
        c = self.coding(b)
        if c == CODING_34:
            return 24
        if c == CODING_REPEAT:
            return 16
        return b.words * 4

    def field_fits(self, f: FieldDef) -> bool:
        """Whether every bit of `f` lies in its block's data under the coding scheme in effect.

        An ESP32 block under 3/4 coding holds bits 0..191 only; a custom table may name more.
        """
        return self.bits_fit(f.block, f.mask)

    def bits_fit(self, block: int, bits: int) -> bool:
        """Whether `bits` (over the block as one integer) lie in its data under its coding scheme."""
        return bits.bit_length() <= self.data_bytes(block) * 8

    def block_bytes(self, block: int) -> bytes:
        """The block's data as stored (little-endian words), trimmed to its data length."""
        b = self.chip.blocks[block]
        raw = self.blocks[block].to_bytes(b.words * 4, "little")
        return raw[: self.data_bytes(b)]

    # -- identity ------------------------------------------------------------------
    @functools.cached_property
    def _revision(self) -> tuple[int, int]:
        return self.chip.revision_of(self.raw, self.identity)

    @property
    def revision(self) -> int:
        """major*100 + minor, as espefuse and ESP-IDF count chip revisions."""
        major, minor = self._revision
        return major * 100 + minor

    @property
    def revision_major(self) -> int:
        """ESP32: v3 only with APB_CTL_DATE in `identity` (read from the chip), else v0..v2."""
        return self._revision[0]

    @property
    def revision_minor(self) -> int:
        return self._revision[1]

    def digest(self) -> str:
        """SHA-256 over the chip name and every block: binds saved plans to a chip state."""
        import hashlib

        h = hashlib.sha256(self.chip.name.encode())
        for i, b in enumerate(self.chip.blocks):
            h.update(self.blocks[i].to_bytes(b.words * 4, "little"))
        return h.hexdigest()

    def as_read(self) -> EfuseImage:
        """The image as software reads it: read-protected blocks and fields are zero."""
        rd = self.rd_dis
        if not rd:
            return self
        blocks = list(self.blocks)
        for blk in self.chip.blocks:
            if len(blk.rd_dis) > 1:
                # One bit per equal slice of the block, from the low bits up (ESP32-C2's
                # BLOCK_KEY0 has a read-disable bit for each 128-bit half).
                width = blk.words * 32 // len(blk.rd_dis)
                for k, b in enumerate(blk.rd_dis):
                    if (rd >> b) & 1:
                        blocks[blk.id] &= ~(((1 << width) - 1) << (k * width))
                continue
            if blk.rd_dis and (rd >> blk.rd_dis[0]) & 1:
                blocks[blk.id] = 0
                continue
            for f in self.chip.fields_in_block(blk.id):
                if f.rd_dis and any((rd >> b) & 1 for b in f.rd_dis):
                    blocks[blk.id] &= ~f.mask
        return self.with_blocks(tuple(blocks))
