"""`summary --format espefuse-json`: the summary in espefuse's `summary --format json` shape.

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

from fusebook.chips.models import FieldDef
from fusebook.efuse import codecs
from fusebook.efuse.image import EfuseImage


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
    computed = codecs.crc8_custom_mac(bytes.fromhex(mac.replace(":", "")))
    if computed == stored:
        return f"(CRC {stored:#04x} OK)"
    return f"(CRC {stored:#04x} invalid - calculated {computed:#04x})"


def _value(image: EfuseImage, f: FieldDef, raw: int, bits: int) -> Any:
    chip = image.chip
    if f.meanings and raw in f.meanings:
        return f.meanings[raw]
    value = codecs.decode_value(chip, f, raw)
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
