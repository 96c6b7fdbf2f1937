"""Load chip data files into `ChipDef` models.

Chip facts live in `chips/data/<chip>.yaml` (generated from Espressif's tables by
tools/gen_chip_data.py, plus a part kept by hand); fusebook reads their compiled form
(`chips/compile.py`) and only the table it needs. A chip may have revision-specific tables
(e.g. ESP32-P4 v3.0); `load_chip(name, revision)` picks the one whose `revisions` range
holds the revision.
"""

from __future__ import annotations

import functools
import json

from fusebook.chips.compile import COMPILED_DIR, DATA_DIR, revive, source, source_digest, validate
from fusebook.chips.models import ChipDef
from fusebook.errors import InputError, did_you_mean

__all__ = ["DATA_DIR", "chip_names", "load_chip", "revision_tables", "table_stem"]


@functools.cache
def _stems() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in DATA_DIR.glob("*.yaml")))


def chip_names() -> tuple[str, ...]:
    """The chips fusebook knows, by their espefuse names (esp32, esp32c3, ...)."""
    return tuple(s for s in _stems() if "_v" not in s)


def _variants(chip: str) -> list[str]:
    return [s for s in _stems() if s.startswith(chip + "_v")]


def revision_tables(chip: str) -> tuple[ChipDef, ...]:
    """The chip's revision-specific tables (beside its default one), oldest first."""
    return tuple(_build(stem) for stem in _variants(chip))


def table_stem(chip: str, revision: int | None) -> str:
    """The data file to use for `chip` at `revision` (major*100+minor); None: the default."""
    if revision is not None:
        for stem in _variants(chip):
            span = _build(stem).revisions
            if span is not None and span[0] <= revision <= span[1]:
                return stem
    return chip


def load_chip(name: str, revision: int | None = None) -> ChipDef:
    """The chip definition for `name` (case-insensitive, `ESP32-C3` also accepted)."""
    key = name.lower().replace("-", "")
    if key not in chip_names():
        raise InputError(
            f"unknown chip {name!r}",
            hint=did_you_mean(key, list(chip_names())) or "known: " + ", ".join(chip_names()),
        )
    return _build(table_stem(key, revision))


@functools.cache
def _build(stem: str) -> ChipDef:
    """Table `stem` from its compiled form, or from its YAML when that changed since or the
    compiled file cannot be read (a truncated or damaged file): the YAML is the truth."""
    path = COMPILED_DIR / f"{stem}.json"
    try:
        compiled = json.loads(path.read_bytes())
        if compiled.get("source_sha256") == source_digest(stem):
            return revive(compiled["chip"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    return validate(source(stem))
