"""The recipe filters: hex, unhex, mac, mac_add, to_bytes (also as used from templates)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fusebook.errors import InputError
from fusebook.recipe.filters import hex_filter, mac, mac_add, to_bytes, unhex
from fusebook.recipe.secret_value import SecretValue
from fusebook.secret import Secret

from .helpers import KEY

macs = st.integers(min_value=0, max_value=(1 << 48) - 1)


def text(n: int, sep: str = ":") -> str:
    return sep.join(f"{b:02x}" for b in n.to_bytes(6, "big"))


@given(macs, st.integers(min_value=-(1 << 49), max_value=1 << 49))
def test_mac_add_is_48_bit_addition_with_carry(base: int, n: int) -> None:
    total = base + n
    if 0 <= total < 1 << 48:
        assert mac_add(text(base), n) == text(total)
    else:
        with pytest.raises(InputError, match="leaves the MAC address range"):
            mac_add(text(base), n)


@given(macs, st.integers(min_value=0, max_value=1000), st.integers(min_value=0, max_value=1000))
def test_mac_add_steps_compose(base: int, a: int, b: int) -> None:
    if base + a + b < 1 << 48:
        assert mac_add(mac_add(text(base), a), b) == mac_add(text(base), a + b)
        assert mac_add(mac_add(text(base), a + b), -b) == mac_add(text(base), a)


def test_mac_add_carries_into_higher_bytes() -> None:
    assert mac_add("02:00:00:00:00:ff", 1) == "02:00:00:00:01:00"
    assert mac_add("02:ff:ff:ff:ff:ff", 1) == "03:00:00:00:00:00"
    assert mac_add("AA:BB:CC:DD:EE:FF", 0) == "aa:bb:cc:dd:ee:ff"
    assert mac_add("02:00:00:00:01:00", -1) == "02:00:00:00:00:ff"
    assert mac_add("02:00:00:00:00:00", "0x10") == "02:00:00:00:00:10"


@given(macs, st.sampled_from([":", "-", ""]))
def test_mac_normalises_every_spelling(n: int, sep: str) -> None:
    assert mac(text(n, sep).upper()) == text(n)
    assert mac(n) == text(n) == mac(n.to_bytes(6, "big"))


@pytest.mark.parametrize("bad", ["02:00:00:00:00", "02:00:00:00:00:0g", "0200.0000.00", 1 << 48, True, 1.5, b"12345"])
def test_mac_refuses_what_is_not_a_mac(bad: object) -> None:
    with pytest.raises(InputError):
        mac(bad)


def test_hex() -> None:
    assert hex_filter(b"\x00\x01\xab") == "0001ab"
    assert hex_filter(255) == "0xff" and hex_filter(256) == "0x0100" and hex_filter(0) == "0x00"
    assert hex_filter(42, 4) == "0x0000002a"
    assert hex_filter("SN-1") == "534e2d31"
    assert hex_filter(Secret(KEY)) == Secret(KEY)
    assert hex_filter(SecretValue(KEY.hex())) == Secret(KEY)
    for bad in (-1, [1], None):
        with pytest.raises(InputError):
            hex_filter(bad)
    with pytest.raises(InputError, match="does not fit in 1 bytes"):
        hex_filter(256, 1)


@given(st.binary(max_size=64))
def test_unhex_reverses_hex(data: bytes) -> None:
    assert unhex(hex_filter(data)) == data
    assert unhex(" ".join(f"{b:02X}" for b in data)) == data


def test_unhex() -> None:
    assert unhex("aa:bb-cc dd") == b"\xaa\xbb\xcc\xdd"
    assert unhex(Secret(KEY)) == Secret(KEY)
    assert unhex(SecretValue(KEY.hex())) == Secret(KEY)
    for bad in ("abc", "zz", "0x10", 5):
        with pytest.raises(InputError) as e:
            unhex(bad)
        assert "abc" not in e.value.message and "zz" not in e.value.message
    with pytest.raises(InputError, match="secret value is not hex") as e:
        unhex(SecretValue("not hex at all"))
    assert "not hex at all" not in e.value.render()


def test_to_bytes() -> None:
    assert to_bytes(0x0102, 4) == b"\x02\x01\x00\x00"
    assert to_bytes(0x0102, 2, "big") == b"\x01\x02"
    for args in ((256, 1), (-1, 2), (1, 0), (1, 2, "middle"), (1, 10**6)):
        with pytest.raises(InputError):
            to_bytes(*args)
