"""Field values in the user's words <-> the raw bits of a field.

Users write what espefuse accepts: integers (also `0x..`), booleans, MAC strings,
key-purpose names, and hex bytes for byte fields. Byte order follows espefuse: a plain
hex string is in memory order (first byte at the lowest address); `0x...` is a number,
so its last byte goes first. MACs read as espefuse shows them: CUSTOM_MAC in memory order,
the factory MAC with its bytes reversed.
"""

from __future__ import annotations

import re
import struct
from typing import Any

from fusebook.chips.models import ChipDef, FieldDef
from fusebook.errors import InputError
from fusebook.numbers import parse_int
from fusebook.secret import Secret

_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")
_HEX_RE = re.compile(r"^[0-9A-Fa-f\s]*$")


def parse_mac(text: Any) -> bytes:
    """'AA:BB:CC:DD:EE:FF' -> 6 bytes; must be a unicast address, as espefuse requires."""
    if not isinstance(text, str) or not _MAC_RE.match(text.strip()):
        raise InputError(
            f"{text!r} is not a MAC address", hint="write it as AA:BB:CC:DD:EE:FF"
        )
    data = bytes.fromhex(text.strip().replace(":", "").replace("-", ""))
    if data[0] & 1:
        raise InputError(
            f"{text} is a multicast MAC address; a custom MAC must be unicast",
            hint="the lowest bit of the first byte must be 0",
        )
    return data


def format_mac(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data)


def mac_add(mac: str, n: int) -> str:
    """The MAC `n` addresses after `mac`, carrying into higher bytes."""
    value = int(mac.replace(":", "").replace("-", ""), 16) + int(n)
    if not 0 <= value < 1 << 48:
        raise InputError(f"{mac} + {n} is outside the MAC address range")
    return format_mac(value.to_bytes(6, "big"))


def parse_hex_bytes(value: Any, what: str = "value") -> bytes:
    """Bytes from bytes, a Secret, or a hex string (spaces allowed, optional 0x = number)."""
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lower().startswith("0x"):
            digits = text[2:]
            if len(digits) % 2 or not _HEX_RE.match(digits):
                raise InputError(f"{what} is not a whole number of hex bytes")
            return bytes.fromhex(digits)[::-1]
        if _HEX_RE.match(text):
            digits = "".join(text.split())
            if len(digits) % 2 == 0:
                return bytes.fromhex(digits)
    raise InputError(
        f"{what} is not hex bytes",
        hint="write bytes as a hex string such as 00112233..., in memory order",
    )


def _parse_int(field: FieldDef, value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        low = text.lower()
        if low in ("true", "false"):
            return int(low == "true")
        try:
            return parse_int(text, 0)
        except ValueError:
            pass
    raise InputError(
        f"{value!r} is not a number for {field.name}",
        hint="give an integer (decimal or 0x hex) or true/false",
    )


def encode_value(chip: ChipDef, field: FieldDef, value: Any) -> int:
    """The raw bits that `value` stands for in `field`; InputError if it cannot fit."""
    digits = isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()
    if field.klass == "keypurpose" and isinstance(value, str) and not digits:
        raw = chip.key_purpose(value.strip()).value
    elif field.klass == "mac" and field.type == "bytes":
        if isinstance(value, (bytes, bytearray)):
            data = bytes(value)
        else:
            data = parse_mac(value)
        raw = mac_bytes_to_raw(field, data)
    elif field.type == "bytes":
        data = parse_hex_bytes(value, f"the value of {field.name}")
        if len(data) * 8 != field.bits:
            raise InputError(
                f"{field.name} holds {field.bits // 8} bytes, the value has {len(data)}",
                hint="give exactly as many hex bytes as the field holds",
            )
        raw = int.from_bytes(data, "little")
    else:
        raw = _parse_int(field, value)
    if raw < 0 or raw >> field.bits:
        raise InputError(
            f"{value!r} does not fit {field.name} ({field.bits} bit{'s' if field.bits > 1 else ''})",
            hint=f"the largest value is {(1 << field.bits) - 1:#x}",
        )
    return raw


def mac_bytes_to_raw(field: FieldDef, data: bytes) -> int:
    if len(data) * 8 != field.bits:
        raise InputError(f"{field.name} holds a {field.bits // 8}-byte MAC, got {len(data)} bytes")
    if field.name == "CUSTOM_MAC":
        return int.from_bytes(data, "little")
    return int.from_bytes(data, "big")


def decode_value(chip: ChipDef, field: FieldDef, raw: int) -> int | bool | str:
    """The value as templates and summaries show it (bool, int, MAC text, hex, purpose)."""
    if field.klass == "keypurpose":
        return chip.key_purpose_name(raw)
    if field.type == "bool":
        return bool(raw)
    if field.type == "bytes":
        n = field.bits // 8
        if field.klass == "mac":
            data = raw.to_bytes(n, "little" if field.name == "CUSTOM_MAC" else "big")
            return format_mac(data)
        return raw.to_bytes(n, "little").hex()
    return raw


def meaning(chip: ChipDef, field: FieldDef, raw: int) -> str:
    """The table's meaning of a value (e.g. 'Disable'), else the value itself as text."""
    if raw in field.meanings:
        return field.meanings[raw]
    return str(decode_value(chip, field, raw))


def crc8_custom_mac(data: bytes) -> int:
    """ESP32's custom-MAC CRC: CRC-8, reflected polynomial 0x8C, initial value 0."""
    crc = 0
    for b in struct.unpack("6B", data):
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
    return crc
