"""A chip's reference page (docs/chips/<chip>.md), written from its chip data alone.

The pages are generated so they cannot drift from what fusebook burns: `make chipdocs`
writes them, and a test fails when a page differs from what the data gives today.
"""

from __future__ import annotations

from collections.abc import Iterable

from fusebook.chips.models import BlockDef, ChipDef, FieldDef

HEADER = "<!-- Generated from fusebook/chips/data by `make chipdocs`; do not edit by hand. -->"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _table(head: list[str], rows: Iterable[list[object]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _bits(f: FieldDef) -> str:
    if f.parts:
        return " + ".join(f"w{p.word}[{p.pos + p.bits - 1}:{p.pos}]" for p in f.parts)
    if f.bits == 1:
        return f"w{f.word}[{f.pos}]"
    return f"w{f.word}[{f.pos + f.bits - 1}:{f.pos}]" if f.pos + f.bits <= 32 else f"w{f.word}+{f.pos}, {f.bits} bits"


def _protection(wr_dis: int | None, rd_dis: tuple[int, ...]) -> str:
    parts = []
    if wr_dis is not None:
        parts.append(f"WR_DIS bit {wr_dis}")
    if rd_dis:
        parts.append("RD_DIS bit " + ", ".join(map(str, rd_dis)))
    return "; ".join(parts) or "-"


def _coding(b: BlockDef) -> str:
    return {"none": "none", "rs": "RS(44,32)", "esp32": "by CODING_SCHEME (NONE or 3/4)"}.get(b.coding, b.coding)


def chip_reference(chip: ChipDef, variants: Iterable[ChipDef] = (), schemes: Iterable[str] | None = None) -> str:
    """The Markdown page for `chip` (its default table), noting revision-specific tables."""
    lines = [HEADER, "", f"# {chip.description} (`{chip.name}`)", ""]
    lines += [f"{len(chip.blocks)} blocks, {len(chip.fields)} fields, {len(chip.key_purposes)} key purposes. "
              f"Names are espefuse's and ESP-IDF's; a recipe may use a field's or block's aliases too.", ""]
    variants = list(variants)
    if variants:
        lines += ["Revision-specific tables (chosen by the chip's revision, major*100+minor):", ""]
        for v in variants:
            lo, hi = v.revisions or (0, 0)
            added = sorted({f.name for f in v.fields} - {f.name for f in chip.fields})
            gone = sorted({f.name for f in chip.fields} - {f.name for f in v.fields})
            what = []
            if added:
                what.append("adds " + ", ".join(f"`{n}`" for n in added))
            if gone:
                what.append("lacks " + ", ".join(f"`{n}`" for n in gone))
            lines.append(f"- revisions {lo}-{hi}: {'; '.join(what) or 'the same field names, other positions'}")
        lines.append("")

    lines += ["## Blocks", ""]
    lines += _table(["id", "name", "aliases", "bits", "coding", "protected by", "key purpose field"], (
        [b.id, f"`{b.name}`", ", ".join(f"`{a}`" for a in b.aliases if a != b.name) or "-", b.words * 32, _coding(b),
         _protection(b.wr_dis, b.rd_dis), f"`{b.key_purpose_field}`" if b.key_purpose_field else "-"]
        for b in chip.blocks))
    lines.append("")

    if chip.key_purposes:
        lines += ["## Key purposes", ""]
        lines += _table(["name", "value", "kind", "read-protected by default", "place"], (
            [f"`{k.name}`", k.value if k.value >= 0 else "two blocks",
             "secure boot digest" if k.digest else "key", "yes" if k.read_protect else "no",
             f"`{k.target}`" if k.target else "any key block"]
            for k in chip.key_purposes))
        lines.append("")
    if schemes is not None:
        lines += ["Secure Boot V2 signing schemes the ROM verifies: "
                  + (", ".join(f"`{s}`" for s in schemes) or "none") + ".", ""]

    quirks = []
    if chip.postponed:
        quirks.append("Burned last, in their own program after every other BLOCK0 bit (protection and "
                      "security switches): " + ", ".join(f"`{n}`" for n in chip.postponed) + ".")
    for group in chip.incompatible:
        quirks.append("Never all set together (refused): " + ", ".join(f"`{n}`" for n in group) + ".")
    for field, purposes in sorted(chip.forbidden_purposes.items()):
        quirks.append(f"`{field}` must not take " + ", ".join(f"`{p}`" for p in purposes)
                      + " purposes (a silicon erratum; refused).")
    if chip.revision_zero_if:
        quirks.append("The chip reads as revision v0.0 when " + ", ".join(
            f"`{k}` = {v}" for k, v in chip.revision_zero_if.items()) + ".")
    if chip.revision_registers:
        quirks.append("Its revision also reads registers outside the eFuse block: "
                      + ", ".join(f"`{r.register}`" for r in chip.revision_registers) + ".")
    if quirks:
        lines += ["## Quirks fusebook honours", ""] + [f"- {q}" for q in quirks] + [""]

    lines += ["## Fields", ""]
    for b in chip.blocks:
        fields = chip.fields_in_block(b.id)
        if not fields:
            continue
        lines += [f"### {b.name}", ""]
        lines += _table(["name", "bits", "where", "type", "protected by", "description"], (
            [f"`{f.name}`" + (" (" + ", ".join(f"`{a}`" for a in f.aliases) + ")" if f.aliases else ""),
             f.bits, _bits(f), f.klass or f.type, _protection(f.wr_dis, f.rd_dis),
             (f.description or "") + ("" if f.burnable else " (read only)")]
            for f in fields))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def index_page(chips: Iterable[ChipDef]) -> str:
    """docs/chips/README.md: one line per chip."""
    lines = [HEADER, "", "# Chip reference", "",
             "One page per chip, written from fusebook's chip data: blocks, key purposes, quirks and "
             "every field. `fusebook fields CHIP` prints the same from the command line.", ""]
    lines += [f"- [{c.description}]({c.name}.md): {len(c.fields)} fields, {len(c.blocks)} blocks" for c in chips]
    return "\n".join(lines) + "\n"
