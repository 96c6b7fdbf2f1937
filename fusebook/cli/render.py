"""Text rendering of fusebook's results: tables a production engineer reads at a station.

Only presentation lives here; every number comes from the api's values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fusebook.api import BurnPlan, ChipDef, EfuseImage, coding_name, decode_value


def table(rows: Iterable[Iterable[Any]], headers: Iterable[str]) -> str:
    rows = [[str(c) for c in r] for r in rows]
    headers = [str(h) for h in headers]
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False))
    out = [line.rstrip(), "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip())
    return "\n".join(out)


def coding_label(image: EfuseImage, block: int) -> str:
    """The coding scheme a chip applies to `block` now (NONE, 3/4, RS, REPEAT)."""
    return coding_name(image, block)


def fields_text(chip: ChipDef, image: EfuseImage | None = None) -> str:
    """The chip's blocks and fields; read from a chip (`image`), with what fits its coding."""
    parts = [f"{chip.description} ({chip.name}{', table ' + chip.variant if chip.variant else ''})", ""]
    parts.append("Blocks")
    head: tuple[str, ...] = ("id", "name", "aliases", "bits", "coding", "WR_DIS bit", "RD_DIS bit", "purpose field")
    blocks = [
        [b.id, b.name, " ".join(b.aliases), b.words * 32, b.coding.upper(),
         "-" if b.wr_dis is None else b.wr_dis,
         "-" if not b.rd_dis else ",".join(map(str, b.rd_dis)),
         b.key_purpose_field or ""]
        for b in chip.blocks
    ]
    if image is not None:
        head += ("coding now", "data bits")
        for row, b in zip(blocks, chip.blocks, strict=True):
            row += [coding_label(image, b.id), image.data_bytes(b) * 8]
    parts.append(table(blocks, head))
    parts += ["", "Fields"]
    fields = [
        [f.name, f.block, f"{f.word}:{f.pos}", f.bits,
         f.klass if f.klass in ("mac", "keypurpose") else f.type,
         "-" if f.wr_dis is None else f.wr_dis,
         "-" if not f.rd_dis else ",".join(map(str, f.rd_dis)),
         " ".join(f.aliases), f.description[:60]]
        for f in chip.fields
    ]
    fhead: tuple[str, ...] = ("name", "block", "word:bit", "bits", "type", "WR_DIS", "RD_DIS", "aliases", "description")
    if image is not None:
        fhead += ("fits",)
        for row, f in zip(fields, chip.fields, strict=True):
            size = image.data_bytes(f.block) * 8
            held = f"{coding_label(image, f.block)} coding holds bits 0..{size - 1}"
            row.append("yes" if image.field_fits(f) else f"partly: {held}" if f.start < size else f"NO: {held}")
    parts.append(table(fields, fhead))
    if chip.key_purposes:
        parts += ["", "Key purposes"]
        parts.append(
            table(
                (
                    (k.name, k.value if k.value >= 0 else "(two blocks)",
                     "yes" if k.read_protect else "no", "yes" if k.reverse else "no",
                     "yes" if k.digest else "no")
                    for k in chip.key_purposes
                ),
                ("purpose", "value", "read-protect", "byte-reversed", "digest"),
            )
        )
    return "\n".join(parts)


#: The words whose bits protect other fields: shown in hex, one digit per four bits.
PROTECTION_WORDS = ("WR_DIS", "RD_DIS")
#: What a value that cannot be read (read-protected) shows, as espefuse shows it.
UNREADABLE = "??"


def summary_rows(image: EfuseImage) -> list[dict[str, Any]]:
    chip = image.chip
    rows = []
    for f in chip.fields:
        raw = image.raw(f)
        value = decode_value(chip, f, raw)
        rows.append(
            {
                "name": f.name,
                "block": f.block,
                "category": f.category,
                "description": f.description,
                "value": value,
                "meaning": f.meanings.get(raw) if f.meanings else None,
                "raw": f"0x{raw:x}",
                "readable": image.field_readable(f),
                "writeable": image.field_writeable(f),
            }
        )
    return rows


def _shown_value(image: EfuseImage, row: dict[str, Any]) -> str:
    """A summary row's value as the table shows it: `??` if read-protected, hex for protections."""
    if not row["readable"]:
        return UNREADABLE
    if row["name"] in PROTECTION_WORDS:
        return f"0x{int(row['raw'], 16):0{(image.chip.field(row['name']).bits + 3) // 4}x}"
    shown = str(row["value"])
    return f"{shown} ({row['meaning']})" if row["meaning"] else shown


#: The widest description the summary table shows (the rest is cut with an ellipsis).
DESCRIPTION_WIDTH = 50


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DESCRIPTION_WIDTH else text[: DESCRIPTION_WIDTH - 3] + "..."


def summary_text(image: EfuseImage, source: str, only: list[str] | None = None) -> str:
    chip = image.chip
    head = (
        f"{chip.description} revision v{image.revision_major}.{image.revision_minor}"
        f" ({source})"
    )
    rows = []
    for r in summary_rows(image):
        if only and r["name"] not in only:
            continue
        flags = ("R" if r["readable"] else "-") + ("/W" if r["writeable"] else "/-")
        rows.append((r["category"], r["name"], f"BLOCK{r['block']}", flags, _shown_value(image, r),
                     _short(r["description"])))
    rows.sort(key=lambda x: (x[0], x[2], x[1]))
    return head + "\n\n" + table(rows, ("category", "field", "block", "R/W", "value", "description"))


def plan_text(plan: BurnPlan) -> str:
    out = []
    if plan.changes:
        out.append("Changes (before -> after):")
        for c in plan.changes:
            where = f"  [{c.origin}]" if c.origin else ""
            out.append(f"  {c.label()}: {c.before} -> {c.after}{where}")
    else:
        out.append("Nothing to burn: the chip already holds everything the recipe asks for.")
    if plan.writes:
        out.append("")
        out.append("Block writes, in burn order:")
        for n, w in enumerate(plan.writes, start=1):
            words = (f"<redacted key data> (key {w.fingerprint})" if w.fingerprint else "<redacted key data>") \
                if w.secret else " ".join(f"{x:08x}" for x in w.words)
            out.append(f"  {n}. {w.block_name} ({w.phase}): {words}")
    for s in plan.skipped:
        out.append(f"skipped (already burned): {s}")
    for warning in plan.warnings:
        out.append(str(warning))
    return "\n".join(out)
