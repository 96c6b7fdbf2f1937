"""Coding schemes against answers that do not come from fusebook's own encoder.

Three independent witnesses:
- espefuse's own encoder (its block objects' `apply_coding_scheme`), for every block of
  every chip with RS blocks and for ESP32 blocks under 3/4 coding;
- a Reed-Solomon syndrome check written here from the code's definition (GF(2^8) with
  the primitive polynomial x^8+x^4+x^3+x^2+1, roots alpha^0..alpha^11), which knows
  nothing of reedsolo: a code word has twelve zero syndromes, any single flipped bit
  makes one non-zero;
- the virtual chip's program command, which must flag a stored block whose written
  words carry any single flipped bit, RS or 3/4, and no block written correctly.
"""

from __future__ import annotations

import contextlib
import io
import random
import struct
from pathlib import Path
from typing import Any

import pytest
from espefuse import init_commands

from fusebook.chips.loader import load_chip
from fusebook.drivers.controller import controller_for
from fusebook.efuse import coding
from fusebook.efuse.image import CODING_34, CODING_RS, EfuseImage
from fusebook.virtual.chip import VirtualChip

from ..differential.espefuse_oracle import espefuse_burn

RS_CHIPS = ["esp32c2", "esp32c3", "esp32c5", "esp32c6", "esp32c61", "esp32h2", "esp32h21", "esp32h4",
            "esp32p4", "esp32s2", "esp32s3", "esp32s31", "esp32e22"]

# -- an RS(44,32) check from the definition ---------------------------------------------
_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x <<= 1
    if _x & 0x100:
        _x ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def syndromes(words: tuple[int, ...] | list[int]) -> list[int]:
    """The code word's value at alpha^0..alpha^11; the first byte is the highest power."""
    raw = struct.pack("<11I", *words)
    out = []
    for j in range(12):
        root = _EXP[j]
        acc = 0
        for byte in raw:
            acc = _mul(acc, root) ^ byte
        out.append(acc)
    return out


def test_the_syndrome_check_itself_tells_words_apart() -> None:
    assert syndromes([0] * 11) == [0] * 12
    assert syndromes([1] + [0] * 10) != [0] * 12


# Encoded by espefuse 5.6 (apply_coding_scheme of an ESP32-C3 BLOCK3), kept as fixed
# answers so a change of reedsolo or of espefuse cannot move both sides at once.
KNOWN_RS = [
    (bytes(range(32)),
     (0x03020100, 0x07060504, 0x0B0A0908, 0x0F0E0D0C, 0x13121110, 0x17161514, 0x1B1A1918,
      0x1F1E1D1C, 0x0D474CA0, 0x03B2FC3F, 0x13F4E9DA)),
    (b"\x01" + bytes(31),
     (0x00000001, 0, 0, 0, 0, 0, 0, 0, 0x6E620FE1, 0xFBC5ECAF, 0x2F97E0C6)),
    (bytes(32), (0,) * 11),
]


@pytest.mark.parametrize("data, words", KNOWN_RS, ids=["ramp", "one-bit", "zeros"])
def test_rs_encoder_gives_the_known_answers(data: bytes, words: tuple[int, ...]) -> None:
    assert coding.rs_encode(data) == words
    assert syndromes(words) == [0] * 12


def _vectors(block_bytes: int, seed: str) -> list[bytes]:
    rnd = random.Random(seed)
    out = [bytes(block_bytes), b"\xff" * block_bytes, b"\x01".ljust(block_bytes, b"\0"),
           b"\x80".rjust(block_bytes, b"\0")]
    out += [rnd.randbytes(block_bytes) for _ in range(6)]
    return out


@contextlib.contextmanager
def _espefuse(chip: str, efuse_file: Path | None = None) -> Any:
    kwargs: dict[str, Any] = {"chip": chip, "virt": True}
    if efuse_file is not None:
        kwargs["virt_efuse_file"] = str(efuse_file)
    with contextlib.redirect_stdout(io.StringIO()), init_commands(**kwargs) as cmds:
        yield cmds


def _espefuse_words(block: Any, data: bytes) -> tuple[int, ...]:
    block.wr_bitarray.set(0)
    block.save(data)
    return tuple(block.apply_coding_scheme())


@pytest.mark.parametrize("chip_name", RS_CHIPS)
def test_rs_words_of_every_block_equal_espefuse_and_are_code_words(chip_name: str) -> None:
    chip = load_chip(chip_name)
    blank = EfuseImage.blank(chip)
    checked = 0
    with _espefuse(chip_name) as cmds:
        for blk in chip.blocks[1:]:
            assert blank.coding(blk) == CODING_RS, blk.name
            theirs = cmds.efuses.blocks[blk.id]
            for data in _vectors(blk.words * 4, f"{chip_name}/{blk.name}"):
                ours = coding.rs_encode(data)
                assert ours == _espefuse_words(theirs, data), (blk.name, data.hex())
                assert syndromes(ours) == [0] * 12
                checked += 1
    assert checked >= 10 * (len(chip.blocks) - 1)


@pytest.mark.parametrize("chip_name", ["esp32c3", "esp32s2", "esp32p4", "esp32c5"])
def test_the_chip_flags_every_single_flipped_bit_of_a_stored_rs_block(chip_name: str) -> None:
    chip = load_chip(chip_name)
    blk = chip.blocks[3]
    good = coding.rs_encode(random.Random(chip_name).randbytes(blk.words * 4))
    vc = VirtualChip(chip)
    ctl = controller_for(vc, chip)
    ctl.program(blk, good)
    assert not ctl.block_status(blk.id).fail  # the test can tell a good block
    missed = []
    for bit in range(11 * 32):
        bad = list(good)
        bad[bit // 32] ^= 1 << (bit % 32)
        assert syndromes(bad) != [0] * 12
        assert not coding.rs_check(bad)
        fresh = VirtualChip(chip)
        fctl = controller_for(fresh, chip)
        fctl.program(blk, tuple(bad))
        if not fctl.block_status(blk.id).fail:
            missed.append(bit)
    assert missed == []


def test_short_blocks_are_padded_to_32_bytes() -> None:
    assert coding.rs_encode(b"\x01" * 24) == coding.rs_encode(b"\x01" * 24 + b"\0" * 8)


# -- ESP32 3/4 coding ------------------------------------------------------------------
@pytest.fixture(scope="module")
def esp32_34_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    f = tmp_path_factory.mktemp("esp32-34") / "efuse.bin"
    espefuse_burn("esp32", f, lambda e: e.burn_efuse({"CODING_SCHEME": "1"}))
    return f


def _34_by_hand(data: bytes) -> bytes:
    """The TRM's definition: per 6-byte group, the XOR and the weighted bit count."""
    out = b""
    for g in range(0, 24, 6):
        group = data[g:g + 6]
        x = 0
        for b in group:
            x ^= b
        out += group + bytes((x, sum(n * bin(b).count("1") for n, b in enumerate(group, 1)) & 0xFF))
    return out


def test_34_words_of_every_block_equal_espefuse(esp32_34_file: Path) -> None:
    chip = load_chip("esp32")
    checked = 0
    with _espefuse("esp32", esp32_34_file) as cmds:
        assert cmds.efuses["CODING_SCHEME"].get(from_read=True) in (1, "3/4")
        for blk in chip.blocks[1:4]:
            theirs = cmds.efuses.blocks[blk.id]
            for data in _vectors(24, f"esp32/{blk.name}"):
                ours = coding.encode_34(data)
                assert ours == _espefuse_words(theirs, data), (blk.name, data.hex())
                assert struct.pack("<8I", *ours) == _34_by_hand(data)
                checked += 1
    assert checked == 30


def test_34_check_bytes_follow_each_group() -> None:
    data = bytes([0xFF, 0, 0, 0, 0, 1] + [0] * 18)
    raw = struct.pack("<8I", *coding.encode_34(data))
    assert raw[6] == 0xFF ^ 1  # xor of the group
    assert raw[7] == 1 * 8 + 6 * 1  # weighted popcount: byte n counts n times its bits
    assert raw[8:16] == bytes(8)


def test_34_decodes_what_it_encodes() -> None:
    for data in _vectors(24, "decode"):
        assert coding.decode_34(coding.encode_34(data)) == (data, True)


def test_the_esp32_flags_every_single_flipped_bit_under_34(esp32_34_file: Path, tmp_path: Path) -> None:
    chip = load_chip("esp32")
    blk = chip.blocks[3]
    data = random.Random("esp32-34").randbytes(24)
    good = coding.encode_34(data)
    start = esp32_34_file.read_bytes()

    def burned(words: tuple[int, ...]) -> bool:
        f = tmp_path / "chip.bin"
        f.write_bytes(start)
        vc = VirtualChip(chip, f)
        assert EfuseImage.blank(chip) != vc.image() and vc.image().coding(blk) == CODING_34
        ctl = controller_for(vc, chip)
        ctl.program(blk, words)
        return bool(ctl.block_status(blk.id).fail)

    assert not burned(good)
    missed = []
    for bit in range(8 * 32):
        bad = list(good)
        bad[bit // 32] ^= 1 << (bit % 32)
        assert coding.decode_34(bad)[1] is False
        if not burned(tuple(bad)):
            missed.append(bit)
    assert missed == []


def test_rs_encoder_makes_code_words_of_any_data() -> None:
    rnd = random.Random("rs-any")
    for n in range(200):
        data = rnd.randbytes(n % 33)
        words = coding.rs_encode(data)
        assert struct.pack("<11I", *words)[:32] == data.ljust(32, b"\0")
        assert syndromes(words) == [0] * 12, data.hex()
