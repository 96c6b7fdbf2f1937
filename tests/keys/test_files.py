"""Key files: raw binary, hex text and PEM into Secrets; every refusal describes, never quotes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fusebook.errors import InputError, SourceLocation
from fusebook.keys.ecdsa import EcdsaPrivateKey
from fusebook.keys.files import parse_key, read_key_file
from fusebook.secret import Secret

from .conftest import assert_no_leak, private_pem, public_pem, secret_numbers

WHERE = SourceLocation("recipe.yaml", 12, 7)


@pytest.fixture
def key32() -> bytes:
    return os.urandom(32)


def refuse(path_or_data: Path | bytes, **kw: object) -> InputError:
    with pytest.raises(InputError) as e:
        if isinstance(path_or_data, Path):
            read_key_file(path_or_data, location=WHERE, **kw)  # type: ignore[arg-type]
        else:
            parse_key(path_or_data, location=WHERE, **kw)  # type: ignore[arg-type]
    assert e.value.location == WHERE and e.value.exit_code == 2
    return e.value


# --- accepted -----------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [256, 512])
def test_a_raw_key_espsecure_generated_reads_as_is(tmp_path: Path, bits: int) -> None:
    path = tmp_path / "fe.bin"
    subprocess.run(
        [sys.executable, "-m", "espsecure", "generate-flash-encryption-key", "--keylen", str(bits), str(path)],
        check=True, capture_output=True,
    )
    key = read_key_file(path, sizes=(bits // 8,))
    assert isinstance(key, Secret) and key.reveal() == path.read_bytes()


@pytest.mark.parametrize("size", [16, 32, 64])
def test_raw_keys_of_any_wanted_size(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "k.bin").write_bytes(data)
    assert read_key_file(tmp_path / "k.bin", sizes=(16, 32, 64)).reveal() == data


def test_hex_text_when_asked_for(tmp_path: Path, key32: bytes) -> None:
    text = "0x" + key32.hex().upper()
    spaced = " ".join(text[i : i + 8] for i in range(0, len(text), 8)) + "\n"
    (tmp_path / "k.hex").write_text(spaced)
    assert read_key_file(tmp_path / "k.hex", sizes=(32,), format="hex").reveal() == key32


def test_auto_never_takes_hex_text_for_hex(key32: bytes) -> None:
    """64 hex digits are also a valid 64-byte raw key: only `format: hex` decodes them."""
    text = key32.hex().encode()
    assert parse_key(text, sizes=(32, 64)).reveal() == text


@pytest.mark.parametrize("fmt", ["auto", "pem"])
def test_a_pem_gives_the_ecdsa_scalar(ec_keys: dict, fmt: str) -> None:
    key = parse_key(private_pem(ec_keys["P-256"]), format=fmt)
    assert isinstance(key, EcdsaPrivateKey) and key.curve == "P-256"
    assert key.reveal() == secret_numbers(ec_keys["P-256"])[0]


def test_a_secret_in_gives_a_secret_out(key32: bytes) -> None:
    assert parse_key(Secret(key32), sizes=(32,)) == Secret(key32)


# --- refused, without quoting ---------------------------------------------------------------


def test_wrong_size_says_the_sizes_not_the_bytes(tmp_path: Path) -> None:
    data = os.urandom(33)
    (tmp_path / "k.bin").write_bytes(data)
    e = refuse(tmp_path / "k.bin", sizes=(32,))
    assert "33 bytes" in e.message and "32 bytes (256 bits)" in e.message
    assert "k.bin" in e.message
    assert_no_leak(e, [data])


def test_a_trailing_newline_is_pointed_out(key32: bytes) -> None:
    e = refuse(key32 + b"\n", sizes=(32,))
    assert "line break" in (e.hint or "")
    assert_no_leak(e, [key32])


def test_hex_text_given_as_binary_is_pointed_out(key32: bytes) -> None:
    text = key32.hex().encode() + b"\n"
    e = refuse(text, sizes=(32,))
    assert "format: hex" in (e.hint or "")
    assert_no_leak(e, [key32, text.strip()])


def test_a_bad_hex_digit_is_located_not_shown(key32: bytes) -> None:
    text = bytearray(key32.hex().encode())
    text[10] = ord("g")
    e = refuse(bytes(text), sizes=(32,), format="hex")
    assert "offset 10" in e.message
    assert_no_leak(e, [key32, bytes(text)])


def test_odd_hex_digits(key32: bytes) -> None:
    e = refuse(key32.hex().encode()[:-1], format="hex")
    assert "odd number" in e.message
    assert_no_leak(e, [key32])


def test_hex_of_the_wrong_size(key32: bytes) -> None:
    e = refuse(key32.hex().encode(), sizes=(64,), format="hex")
    assert "32 bytes" in e.message and "64 bytes (512 bits)" in e.message
    assert_no_leak(e, [key32])


@pytest.mark.parametrize("fill", [0x00, 0xFF, 0x5A])
def test_a_placeholder_key_is_refused(fill: int) -> None:
    e = refuse(bytes([fill]) * 32, sizes=(32,))
    assert "placeholder" in e.message
    assert f"{fill:02x}" * 8 not in e.render().lower()


def test_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "k.bin").write_bytes(b"")
    assert "empty" in refuse(tmp_path / "k.bin", sizes=(32,)).message


def test_a_missing_file(tmp_path: Path) -> None:
    e = refuse(tmp_path / "nope.bin")
    assert "nope.bin" in e.message and e.__cause__ is None and e.__suppress_context__


def test_an_unknown_format(key32: bytes) -> None:
    e = refuse(key32, format="base64")
    assert "base64" in e.message and "hex" in (e.hint or "")
    assert_no_leak(e, [key32])


def test_a_public_key_where_a_private_key_is_needed(ec_keys: dict) -> None:
    e = refuse(public_pem(ec_keys["P-256"]))
    assert "public key" in e.message and "burn_key_digest" in (e.hint or "")


def test_an_rsa_private_key_is_pointed_to_burn_key_digest(rsa_key: object) -> None:
    pem = private_pem(rsa_key)  # type: ignore[arg-type]
    e = refuse(pem, format="pem")
    assert "burn_key_digest" in (e.hint or "")
    assert_no_leak(e, secret_numbers(rsa_key))


def test_binary_asked_as_pem(key32: bytes) -> None:
    e = refuse(key32, format="pem")
    assert "not a PEM" in e.message
    assert_no_leak(e, [key32])
