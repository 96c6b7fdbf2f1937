"""Write docs/chips/<chip>.md (and its index) from fusebook's chip data: `make chipdocs`.

`--check` writes nothing and exits 1 if a page differs from what the data gives today
(the test suite runs it that way, so the pages cannot drift from the data).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fusebook.chips.loader import chip_names, load_chip, revision_tables
from fusebook.chips.reference import chip_reference, index_page
from fusebook.keys.schemes import known_chips, scheme_support

OUT = Path(__file__).resolve().parent.parent / "docs" / "chips"


def pages() -> dict[Path, str]:
    out = {}
    chips = [load_chip(name) for name in chip_names()]
    for chip in chips:
        schemes = None
        if chip.name in known_chips():
            found = scheme_support(chip.name).schemes
            schemes = list(found) if found is not None else None
        out[OUT / f"{chip.name}.md"] = chip_reference(chip, revision_tables(chip.name), schemes)
    out[OUT / "README.md"] = index_page(chips)
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, text in pages().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    extra = sorted(set(OUT.glob("*.md")) - set(pages())) if OUT.exists() else []
    if check and (stale or extra):
        for p in stale:
            print(f"{p} is out of date: run `make chipdocs`")
        for p in extra:
            print(f"{p} is not a chip fusebook knows: remove it")
        return 1
    if not check:
        print(f"wrote {len(stale)} page(s) in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
