"""Outputs in espefuse's own shapes, for scripts and people used to them.

- `dump_lines`: `espefuse dump` (each block's words, as the chip reads them);
- `custom_mac_line`: `espefuse get-custom-mac`;
- `summary`: `summary --format espefuse-json`, the shape of `espefuse summary --format json`.


Scripts written against espefuse parse one object per field name with `name`, `value`,
`raw_value`, `readable`, `writeable`, `description`, `category`, `block`, `word`, `pos`,
`efuse_type` and `bit_len`; this module lays fusebook's reading of a chip out that way.
Values follow espefuse's forms: a meaning where the table has one (`"Disable"`), key
purposes by name, byte fields as space-separated hex, MACs with espefuse's check suffix,
and a read-protected value as espefuse shows it (its zero digits as `?`). Fields that
espefuse converts to physical units (calibration, voltages) keep their raw number here.
"""

from __future__ import annotations

from typing import Any

from fusebook.api import EfuseImage, FieldDef, crc8_custom_mac, decode_value


def _data_bits(image: EfuseImage, f: FieldDef) -> int:
    """The field's width as espefuse reads it: a whole ESP32 block under 3/4 coding holds 24 bytes."""
    if f.klass == "keyblock" and f.start == 0 and f.bits == image.chip.blocks[f.block].words * 32:
        return min(f.bits, image.data_bytes(f.block) * 8)
    return f.bits


def efuse_type(f: FieldDef, bits: int) -> str:
    """espefuse's type string: `bool`, `uint:N`, `bytes:N`."""
    if f.type == "bool":
        return "bool"
    if f.type == "bytes":
        return f"bytes:{bits // 8}"
    return f"uint:{bits}"


def raw_value(f: FieldDef, raw: int, bits: int) -> str:
    """`0x` hex of the field's bits: memory order for byte fields, else the number, a digit per 4 bits."""
    if f.type == "bytes":
        return "0x" + raw.to_bytes(f.bits // 8, "little")[: bits // 8].hex()
    return f"0x{raw:0{(bits + 3) // 4}x}"


def _mac_check(image: EfuseImage, f: FieldDef, mac: str) -> str:
    """The suffix espefuse gives a MAC: its CRC where the chip stores one (`NAME_CRC`), else (OK)."""
    chip = image.chip
    crc_field = f.name + "_CRC"
    if not chip.has_field(crc_field):
        return "(OK)"
    stored = image.raw(chip.field(crc_field))
    computed = crc8_custom_mac(bytes.fromhex(mac.replace(":", "")))
    if computed == stored:
        return f"(CRC {stored:#04x} OK)"
    return f"(CRC {stored:#04x} invalid - calculated {computed:#04x})"


def _value(image: EfuseImage, f: FieldDef, raw: int, bits: int) -> Any:
    chip = image.chip
    if f.meanings and raw in f.meanings:
        return f.meanings[raw]
    value = decode_value(chip, f, raw)
    if f.klass == "mac":
        return f"{value} {_mac_check(image, f, str(value))}"
    if f.type == "bytes":
        text = str(value)[: bits // 4]
        return " ".join(text[i : i + 2] for i in range(0, len(text), 2))
    return value


def _unreadable(image: EfuseImage, f: FieldDef, value: Any, raw: int) -> Any:
    """A read-protected value as espefuse shows it: zero digits as `?`, per protected part.

    A field with one read-disable bit per half (ESP32-C2's BLOCK_KEY0) marks each half
    on its own; anything else only when it reads all zero.
    """
    if len(f.rd_dis) > 1 and isinstance(value, str):
        parts = len(f.rd_dis)
        width = len(value) // parts
        pieces = [value[k * width : (k + 1) * width] for k in range(parts)]
        pieces[-1] += value[parts * width :]
        return "".join(p.replace("0", "?") if (image.rd_dis >> bit) & 1 else p
                       for p, bit in zip(pieces, f.rd_dis, strict=True))
    return str(value).replace("0", "?") if raw == 0 else value


def summary(image: EfuseImage, only: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every field (or the named ones) keyed by name, in espefuse's JSON shape."""
    out: dict[str, dict[str, Any]] = {}
    for f in image.chip.fields:
        if only and f.name not in only:
            continue
        raw = image.raw(f)
        bits = _data_bits(image, f)
        readable = image.field_readable(f)
        value = _value(image, f, raw, bits)
        if not readable:
            value = _unreadable(image, f, value, raw)
        out[f.name] = {
            "name": f.name,
            "value": value,
            "raw_value": raw_value(f, raw, bits),
            "readable": readable,
            "writeable": image.field_writeable(f),
            "description": f.description,
            "category": f.category,
            "block": f.block,
            "word": None if f.parts else f.word,  # a combined field is no single run of bits
            "pos": None if f.parts else f.pos,
            "efuse_type": efuse_type(f, bits),
            "bit_len": bits,
        }
    return out


def dump_lines(image: EfuseImage) -> list[str]:
    """`espefuse dump`: per block its name, aliases, number and words, first word first.

    A block carries the words its coding holds (an ESP32 block under 3/4 coding, 6).
    """
    lines = []
    for b in image.chip.blocks:
        words = image.blocks[b.id].to_bytes(b.words * 4, "little")[: image.data_bytes(b)]
        text = " ".join(f"{int.from_bytes(words[i : i + 4], 'little'):08x}" for i in range(0, len(words), 4))
        lines.append(f"{b.name:<15s} ({' '.join(b.aliases)[:16]:<16s}) [{b.id:<2d}] dump: {text}")
    return lines


def custom_mac(image: EfuseImage) -> dict[str, Any]:
    """The custom MAC as `espefuse get-custom-mac` reports it, as values.

    Where the chip has a MAC_VERSION field (the ESP32), a custom MAC counts as set only
    once MAC_VERSION is; elsewhere it is whatever CUSTOM_MAC holds.
    """
    chip = image.chip
    f = chip.field("CUSTOM_MAC")
    mac = str(decode_value(chip, f, image.raw(f)))
    version = image.raw(chip.field("MAC_VERSION")) if chip.has_field("MAC_VERSION") else None
    return {
        "custom_mac": mac,
        "check": _mac_check(image, f, mac),
        "version": version,
        "set": version != 0 if version is not None else mac != "00:00:00:00:00:00",
        "readable": image.field_readable(f),
    }


def custom_mac_line(image: EfuseImage) -> str:
    """espefuse's line for `get-custom-mac`."""
    m = custom_mac(image)
    if m["version"] is None:
        return f"Custom MAC Address: {m['custom_mac']} {m['check']}"
    if not m["version"]:
        return "Custom MAC Address is not set in the device."
    return f"Custom MAC Address version {m['version']}: {m['custom_mac']} {m['check']}"
