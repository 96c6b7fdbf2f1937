"""eFuse coding schemes: what the controller expects in its write registers for a block.

- Reed-Solomon RS(44,32) (all blocks but BLOCK0 on every chip after the ESP32): 32 data
  bytes and 12 parity bytes, so a written block can never take more bits later.
- ESP32 3/4 coding: each 6-byte group is followed by an XOR byte and a weighted popcount
  byte, 24 data bytes per block; a group once written cannot take more bits.
- NONE: the data words as they are (BLOCK0, and ESP32 blocks without coding).
"""

from __future__ import annotations

import functools
import struct

import reedsolo

RS_DATA_BYTES = 32
RS_PARITY_BYTES = 12
GROUP_34 = 6


@functools.lru_cache(maxsize=1)
def _rs() -> reedsolo.RSCodec:
    return reedsolo.RSCodec(RS_PARITY_BYTES)


def rs_encode(data: bytes) -> tuple[int, ...]:
    """11 words: 8 data words then 3 parity words, for a block of at most 32 bytes."""
    data = data.ljust(RS_DATA_BYTES, b"\0")
    encoded = bytes(_rs().encode(bytearray(data)))
    return struct.unpack("<11I", encoded)


def rs_check(words: tuple[int, ...] | list[int]) -> bool:
    """True if 11 written words (8 data + 3 parity) are a valid RS(44,32) code word."""
    raw = struct.pack("<11I", *words)
    return tuple(words) == rs_encode(raw[:RS_DATA_BYTES])


def encode_34(data: bytes) -> tuple[int, ...]:
    """ESP32 3/4 coding: 24 data bytes into 8 words."""
    if len(data) != 24:
        raise ValueError("3/4 coding takes exactly 24 bytes")
    out = bytearray()
    for i in range(0, 24, GROUP_34):
        group = data[i : i + GROUP_34]
        xor = 0
        weighted = 0
        for n, b in enumerate(group, start=1):
            xor ^= b
            weighted += n * bin(b).count("1")
        out += group + bytes((xor, weighted & 0xFF))
    return struct.unpack("<8I", bytes(out))


def decode_34(words: tuple[int, ...] | list[int]) -> tuple[bytes, bool]:
    """The 24 data bytes of 8 written words, and whether every group's check bytes match."""
    raw = struct.pack("<8I", *words)
    data = b"".join(raw[i : i + GROUP_34] for i in range(0, 32, 8))
    return data, tuple(words) == encode_34(data)


def plain_words(data: bytes, nwords: int) -> tuple[int, ...]:
    return struct.unpack(f"<{nwords}I", data.ljust(nwords * 4, b"\0")[: nwords * 4])
