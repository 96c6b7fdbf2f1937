"""Filters (and functions) recipes need beyond Jinja's own: bytes, hex and MAC addresses.

Each is a plain function; the sandbox registers them. They never put a secret into
ordinary text: `hex` and `unhex` of a secret give a secret back (`Secret`, the key bytes),
and their errors never quote the value they were given.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fusebook.errors import InputError
from fusebook.numbers import parse_int
from fusebook.recipe.secret_value import SecretValue
from fusebook.secret import Secret

_MAC_GROUPS = re.compile(r"^[0-9A-Fa-f]{2}([:-]?)[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$")
_MAC_DOTTED = re.compile(r"^[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}$")
_HEX_DIGITS = re.compile(r"^[0-9A-Fa-f]*$")
MAC_MAX = (1 << 48) - 1


def _int_arg(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise InputError(f"{what} must be a whole number, not true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return parse_int(value.strip(), 0)
        except ValueError:
            pass
    raise InputError(f"{what} must be a whole number")


def hex_filter(value: Any, nbytes: Any = None) -> Any:
    """`x | hex`: bytes as hex text in memory order; a number as 0x..; text as its UTF-8 bytes.

    A `Secret` stays a `Secret` (steps take it as the key bytes, and it can never show
    up in text); a value of a secret input with hex text becomes the `Secret` it spells.
    `nbytes` pads a number to that many bytes (`serial | hex(4)` -> 0x0000002a).
    """
    if isinstance(value, Secret):
        return value
    if isinstance(value, SecretValue):
        return unhex(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise InputError("hex: negative numbers have no hex bytes")
        width = max(1, (value.bit_length() + 7) // 8)
        if nbytes is not None:
            n = _int_arg(nbytes, "hex: the byte count")
            if width > n:
                raise InputError(f"hex: the number does not fit in {n} bytes")
            width = n
        return "0x" + value.to_bytes(width, "big").hex()
    if isinstance(value, str):
        return value.encode("utf-8").hex()
    raise InputError(f"hex takes bytes, a number or text, not {type(value).__name__}")


def unhex(value: Any) -> Any:
    """`text | unhex`: hex text (memory order; spaces and : allowed) -> bytes.

    A secret input's value gives a `Secret`; a `Secret` is returned as is.
    """
    if isinstance(value, Secret):
        return value
    if isinstance(value, SecretValue):
        try:
            return value.as_key_bytes()
        except ValueError:
            raise InputError("unhex: the secret value is not hex text") from None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if not isinstance(value, str):
        raise InputError(f"unhex takes hex text, not {type(value).__name__}")
    text = "".join(value.split()).replace(":", "").replace("-", "")
    if text[:2].lower() == "0x":
        raise InputError("unhex takes hex bytes in memory order without 0x",
                         hint="for a number use `| int(base=16)` or `| to_bytes(n)`")
    if not _HEX_DIGITS.match(text) or len(text) % 2:
        raise InputError("unhex: the text is not a whole number of hex bytes")
    return bytes.fromhex(text)


def to_bytes(value: Any, length: Any, order: str = "little") -> bytes:
    """`n | to_bytes(4)`: a number as `length` bytes, little-endian unless `order='big'`."""
    n = _int_arg(value, "to_bytes: the value")
    size = _int_arg(length, "to_bytes: the length")
    if order not in ("little", "big"):
        raise InputError("to_bytes: order is 'little' or 'big'")
    if not 0 < size <= 4096:
        raise InputError("to_bytes: the length must be 1..4096 bytes")
    if n < 0 or n.bit_length() > size * 8:
        raise InputError(f"to_bytes: {n} does not fit in {size} bytes")
    return n.to_bytes(size, order)  # type: ignore[arg-type]


def _mac_int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= MAC_MAX:
            raise InputError(f"{value} is outside the MAC address range")
        return value
    if isinstance(value, (bytes, bytearray)) and len(value) == 6:
        return int.from_bytes(value, "big")
    if isinstance(value, str):
        text = value.strip()
        if _MAC_GROUPS.match(text) or _MAC_DOTTED.match(text):
            return int(re.sub(r"[:.-]", "", text), 16)
        raise InputError(f"{value!r} is not a MAC address", hint="write it as aa:bb:cc:dd:ee:ff")
    raise InputError(f"a MAC address is text such as aa:bb:cc:dd:ee:ff, not {type(value).__name__}")


def _mac_text(n: int) -> str:
    return ":".join(f"{b:02x}" for b in n.to_bytes(6, "big"))


def mac(value: Any) -> str:
    """`x | mac`: a MAC (aa:bb.., AA-BB-.., aabbccddeeff, 6 bytes, a number) as aa:bb:cc:dd:ee:ff."""
    return _mac_text(_mac_int(value))


def mac_add(value: Any, n: Any = 1) -> str:
    """`mac | mac_add(n)` or `mac_add(mac, n)`: the address n after `mac`, carrying into higher bytes."""
    step = _int_arg(n, "mac_add: the increment")
    result = _mac_int(value) + step
    if not 0 <= result <= MAC_MAX:
        raise InputError(f"mac_add: {mac(value)} {'+' if step >= 0 else '-'} {abs(step)} "
                         "leaves the MAC address range")
    return _mac_text(result)


FILTERS: dict[str, Callable[..., Any]] = {
    "hex": hex_filter,
    "unhex": unhex,
    "to_bytes": to_bytes,
    "mac": mac,
    "mac_add": mac_add,
}
