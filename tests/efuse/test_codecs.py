"""Field values in the user's words round-trip through the raw bits."""

from __future__ import annotations

import pytest
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
    from espefuse.efuse.esp32.fields import EfuseMacField

    assert codecs.crc8_custom_mac(mac) == EfuseMacField.calc_crc(mac)
