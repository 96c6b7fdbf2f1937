"""Images for tests: a blank chip with some fields burned."""

from __future__ import annotations

from fusebook.efuse.image import EfuseImage


def with_field(image: EfuseImage, name: str, raw: int) -> EfuseImage:
    """`image` with the raw value `raw` ORed into field `name` (bits only go 0 -> 1)."""
    f = image.chip.field(name)
    blocks = list(image.blocks)
    blocks[f.block] |= f.spread(raw)
    return image.with_blocks(tuple(blocks))
