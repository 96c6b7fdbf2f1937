"""ESP-IDF custom eFuse tables (`esp_efuse_custom_table.csv`) as extra chip fields.

A custom table names bits of the user blocks so recipes can burn them by name, as
espefuse's `--extend-efuse-table` does. Each non-comment line is

    field_name, efuse_block, bit_start, bit_count, comment

`efuse_block` is `EFUSE_BLKn` (also `BLKn`, `n`, or a block name such as
`BLOCK_USR_DATA`); an empty `bit_start` continues where the previous field of the same
block ended; `bit_count` may be `MAX_BLK_LEN` (the whole block). A line with an empty
name continues the field above it (ESP-IDF's multi-part fields). As in espefuse, the
parts of such a field are named `NAME_0`, `NAME_1`, ...; fusebook also offers `NAME`
itself, assembled from its parts, when they share a block. Dots in names become `_`.

A field of 1 bit is a bool, one of more than 32 bits in whole bytes holds bytes, any
other a number: the types espefuse gives such fields. Protection comes from the block.
Fields may not overlap the chip's own fields (other than the whole-block field),
each other (other than a nested `A.B` inside `A`), nor leave their block.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from fusebook.chips.models import BlockDef, ChipDef, FieldDef, FieldPart
from fusebook.errors import InputError, SourceLocation
from fusebook.numbers import parse_int

_BLOCK_RE = re.compile(r"^(?:EFUSE_BLK|BLK)?([0-9]+)$", re.IGNORECASE)
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_ALIASES_RE = re.compile(r"^\[(.*?)\]")


@dataclass
class _Row:
    """One parsed line: a field, or one part of a multi-line field."""

    name: str
    block: BlockDef
    start: int
    bits: int
    comment: str
    line: int
    column: int


def _location(source: str, line: int, column: int = 1) -> SourceLocation:
    return SourceLocation(source, line, column)


def _int(text: str, what: str, source: str, line: int, column: int) -> int:
    try:
        value = parse_int(text, 0)
    except ValueError:
        raise InputError(
            f"{what} {text!r} is not a number", location=_location(source, line, column),
            hint="write a decimal or 0x hex number",
        ) from None
    if value < 0:
        raise InputError(f"{what} {value} is negative", location=_location(source, line, column))
    return value


def _block(chip: ChipDef, text: str, source: str, line: int, column: int) -> BlockDef:
    m = _BLOCK_RE.match(text)
    if m:
        idx = int(m.group(1))
        if idx < len(chip.blocks):
            return chip.blocks[idx]
    elif chip.has_block(text):
        return chip.block(text)
    names = ", ".join(f"EFUSE_BLK{b.id} ({b.name})" for b in chip.blocks)
    raise InputError(
        f"{chip.description} has no eFuse block {text!r}",
        location=_location(source, line, column), hint=f"blocks: {names}",
    )


def _split(line: str) -> list[tuple[str, int]]:
    """The comma-separated cells of a line with their 1-based columns (first 5 cells)."""
    cells: list[tuple[str, int]] = []
    col = 1
    for i, raw in enumerate(line.split(",", 4)):
        text = raw.strip()
        cells.append((text, col + (len(raw) - len(raw.lstrip()))))
        col += len(raw) + 1
        if i == 4:
            break
    while len(cells) < 5:
        cells.append(("", col))
    return cells


def _parse(chip: ChipDef, csv_text: str, source: str) -> list[_Row]:
    rows: list[_Row] = []
    last_end: dict[int, int] = {}
    previous: _Row | None = None
    for lineno, line in enumerate(csv_text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        (name, ncol), (blk_text, bcol), (start_text, scol), (count_text, ccol), (comment, _) = _split(line)
        if not name:
            if previous is None:
                raise InputError("a continuation line (empty field name) needs a field above it",
                                 location=_location(source, lineno))
            name = previous.name
        elif not _NAME_RE.match(name):
            raise InputError(f"{name!r} is not a valid field name", location=_location(source, lineno, ncol),
                             hint="use letters, digits, '_' (and '.' for nested fields)")
        else:
            first = next((r for r in rows if r.name == name), None)
            if first is not None:
                raise InputError(
                    f"{name} is defined twice in the custom table (first on line {first.line})",
                    location=_location(source, lineno, ncol),
                    related=(_location(source, first.line, first.column),),
                    hint="a field of several parts continues on lines with an empty name",
                )
        if not blk_text:
            raise InputError("the efuse_block column is empty", location=_location(source, lineno, bcol))
        blk = _block(chip, blk_text, source, lineno, bcol)
        size = blk.words * 32
        start = (last_end.get(blk.id, 0) if not start_text
                 else _int(start_text, "bit_start", source, lineno, scol))
        if count_text == "MAX_BLK_LEN":
            count = size
        elif not count_text:
            raise InputError("the bit_count column is empty", location=_location(source, lineno, ccol))
        else:
            count = _int(count_text, "bit_count", source, lineno, ccol)
        if count == 0:
            raise InputError("bit_count is 0", location=_location(source, lineno, ccol))
        if start + count > size:
            raise InputError(
                f"{name} (bits {start}..{start + count - 1}) does not fit {blk.name} ({size} bits)",
                location=_location(source, lineno, scol),
                hint=f"the last bit of {blk.name} is {size - 1}",
            )
        row = _Row(name, blk, start, count, comment.rstrip("\\").strip(), lineno, ncol)
        rows.append(row)
        last_end[blk.id] = start + count
        previous = row
    return rows


def _type(bits: int) -> str:
    if bits == 1:
        return "bool"
    if bits > 32 and bits % 8 == 0:
        return "bytes"
    return "uint"


def _field(name: str, blk: BlockDef, start: int, bits: int, comment: str,
           parts: tuple[FieldPart, ...] = ()) -> FieldDef:
    m = _ALIASES_RE.match(comment)
    aliases = tuple(a.replace(".", "_") for a in m.group(1).split()) if m else ()
    return FieldDef(
        name=name, block=blk.id, word=start // 32, pos=start % 32, bits=bits,
        type="uint" if parts else _type(bits), aliases=aliases,
        wr_dis=blk.wr_dis if blk.id else None, rd_dis=blk.rd_dis if blk.id else (),
        description=comment, category="user", parts=parts,
    )


def _nested(a: str, b: str) -> bool:
    """True if one dotted name is inside the other (USER_DATA.SERIAL in USER_DATA)."""
    return a.startswith(b + ".") or b.startswith(a + ".")


def _overlaps(a_start: int, a_bits: int, b_start: int, b_bits: int) -> bool:
    return a_start < b_start + b_bits and b_start < a_start + a_bits


def extend_chip(chip: ChipDef, csv_text: str, source: str) -> ChipDef:
    """`chip` with the fields of an ESP-IDF custom eFuse table added.

    Raises InputError naming `source`:line (and both fields) for a field that overlaps
    another, repeats a name, or leaves its block.
    """
    rows = _parse(chip, csv_text, source)
    groups: dict[str, list[_Row]] = {}
    for r in rows:
        groups.setdefault(r.name, []).append(r)

    for i, a in enumerate(rows):
        for f in chip.fields_in_block(a.block.id):
            if f.start == 0 and f.bits >= a.block.words * 32:
                continue  # the whole-block field (BLOCK_USR_DATA, ...) holds custom fields
            spans = [(p.start, p.bits) for p in f.parts] or [(f.start, f.bits)]
            if any(_overlaps(a.start, a.bits, s, n) for s, n in spans):
                raise InputError(
                    f"{a.name} (bits {a.start}..{a.start + a.bits - 1} of {a.block.name}) overlaps "
                    f"{chip.description}'s field {f.name} (bits {f.start}..{f.start + f.bits - 1})",
                    location=_location(source, a.line, a.column),
                    hint="choose bits that no field of the chip's own table uses",
                )
        for b in rows[i + 1:]:
            if b.name == a.name or b.block.id != a.block.id or _nested(a.name, b.name):
                continue
            if _overlaps(a.start, a.bits, b.start, b.bits):
                raise InputError(
                    f"{b.name} (bits {b.start}..{b.start + b.bits - 1} of {b.block.name}) overlaps "
                    f"{a.name} (bits {a.start}..{a.start + a.bits - 1}, line {a.line})",
                    location=_location(source, b.line, b.column),
                    related=(_location(source, a.line, a.column),),
                )

    new: list[FieldDef] = []
    seen: dict[str, _Row] = {}
    for name, parts in groups.items():
        base = name.replace(".", "_")
        fields: list[FieldDef] = []
        if len(parts) == 1:
            p = parts[0]
            fields.append(_field(base, p.block, p.start, p.bits, p.comment))
        else:
            for n, p in enumerate(parts):
                fields.append(_field(f"{base}_{n}", p.block, p.start, p.bits, p.comment))
            if len({p.block.id for p in parts}) == 1:
                first = parts[0]
                fields.append(_field(
                    base, first.block, first.start, sum(p.bits for p in parts), first.comment,
                    parts=tuple(FieldPart(p.start // 32, p.start % 32, p.bits) for p in parts),
                ))
        row = parts[0]
        loc = _location(source, row.line, row.column)
        for f in fields:
            for alias in f.names:
                if chip.has_field(alias) or chip.has_block(alias):
                    raise InputError(
                        f"{alias} is already a name in {chip.description}'s eFuse table",
                        location=loc, hint="give the custom field another name",
                    )
                if alias in seen:
                    other = seen[alias]
                    raise InputError(
                        f"{alias} is defined twice in the custom table (first on line {other.line})",
                        location=loc, related=(_location(source, other.line, other.column),),
                    )
                seen[alias] = row
        new.extend(fields)

    return dataclasses.replace(
        chip, fields=chip.fields + tuple(new),
        _by_name={}, _blocks_by_name={}, _fields_by_block={},
    )
