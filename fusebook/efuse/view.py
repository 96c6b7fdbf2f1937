"""The eFuse values that recipes' templates and expressions see (`efuses.NAME`, ...).

A thin, read-only view over an `EfuseImage`: values in the user's words (ints, bools,
'aa:bb:..' MACs, hex bytes, key-purpose names), plus readable/writeable/meaning.

Values of bits that may hold secrets (`secret`, per block id: the bits that the snapshot
layer's `secret_bits` names) come back as a `SecretValue`, so that a template or a
`require`/`ensure` message can compare them but never print them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fusebook.efuse import codecs
from fusebook.efuse.image import EfuseImage
from fusebook.secret import SecretValue


class ImageValues:
    """Implements the recipe layer's `EfuseValues` protocol over an image."""

    __slots__ = ("_cache", "image", "secret")

    def __init__(self, image: EfuseImage, secret: Mapping[int, int] | None = None) -> None:
        self.image = image
        self.secret: Mapping[int, int] = secret or {}
        self._cache: dict[str, object] = {}

    def value(self, name: str) -> int | bool | str | SecretValue:
        try:
            return self._cache[name]  # type: ignore[return-value]
        except KeyError:
            pass
        chip = self.image.chip
        f = chip.field(name) if chip.has_field(name) else None
        if f is None or (f.klass == "keyblock" and f.start == 0 and chip.has_block(name)):
            # a whole block: its data bytes under the coding scheme (ESP32 3/4: 24)
            block = chip.block(name).id  # an unknown name is refused here, naming it
            v: int | bool | str | SecretValue = self.image.block_bytes(block).hex()
            tainted = bool(self.secret.get(block, 0))
        else:
            v = codecs.decode_value(chip, f, self.image.raw(f))
            tainted = bool(self.secret.get(f.block, 0) & f.mask)
        if tainted:
            v = SecretValue(v)
        self._cache[name] = v
        return v

    def readable(self, name: str) -> bool:
        return self.image.readable(name)

    def writeable(self, name: str) -> bool:
        return self.image.writeable(name)

    def meaning(self, name: str) -> str:
        chip = self.image.chip
        f = chip.field(name)
        text = codecs.meaning(chip, f, self.image.raw(f))
        return str(SecretValue(text)) if self.secret.get(f.block, 0) & f.mask else text

    def names(self) -> Iterable[str]:
        chip = self.image.chip
        return [n for f in chip.fields for n in f.names] + [n for b in chip.blocks for n in b.names]
