"""Key files into `Secret`s: raw binary (as espsecure and espefuse write them), hex text, PEM.

A key file is the one input whose content must never be shown, so every complaint here
describes the file (its size, its format, where a bad character sits) and never its bytes:
not as hex, not reversed, not in part. Errors are raised `from None` so no parser's own
exception, which might quote input, is chained to them.
"""

from __future__ import annotations

import string
from collections.abc import Collection
from pathlib import Path

from fusebook.errors import InputError, SourceLocation
from fusebook.files import read_bounded
from fusebook.keys.pem import looks_like_pem
from fusebook.secret import Secret

#: `auto` reads PEM when the file has PEM armour and raw binary otherwise (never hex:
#: 64 hex digits are also a valid 64-byte raw key, so hex must be asked for).
KEY_FORMATS = ("auto", "binary", "hex", "pem")
#: Largest key file read (a PEM is a few KiB).
KEY_FILE_LIMIT = 1 << 20

_HEX_DIGITS = frozenset(string.hexdigits.encode())
_WHITESPACE = frozenset(string.whitespace.encode())


def read_key_file(
    path: str | Path,
    *,
    sizes: Collection[int] = (),
    format: str = "auto",
    location: SourceLocation | None = None,
) -> Secret:
    """Read and check a key file; see `parse_key` for formats and sizes."""
    data = read_bounded(Path(path), "key file", limit=KEY_FILE_LIMIT, location=location)
    return parse_key(data, name=f"key file {path}", sizes=sizes, format=format, location=location)


def parse_key(
    data: bytes | Secret,
    *,
    name: str = "the key file",
    sizes: Collection[int] = (),
    format: str = "auto",
    location: SourceLocation | None = None,
) -> Secret:
    """Key bytes from a file's content.

    binary: the bytes as they are; hex: hex digits, whitespace ignored, an optional 0x;
    pem: an ECDSA private key, returned as an `EcdsaPrivateKey` (its raw scalar and curve;
    lay it into blocks with `ecdsa_key_block_data`). `sizes` (the lengths the target takes)
    is checked for binary and hex keys. A key whose bytes are all the same is refused: it is
    a placeholder, and a burned key cannot be replaced.
    """
    raw = data.reveal() if isinstance(data, Secret) else bytes(data)
    if format not in KEY_FORMATS:
        raise InputError(
            f"unknown key format {format!r}", location=location, hint="formats: " + ", ".join(KEY_FORMATS)
        )
    if format == "pem" or (format == "auto" and looks_like_pem(raw)):
        from fusebook.keys.ecdsa import ecdsa_private_key_bytes

        return ecdsa_private_key_bytes(raw, name=name, location=location)
    key = _from_hex(raw, name, location) if format == "hex" else raw
    _check_size(key, raw, name, sizes, format, location)
    refuse_placeholder(key, name, location)
    return Secret(key)


#: How to make a real key, by the kind of key a placeholder stood for.
GENERATE_KEY_HINT = "generate a real key, e.g. `espsecure generate-flash-encryption-key KEY.bin`"
GENERATE_ECDSA_KEY_HINT = ("generate a real key on the purpose's curve, e.g. "
                           "`espsecure generate-signing-key --version 2 --scheme ecdsa256 KEY.pem`")


def refuse_placeholder(key: bytes, name: str, location: SourceLocation | None,
                       hint: str = GENERATE_KEY_HINT) -> None:
    """A key whose bytes are all the same is a placeholder: refused, since a burned key stays.

    The message says how long the key is, never which value its bytes hold.
    """
    if key and len(set(key)) == 1:
        raise InputError(
            f"{name} holds a placeholder, not a key: all of its {len(key)} bytes are the same value",
            location=location, hint=hint,
        )


def _from_hex(raw: bytes, name: str, location: SourceLocation | None) -> bytes:
    text = bytes(b for b in raw if b not in _WHITESPACE)
    if text[:2].lower() == b"0x":
        text = text[2:]
    for offset, b in enumerate(text):
        if b not in _HEX_DIGITS:
            raise InputError(
                f"{name} is not hex text: the character at offset {offset} (whitespace removed) "
                "is not a hex digit",
                location=location,
                hint="use `format: binary` for a raw key file",
            )
    if len(text) % 2:
        raise InputError(
            f"{name} has an odd number of hex digits ({len(text)})", location=location
        )
    return bytes.fromhex(text.decode("ascii"))


def _check_size(
    key: bytes,
    raw: bytes,
    name: str,
    sizes: Collection[int],
    format: str,
    location: SourceLocation | None,
) -> None:
    if not sizes and key:
        return
    if key and len(key) in sizes:
        return
    wanted = " or ".join(f"{n} bytes ({n * 8} bits)" for n in sorted(sizes)) or "key bytes"
    if not key:
        raise InputError(f"{name} is empty; it must hold {wanted}", location=location)
    hint = size_hint(raw, sizes, hex_given=format == "hex")
    raise InputError(
        f"{name} is {len(key)} bytes; it must hold {wanted} of {'hex' if format == 'hex' else 'raw binary'} key data",
        location=location,
        hint=hint,
    )


def size_hint(raw: bytes, sizes: Collection[int], *, hex_given: bool = False) -> str:
    """What a key of the wrong size most likely is, in words (never its bytes): hex text
    read as binary, a line break after the key, a public key PEM where a key belongs."""
    wanted = " or ".join(f"{n} bytes ({n * 8} bits)" for n in sorted(sizes)) or "the key bytes"
    if not hex_given and _is_hex_text(raw) and len(_strip(raw)) // 2 in sizes:
        return ("the file looks like hex text: declare it as an input with `format: hex` and pass "
                "`data: \"{{ inputs.NAME | hex }}\"`, or convert it with `xxd -r -p KEY.hex KEY.bin`")
    if raw.endswith(b"\n") and len(raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]) in sizes:
        return ("the file ends with a line break after the key; a raw key file holds only the key "
                "bytes (write it with `head -c 32 /dev/urandom > KEY.bin`, not an editor)")
    if b"PUBLIC KEY-----" in raw:
        return ("this is a public key PEM: a key block takes the secret key itself; a public key's "
                "digest goes in with `burn_key_digest`")
    if b"PRIVATE KEY-----" in raw:
        return ("this is a private key PEM: only ECDSA purposes take one (the scalar is burned); "
                "for Secure Boot V2 use `burn_key_digest` with the public key")
    return f"a raw key file holds exactly the key: {wanted}, e.g. from `espsecure generate-flash-encryption-key`"


def hex_key_bytes(raw: bytes, name: str, location: SourceLocation | None) -> bytes:
    """Hex text (whitespace and a leading 0x ignored) as bytes; the error never shows the text."""
    return _from_hex(raw, name, location)


def _strip(raw: bytes) -> bytes:
    text = bytes(b for b in raw if b not in _WHITESPACE)
    return text[2:] if text[:2].lower() == b"0x" else text


def _is_hex_text(raw: bytes) -> bool:
    text = _strip(raw)
    return bool(text) and len(text) % 2 == 0 and all(b in _HEX_DIGITS for b in text)
