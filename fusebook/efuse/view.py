"""The eFuse values that recipes' templates and expressions see (`efuses.NAME`, ...).

A thin, read-only view over an `EfuseImage`: values in the user's words (ints, bools,
'aa:bb:..' MACs, hex bytes, key-purpose names), plus readable/writeable/meaning.
"""

from __future__ import annotations

from collections.abc import Iterable

from fusebook.efuse import codecs
from fusebook.efuse.image import EfuseImage


class ImageValues:
    """Implements the recipe layer's `EfuseValues` protocol over an image."""

    __slots__ = ("_cache", "image")

    def __init__(self, image: EfuseImage) -> None:
        self.image = image
        self._cache: dict[str, object] = {}

    def value(self, name: str) -> int | bool | str:
        try:
            return self._cache[name]  # type: ignore[return-value]
        except KeyError:
            pass
        chip = self.image.chip
        f = chip.field(name) if chip.has_field(name) else None
        if f is None or (f.klass == "keyblock" and f.start == 0 and chip.has_block(name)):
            # a whole block: its data bytes under the coding scheme (ESP32 3/4: 24)
            block = chip.block(name).id if chip.has_block(name) else f.block  # type: ignore[union-attr]
            v: int | bool | str = self.image.block_bytes(block).hex()
        else:
            v = codecs.decode_value(chip, f, self.image.raw(f))
        self._cache[name] = v
        return v

    def readable(self, name: str) -> bool:
        return self.image.readable(name)

    def writeable(self, name: str) -> bool:
        return self.image.writeable(name)

    def meaning(self, name: str) -> str:
        chip = self.image.chip
        f = chip.field(name)
        return codecs.meaning(chip, f, self.image.raw(f))

    def names(self) -> Iterable[str]:
        chip = self.image.chip
        return [n for f in chip.fields for n in f.names] + [n for b in chip.blocks for n in b.names]
