"""Coding schemes against the definitions the silicon checks."""

from __future__ import annotations

import struct

import reedsolo
from hypothesis import given
from hypothesis import strategies as st

from fusebook.efuse import coding


@given(st.binary(min_size=32, max_size=32))
def test_rs_words_are_data_then_parity(data: bytes) -> None:
    words = coding.rs_encode(data)
    raw = struct.pack("<11I", *words)
    assert raw[:32] == data
    assert reedsolo.RSCodec(12).decode(bytearray(raw))[0] == bytearray(data)
    assert coding.rs_check(words)


@given(st.binary(min_size=32, max_size=32), st.integers(0, 11 * 32 - 1))
def test_rs_check_catches_any_flipped_bit(data: bytes, bit: int) -> None:
    words = list(coding.rs_encode(data))
    words[bit // 32] ^= 1 << (bit % 32)
    assert not coding.rs_check(words)


def test_short_blocks_are_padded_to_32_bytes() -> None:
    assert coding.rs_encode(b"\x01" * 24) == coding.rs_encode(b"\x01" * 24 + b"\0" * 8)


@given(st.binary(min_size=24, max_size=24))
def test_34_round_trip(data: bytes) -> None:
    words = coding.encode_34(data)
    assert coding.decode_34(words) == (data, True)


def test_34_check_bytes_follow_each_group() -> None:
    data = bytes([0xFF, 0, 0, 0, 0, 1] + [0] * 18)
    raw = struct.pack("<8I", *coding.encode_34(data))
    assert raw[6] == 0xFF ^ 1  # xor of the group
    assert raw[7] == 1 * 8 + 6 * 1  # weighted popcount: byte n counts n times its bits
    assert raw[8:16] == bytes(8)


def test_34_detects_a_bad_group() -> None:
    words = list(coding.encode_34(bytes(range(24))))
    words[0] ^= 1
    assert coding.decode_34(words)[1] is False
