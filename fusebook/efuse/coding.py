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

RS_DATA_BYTES = 32
RS_PARITY_BYTES = 12
GROUP_34 = 6
#: GF(2^8) as the eFuse controller's RS(44,32) code has it: x^8+x^4+x^3+x^2+1.
_GF_POLY = 0x11D
_PARITY_MASK = (1 << (8 * RS_PARITY_BYTES)) - 1
_TOP_SHIFT = 8 * (RS_PARITY_BYTES - 1)


def _gf_double(v: int) -> int:
    """Each of the twelve bytes packed in `v` multiplied by x (alpha) in GF(2^8)."""
    out = 0
    for k in range(RS_PARITY_BYTES):
        b = (v >> (8 * k)) & 0xFF
        out |= (((b << 1) ^ _GF_POLY) if b & 0x80 else (b << 1)) << (8 * k)
    return out


def _gf_mul(a: int, b: int) -> int:
    product = 0
    while b:
        if b & 1:
            product ^= a
        a = (a << 1) ^ _GF_POLY if a & 0x80 else a << 1
        b >>= 1
    return product


@functools.lru_cache(maxsize=1)
def _feedback() -> tuple[int, ...]:
    """For each feedback byte f, f times the generator's low coefficients, packed (first highest).

    The generator is the product of (x - alpha^i) for i in 0..11. Encoding is a shift
    register: each data byte, with the register's top byte, picks one entry. The table is
    built by linearity from the generator times x^j, so it costs a few hundred XORs.
    """
    gen = [1]
    root = 1
    for _ in range(RS_PARITY_BYTES):
        gen = [a ^ _gf_mul(b, root) for a, b in zip([*gen, 0], [0, *gen], strict=True)]
        root = _gf_mul(root, 2)
    table = [0] * 256
    power = int.from_bytes(bytes(gen[1:]), "big")
    for j in range(8):
        table[1 << j] = power
        power = _gf_double(power)
    for f in range(3, 256):
        low = f & -f
        if f != low:
            table[f] = table[low] ^ table[f ^ low]
    return tuple(table)


def rs_encode(data: bytes) -> tuple[int, ...]:
    """11 words: 8 data words then 3 parity words, for a block of at most 32 bytes.

    A planned unit encodes every RS block it writes, so this runs once per block and
    index of a batch check: a table-driven shift register, not a general codec.
    """
    data = data.ljust(RS_DATA_BYTES, b"\0")
    table = _feedback()
    parity = 0
    for byte in data:
        parity = ((parity << 8) & _PARITY_MASK) ^ table[byte ^ (parity >> _TOP_SHIFT)]
    return struct.unpack("<11I", data + parity.to_bytes(RS_PARITY_BYTES, "big"))


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
