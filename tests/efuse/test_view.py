"""What recipes' expressions see of an image: values in the user's words, secrets kept out of sight."""

from __future__ import annotations

from fusebook.chips.loader import load_chip
from fusebook.efuse import codecs
from fusebook.efuse.image import EfuseImage
from fusebook.efuse.view import ImageValues
from fusebook.secret import SecretValue
from tests.images import with_field

C3 = load_chip("esp32c3")
ESP32 = load_chip("esp32")
COUNTING = int.from_bytes(bytes(range(1, 33)), "little")  # bytes 01 02 .. 20


def _image(chip, **blocks: int) -> EfuseImage:
    image = EfuseImage.blank(chip)
    words = list(image.blocks)
    for name, value in blocks.items():
        words[chip.block(name).id] = value
    return image.with_blocks(tuple(words))



def test_a_block_name_reads_as_the_blocks_data_bytes_in_hex() -> None:
    values = ImageValues(_image(C3, BLOCK4=COUNTING))
    assert values.value("BLOCK4") == bytes(range(1, 33)).hex()
    assert values.value("BLOCK_KEY0") == bytes(range(1, 33)).hex()


def test_a_3_4_coded_esp32_block_reads_as_its_24_data_bytes_not_the_32_stored() -> None:
    image = with_field(_image(ESP32, BLOCK3=COUNTING), "CODING_SCHEME", 1)
    value = ImageValues(image).value("BLOCK3")
    assert value == bytes(range(1, 25)).hex()
    # the field of the same name decodes all 32 stored bytes: the block reading is what differs
    f = ESP32.field("BLOCK3")
    assert codecs.decode_value(ESP32, f, image.raw(f)) == bytes(range(1, 33)).hex()


def test_a_field_reads_through_its_codec() -> None:
    image = with_field(with_field(EfuseImage.blank(C3), "SOFT_DIS_JTAG", 5), "DIS_USB_JTAG", 1)
    values = ImageValues(image)
    assert values.value("SOFT_DIS_JTAG") == 5
    assert values.value("DIS_USB_JTAG") in (1, True)
    assert values.value("SPI_BOOT_CRYPT_CNT") == 0
    uid = ImageValues(_image(C3, BLOCK2=COUNTING)).value("OPTIONAL_UNIQUE_ID")
    assert uid == bytes(range(1, 17)).hex()  # a 128-bit field of BLOCK2, not the whole block


def test_secret_bits_make_a_whole_block_value_a_secret_value() -> None:
    image = _image(C3, BLOCK4=COUNTING, BLOCK5=COUNTING)
    values = ImageValues(image, {4: 1})
    hidden = values.value("BLOCK_KEY0")
    assert isinstance(hidden, SecretValue)
    assert bytes(range(1, 33)).hex() not in str(hidden)
    assert hidden == bytes(range(1, 33)).hex()  # comparable, never printed
    assert values.value("BLOCK_KEY1") == bytes(range(1, 33)).hex()
    assert not isinstance(values.value("BLOCK_KEY1"), SecretValue)


def test_secret_bits_taint_only_the_fields_they_overlap() -> None:
    image = with_field(with_field(EfuseImage.blank(C3), "SOFT_DIS_JTAG", 5), "DIS_USB_JTAG", 1)
    soft = C3.field("SOFT_DIS_JTAG")
    values = ImageValues(image, {soft.block: soft.mask})
    assert isinstance(values.value("SOFT_DIS_JTAG"), SecretValue)
    assert not isinstance(values.value("DIS_USB_JTAG"), SecretValue)
    assert not isinstance(ImageValues(image, {soft.block + 1: soft.mask}).value("SOFT_DIS_JTAG"), SecretValue)
    assert not isinstance(ImageValues(image, {4: 1}).value("BLOCK_KEY1"), SecretValue)


def test_a_value_is_read_once_and_answered_the_same_again() -> None:
    values = ImageValues(_image(C3, BLOCK4=COUNTING), {4: 1})
    first = values.value("BLOCK_KEY0")
    assert values.value("BLOCK_KEY0") is first
    assert isinstance(values.value("BLOCK_KEY0"), SecretValue)


def test_readable_writeable_and_meaning_answer_for_the_name_asked() -> None:
    image = with_field(EfuseImage.blank(C3), "RD_DIS", 1 << 0)  # BLOCK_KEY0 read-protected
    wr = C3.field("SOFT_DIS_JTAG").wr_dis
    assert wr is not None
    image = with_field(image, "WR_DIS", 1 << wr)
    values = ImageValues(image)
    assert not values.readable("BLOCK_KEY0") and values.readable("BLOCK_KEY1")
    assert not values.writeable("SOFT_DIS_JTAG") and values.writeable("BLOCK_KEY0")
    image = with_field(EfuseImage.blank(C3), "KEY_PURPOSE_0", 4)
    assert ImageValues(image).meaning("KEY_PURPOSE_0") == codecs.meaning(
        C3, C3.field("KEY_PURPOSE_0"), image.raw(C3.field("KEY_PURPOSE_0")))
    assert "XTS_AES_128_KEY" in ImageValues(image).meaning("KEY_PURPOSE_0")


def test_meaning_of_a_secret_field_is_redacted() -> None:
    image = with_field(EfuseImage.blank(C3), "KEY_PURPOSE_0", 4)
    f = C3.field("KEY_PURPOSE_0")
    hidden = ImageValues(image, {f.block: f.mask}).meaning("KEY_PURPOSE_0")
    assert "XTS_AES_128_KEY" not in hidden
    text = codecs.meaning(C3, f, image.raw(f))
    assert hidden == str(SecretValue(text)) and hidden.startswith("<secret")
    assert "XTS_AES_128_KEY" in ImageValues(image, {f.block + 1: f.mask}).meaning("KEY_PURPOSE_0")


def test_names_lists_every_field_name_alias_and_block_name() -> None:
    names = list(ImageValues(EfuseImage.blank(C3)).names())
    assert {"SOFT_DIS_JTAG", "KEY0", "BLOCK_KEY0", "BLOCK4", "BLOCK0", "BLOCK_SYS_DATA"} <= set(names)
    assert len(names) == sum(len(f.names) for f in C3.fields) + sum(len(b.names) for b in C3.blocks)


def test_a_secret_elsewhere_leaves_a_field_at_bit_0_in_plain_sight() -> None:
    image = with_field(EfuseImage.blank(C3), "WR_DIS", 1)
    f = C3.field("WR_DIS")
    assert f.block == 0 and f.mask & 1
    values = ImageValues(image, {4: 1})
    assert not isinstance(values.value("WR_DIS"), SecretValue)
    assert values.meaning("WR_DIS") == codecs.meaning(C3, f, image.raw(f))
    assert not values.meaning("WR_DIS").startswith("<secret")


def test_a_name_the_chip_does_not_have_is_refused_by_name() -> None:
    import pytest

    from fusebook.errors import InputError

    with pytest.raises(InputError, match="NO_SUCH_FIELD"):
        ImageValues(EfuseImage.blank(C3)).value("NO_SUCH_FIELD")
