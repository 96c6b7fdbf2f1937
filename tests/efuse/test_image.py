"""What an image answers about protection by name, its digest, and a change of table."""

from __future__ import annotations

import hashlib

import pytest

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from tests.images import with_field

C3 = load_chip("esp32c3")
ESP32 = load_chip("esp32")



@pytest.mark.parametrize("name", ["SOFT_DIS_JTAG", "BLOCK_KEY0", "BLOCK4"])
def test_writeable_by_name_follows_the_guarding_wr_dis_bit(name: str) -> None:
    blank = EfuseImage.blank(C3)
    bit = C3.field(name).wr_dis if C3.has_field(name) else C3.block(name).wr_dis
    assert bit is not None
    assert blank.writeable(name)
    assert not with_field(blank, "WR_DIS", 1 << bit).writeable(name)
    other = 0 if bit else 1
    assert with_field(blank, "WR_DIS", 1 << other).writeable(name)


def test_a_name_without_a_wr_dis_bit_stays_writeable() -> None:
    assert with_field(EfuseImage.blank(C3), "WR_DIS", 0xFFFFFFFF).writeable("BLOCK0")


@pytest.mark.parametrize("name", ["BLOCK_KEY0", "BLOCK4", "BLOCK_SYS_DATA2"])
def test_readable_by_name_follows_the_guarding_rd_dis_bit(name: str) -> None:
    blank = EfuseImage.blank(C3)
    bits = C3.field(name).rd_dis if C3.has_field(name) else C3.block(name).rd_dis
    assert blank.readable(name)
    for b in bits:
        assert not with_field(blank, "RD_DIS", 1 << b).readable(name)
    others = sum(1 << b for b in range(C3.field("RD_DIS").bits) if b not in bits)
    assert with_field(blank, "RD_DIS", others).readable(name)


def test_a_name_without_rd_dis_bits_stays_readable() -> None:
    assert with_field(EfuseImage.blank(C3), "RD_DIS", 0x7F).readable("SOFT_DIS_JTAG")
    assert with_field(EfuseImage.blank(ESP32), "RD_DIS", 0xF).readable("BLOCK0")


def test_the_digest_covers_the_chip_name_and_each_block_in_memory_order() -> None:
    image = with_field(EfuseImage.blank(C3), "WR_DIS", 1)
    stored = b"".join(v.to_bytes(b.words * 4, "little") for v, b in zip(image.blocks, C3.blocks, strict=True))
    assert stored[:4] == b"\x01\0\0\0"
    assert image.digest() == hashlib.sha256(b"esp32c3" + stored).hexdigest()


def test_another_table_of_the_chip_keeps_content_errors_and_identity() -> None:
    image = EfuseImage(ESP32, with_field(EfuseImage.blank(ESP32), "WR_DIS", 1).blocks,
                       {"EFUSE_REG_DEC_STATUS": 4}, {"APB_CTL_DATE": 0x16042000})
    table = load_chip("esp32")
    other = image.with_chip(table)
    assert other.chip is table
    assert (other.blocks, dict(other.errors), dict(other.identity)) == (
        image.blocks, {"EFUSE_REG_DEC_STATUS": 4}, {"APB_CTL_DATE": 0x16042000})


def test_an_image_needs_every_block() -> None:
    with pytest.raises(ValueError, match=f"esp32c3 has {len(C3.blocks)} blocks, got 1"):
        EfuseImage.from_words(C3, [[0] * 8])


def test_a_block_is_unreadable_once_its_own_rd_dis_bit_is_burned() -> None:
    blk = C3.block("BLOCK_SYS_DATA2")
    hidden = with_field(EfuseImage.blank(C3), "RD_DIS", 1 << blk.rd_dis[0])
    assert EfuseImage.blank(C3).block_readable(blk) and not hidden.block_readable(blk)
    assert hidden.block_readable(C3.block("BLOCK_KEY0"))


def test_a_field_is_frozen_by_its_own_wr_dis_bit_only() -> None:
    f = C3.field("SOFT_DIS_JTAG")
    assert f.wr_dis is not None and f.wr_dis > 1
    blank = EfuseImage.blank(C3)
    assert blank.field_writeable(f)
    assert not with_field(blank, "WR_DIS", 1 << f.wr_dis).field_writeable(f)
    assert with_field(blank, "WR_DIS", (1 << (f.wr_dis + 1)) | (1 << (f.wr_dis - 1))).field_writeable(f)


def test_a_field_is_frozen_with_its_block() -> None:
    f = C3.field("BLOCK_USR_DATA")
    bit = C3.blocks[f.block].wr_dis
    assert bit is not None
    assert not with_field(EfuseImage.blank(C3), "WR_DIS", 1 << bit).field_writeable(f)


def test_a_block_field_stays_writeable_beside_other_blocks_wr_dis_bits() -> None:
    f = C3.field("BLOCK_USR_DATA")
    bit = C3.blocks[f.block].wr_dis
    assert bit is not None and bit > 0
    neighbours = (1 << (bit + 1)) | (1 << (bit - 1))
    assert with_field(EfuseImage.blank(C3), "WR_DIS", neighbours).field_writeable(f)


C2 = load_chip("esp32c2")
FULL = (1 << 256) - 1


def _c2_key_block(rd_dis: int) -> EfuseImage:
    blocks = list(EfuseImage.blank(C2).blocks)
    blocks[C2.block("BLOCK_KEY0").id] = FULL
    return with_field(EfuseImage.blank(C2).with_blocks(tuple(blocks)), "RD_DIS", rd_dis)


def test_esp32c2_hides_each_128_bit_half_of_block_key0_by_its_own_rd_dis_bit() -> None:
    blk = C2.block("BLOCK_KEY0")
    low, high = blk.rd_dis
    low_hidden = _c2_key_block(1 << low).as_read().blocks[blk.id]
    assert low_hidden == FULL & ~((1 << 128) - 1)
    high_hidden = _c2_key_block(1 << high).as_read().blocks[blk.id]
    assert high_hidden == (1 << 128) - 1
    assert _c2_key_block((1 << low) | (1 << high)).as_read().blocks[blk.id] == 0
    assert _c2_key_block(0).as_read().blocks[blk.id] == FULL


def test_a_field_fits_when_its_bits_lie_in_the_blocks_data_under_the_coding_scheme() -> None:
    f = ESP32.field("BLOCK3")
    blank = EfuseImage.blank(ESP32)
    assert blank.field_fits(f)
    coded = with_field(blank, "CODING_SCHEME", 1)  # 3/4: 24 data bytes
    assert not coded.field_fits(f)
    assert coded.field_fits(ESP32.field("CUSTOM_MAC_CRC"))
    assert coded.field_fits(ESP32.field("SOFT_DIS_JTAG" if ESP32.has_field("SOFT_DIS_JTAG") else "WR_DIS"))


def test_as_read_zeroes_a_block_by_its_own_rd_dis_bit_and_keeps_the_rest() -> None:
    blocks = list(EfuseImage.blank(C3).blocks)
    for name in ("BLOCK_KEY0", "BLOCK_KEY1", "BLOCK_KEY2"):
        blocks[C3.block(name).id] = FULL
    image = EfuseImage.blank(C3).with_blocks(tuple(blocks))
    bit = C3.block("BLOCK_KEY1").rd_dis[0]
    assert bit > 0
    read = with_field(image, "RD_DIS", 1 << bit).as_read()
    assert read.blocks[C3.block("BLOCK_KEY1").id] == 0
    assert read.blocks[C3.block("BLOCK_KEY0").id] == FULL
    assert read.blocks[C3.block("BLOCK_KEY2").id] == FULL


def test_as_read_zeroes_the_esp32_block0_fields_its_rd_dis_bit_3_hides() -> None:
    rd = ESP32.field("RD_DIS")
    everything_but_rd_dis = ((1 << (32 * ESP32.blocks[0].words)) - 1) & ~rd.mask
    blank = EfuseImage.blank(ESP32)
    image = blank.with_blocks((everything_but_rd_dis, *blank.blocks[1:]))
    assert image.as_read().blocks == image.blocks
    hidden = [f for f in ESP32.fields_in_block(0) if f.rd_dis]
    assert {f.name for f in hidden} >= {"CODING_SCHEME", "FLASH_CRYPT_CONFIG"}
    protected = image.with_blocks((everything_but_rd_dis | rd.spread(1 << 3), *image.blocks[1:]))
    hidden_mask = sum(f.mask for f in hidden)
    assert protected.as_read().blocks[0] == protected.blocks[0] & ~hidden_mask
    assert protected.as_read().blocks[0] & rd.mask == rd.spread(1 << 3)


def test_with_blocks_keeps_the_error_registers_and_identity() -> None:
    errors = dict.fromkeys(C3.error_registers, 0)
    errors[C3.error_registers[0]] = 5
    image = EfuseImage(C3, tuple(0 for _ in C3.blocks), errors, {"APB_CTL_DATE": 0x1234})
    changed = image.with_blocks(tuple(1 for _ in C3.blocks))
    assert changed.identity == {"APB_CTL_DATE": 0x1234}
    assert changed.errors == image.errors and changed.errors[C3.error_registers[0]] == 5
    assert changed.identity == image.identity
    assert changed.blocks == tuple(1 for _ in C3.blocks)


def test_an_esp32_block_under_repeat_coding_holds_16_data_bytes() -> None:
    blank = EfuseImage.blank(ESP32)
    assert [with_field(blank, "CODING_SCHEME", scheme).data_bytes(3) for scheme in (0, 1, 2, 3)] == [32, 24, 16, 32]
    assert with_field(blank, "CODING_SCHEME", 2).data_bytes(0) == ESP32.blocks[0].words * 4
