"""Chip facts that code outside fusebook/chips must honour (see docs/chips.md, "For
maintainers")."""

from __future__ import annotations

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.efuse.view import ImageValues


def test_image_reads_combined_fields_through_their_parts() -> None:
    chip = load_chip("esp32p4", 300)
    f = chip.field("KEY_PURPOSE_0")
    image = EfuseImage.blank(chip).with_blocks((f.spread(16),) + EfuseImage.blank(chip).blocks[1:])
    assert image.raw(f) == 16
    assert ImageValues(image).value("KEY_PURPOSE_0") == "ECDSA_KEY_P192"


def test_image_hides_only_the_read_protected_half_of_esp32c2_key0() -> None:
    chip = load_chip("esp32c2")
    rd = chip.field("RD_DIS")
    key = chip.field("BLOCK_KEY0")
    blocks = list(EfuseImage.blank(chip).blocks)
    blocks[0] |= rd.spread(0b01)
    blocks[key.block] = (1 << 256) - 1
    shown = EfuseImage(chip, tuple(blocks)).as_read()
    assert shown.blocks[key.block] == ((1 << 128) - 1) << 128


def test_image_revision_follows_the_chip_quirks() -> None:
    chip = load_chip("esp32s3")
    blocks = list(EfuseImage.blank(chip).blocks)
    for name, value in {"WAFER_VERSION_MAJOR": 1, "BLK_VERSION_MAJOR": 1, "BLK_VERSION_MINOR": 1}.items():
        f = chip.field(name)
        blocks[f.block] |= f.spread(value)
    assert EfuseImage(chip, tuple(blocks)).revision == 0


def test_esp32_key_blocks_read_24_bytes_under_34_coding() -> None:
    chip = load_chip("esp32")
    f = chip.field("CODING_SCHEME")
    blocks = list(EfuseImage.blank(chip).blocks)
    blocks[0] |= f.spread(1)
    image = EfuseImage(chip, tuple(blocks))
    assert ImageValues(image).value("BLOCK1") == image.block_bytes(1).hex()
