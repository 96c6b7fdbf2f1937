"""Field values in the user's words round-trip through the raw bits."""

from __future__ import annotations

import pytest
from espefuse.efuse.esp32.fields import EfuseMacField
from hypothesis import given
from hypothesis import strategies as st

from fusebook.chips.loader import load_chip
from fusebook.efuse import codecs
from fusebook.errors import InputError

C3 = load_chip("esp32c3")
ESP32 = load_chip("esp32")


@pytest.mark.parametrize("chip", [C3, ESP32, load_chip("esp32s3")], ids=lambda c: c.name)
def test_every_field_round_trips_its_largest_value(chip) -> None:
    for f in chip.fields:
        if f.klass == "keypurpose":
            continue
        raw = (1 << f.bits) - 1
        shown = codecs.decode_value(chip, f, raw)
        if f.klass == "mac" and f.type == "bytes":
            continue  # all-ones is multicast, refused as a custom MAC
        assert codecs.encode_value(chip, f, shown) == raw, f.name


@given(st.binary(min_size=6, max_size=6).filter(lambda b: not b[0] & 1))
def test_custom_mac_round_trip(mac: bytes) -> None:
    f = C3.field("CUSTOM_MAC")
    text = codecs.format_mac(mac)
    raw = codecs.encode_value(C3, f, text.upper())
    assert codecs.decode_value(C3, f, raw) == text
    assert raw.to_bytes(6, "little") == mac  # memory order


def test_multicast_mac_is_refused() -> None:
    with pytest.raises(InputError, match="unicast"):
        codecs.encode_value(C3, C3.field("CUSTOM_MAC"), "01:00:00:00:00:00")


def test_key_purpose_by_name_and_number() -> None:
    f = C3.field("KEY_PURPOSE_0")
    assert codecs.encode_value(C3, f, "XTS_AES_128_KEY") == 4
    assert codecs.encode_value(C3, f, 4) == 4
    assert codecs.decode_value(C3, f, 4) == "XTS_AES_128_KEY"


def test_value_too_wide_names_the_limit() -> None:
    with pytest.raises(InputError, match="does not fit SOFT_DIS_JTAG") as e:
        codecs.encode_value(C3, C3.field("SOFT_DIS_JTAG"), 8)
    assert "0x7" in (e.value.hint or "")


def test_hex_byte_order_follows_espefuse() -> None:
    assert codecs.parse_hex_bytes("0102") == b"\x01\x02"
    assert codecs.parse_hex_bytes("0x0102") == b"\x02\x01"


@given(st.integers(0, (1 << 48) - 1), st.integers(0, 1000))
def test_mac_add_carries(base: int, n: int) -> None:
    mac = codecs.format_mac(base.to_bytes(6, "big"))
    if base + n >= 1 << 48:
        with pytest.raises(InputError):
            codecs.mac_add(mac, n)
    else:
        assert int(codecs.mac_add(mac, n).replace(":", ""), 16) == base + n


@given(st.binary(min_size=6, max_size=6))
def test_esp32_custom_mac_crc_matches_espefuse(mac: bytes) -> None:
    assert codecs.crc8_custom_mac(mac) == EfuseMacField.calc_crc(mac)


def test_a_mac_that_is_not_text_is_refused_as_input() -> None:
    with pytest.raises(InputError) as err:
        codecs.parse_mac(5)
    assert "5 is not a MAC address" in err.value.message
    assert "AA:BB:CC:DD:EE:FF" in (err.value.hint or "")


def test_a_multicast_mac_says_which_bit_must_be_clear() -> None:
    with pytest.raises(InputError) as err:
        codecs.parse_mac("01:00:00:00:00:00")
    assert "lowest bit of the first byte must be 0" in (err.value.hint or "")


def test_a_mac_may_be_written_with_dashes() -> None:
    assert codecs.parse_mac("02-11-22-33-44-55") == bytes.fromhex("021122334455")
    assert codecs.mac_add("02-00-00-00-00-ff", 1) == "02:00:00:00:01:00"


def test_mac_add_stops_at_the_last_address() -> None:
    assert codecs.mac_add("ff:ff:ff:ff:ff:fe", 1) == "ff:ff:ff:ff:ff:ff"
    with pytest.raises(InputError) as err:
        codecs.mac_add("ff:ff:ff:ff:ff:ff", 1)
    assert "ff:ff:ff:ff:ff:ff + 1" in err.value.message


@pytest.mark.parametrize("chip", [C3, ESP32], ids=lambda c: c.name)
def test_the_factory_mac_is_stored_with_its_bytes_reversed(chip) -> None:
    f = chip.field("MAC")
    raw = codecs.encode_value(chip, f, "02:11:22:33:44:55")
    assert raw == 0x021122334455
    assert codecs.decode_value(chip, f, raw) == "02:11:22:33:44:55"
    assert codecs.encode_value(chip, f, bytes.fromhex("021122334455")) == raw


def test_a_mac_of_the_wrong_length_names_both_lengths() -> None:
    with pytest.raises(InputError) as err:
        codecs.encode_value(C3, C3.field("MAC"), bytes(5))
    assert err.value.message == "MAC holds a 6-byte MAC, got 5 bytes"


def test_meaning_is_the_tables_word_else_the_value() -> None:
    from fusebook.efuse.image import EfuseImage
    from fusebook.efuse.view import ImageValues

    cases = [("SPI_BOOT_CRYPT_CNT", 0, "Disable"), ("SPI_BOOT_CRYPT_CNT", 1, "Enable"),
             ("SPI_BOOT_CRYPT_CNT", 2, "2"), ("SPI_BOOT_CRYPT_CNT", 7, "Enable"),
             ("KEY_PURPOSE_0", 4, "XTS_AES_128_KEY")]
    for name, raw, text in cases:
        f = C3.field(name)
        blocks = list(EfuseImage.blank(C3).blocks)
        blocks[f.block] = f.spread(raw)
        assert ImageValues(EfuseImage(C3, tuple(blocks))).meaning(f.name) == text


@pytest.mark.parametrize(("text", "raw"), [("true", 1), (" True ", 1), ("false", 0), ("FALSE", 0),
                                           ("1", 1), (" 0x3 ", 3), ("7", 7)])
def test_numbers_and_booleans_written_as_text(text: str, raw: int) -> None:
    assert codecs.encode_value(C3, C3.field("SPI_BOOT_CRYPT_CNT"), text) == raw


def test_text_that_is_no_number_names_the_field() -> None:
    with pytest.raises(InputError) as err:
        codecs.encode_value(C3, C3.field("SPI_BOOT_CRYPT_CNT"), "yes")
    assert err.value.message == "'yes' is not a number for SPI_BOOT_CRYPT_CNT"
    assert "true/false" in (err.value.hint or "")


def test_a_key_purpose_given_as_digits_is_its_number() -> None:
    assert codecs.encode_value(C3, C3.field("KEY_PURPOSE_0"), " 4 ") == 4


@pytest.mark.parametrize(("field", "value", "message"), [
    ("SOFT_DIS_JTAG", 8, "8 does not fit SOFT_DIS_JTAG (3 bits)"),
    ("DIS_ICACHE", 2, "2 does not fit DIS_ICACHE (1 bit)"),
    ("UART_PRINT_CONTROL", 4, "4 does not fit UART_PRINT_CONTROL (2 bits)"),
])
def test_a_value_too_wide_says_how_wide_the_field_is(field: str, value: int, message: str) -> None:
    with pytest.raises(InputError) as e:
        codecs.encode_value(C3, C3.field(field), value)
    assert e.value.message == message


def test_block_data_is_in_memory_order() -> None:
    f = C3.field("BLOCK_USR_DATA")
    assert codecs.encode_value(C3, f, "01" + "00" * 31) == 1
    assert codecs.encode_value(C3, f, bytes([0] * 31 + [1])) == 1 << 248


def test_block_data_of_the_wrong_length_or_not_hex_names_the_field() -> None:
    f = C3.field("BLOCK_USR_DATA")
    with pytest.raises(InputError) as e:
        codecs.encode_value(C3, f, "0102")
    assert e.value.message == "BLOCK_USR_DATA holds 32 bytes, the value has 2"
    assert "exactly as many hex bytes as the field holds" in (e.value.hint or "")
    with pytest.raises(InputError) as e:
        codecs.encode_value(C3, f, "zz")
    assert e.value.message == "the value of BLOCK_USR_DATA is not hex bytes"


def test_hex_bytes_may_hold_spaces_but_not_half_bytes() -> None:
    assert codecs.parse_hex_bytes(" 01 02\t03 ") == b"\x01\x02\x03"
    with pytest.raises(InputError) as e:
        codecs.parse_hex_bytes("0x123")
    assert e.value.message == "value is not a whole number of hex bytes"
    with pytest.raises(InputError) as e:
        codecs.parse_hex_bytes("0x12zz")
    assert e.value.message == "value is not a whole number of hex bytes"
    with pytest.raises(InputError) as e:
        codecs.parse_hex_bytes("123")
    assert e.value.message == "value is not hex bytes"
    assert "hex string such as 00112233..., in memory order" in (e.value.hint or "")


def test_a_bool_field_reads_as_a_bool() -> None:
    assert codecs.decode_value(C3, C3.field("DIS_ICACHE"), 1) is True
    assert codecs.decode_value(C3, C3.field("DIS_ICACHE"), 0) is False
