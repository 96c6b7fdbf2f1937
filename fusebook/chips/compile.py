"""Chip data files (YAML) compiled into the form fusebook loads at run time (JSON).

The YAML files in `chips/data/` are where chip facts are written and reviewed; parsing them
costs more than everything else a one-shot `fusebook apply` does. So each table is
validated here, once, by the typed model (`ChipDef`, through pydantic) and written to
`chips/compiled/<table>.json`, which the loader reads in about a millisecond. Each compiled
file carries the digest of the YAML it came from: the loader recompiles in memory when
they differ, and a test keeps the checked-in files current (`make chipdata` rewrites them,
with the JSON Schema of the data files, schemas/chip.schema.json).

A revision table (esp32p4_v3.0.yaml) holds the eFuse table of that revision only; the
sections of the chip itself (`link`, `secure_boot`) come from the chip's default file.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import sys
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fusebook.chips.models import ChipDef

DATA_DIR = Path(__file__).resolve().parent / "data"
COMPILED_DIR = Path(__file__).resolve().parent / "compiled"
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "chip.schema.json"

#: Sections that belong to the chip, not to one revision's table: a revision table without
#: them takes them from the chip's default file.
CHIP_SECTIONS = ("link", "secure_boot")


def base_stem(stem: str) -> str:
    """The chip a table belongs to: esp32p4 for esp32p4_v3.0."""
    return stem.split("_v", 1)[0]


def source_files(stem: str) -> tuple[Path, ...]:
    """The YAML files table `stem` is made of (its own, then its chip's default file)."""
    own = DATA_DIR / f"{stem}.yaml"
    base = base_stem(stem)
    return (own,) if base == stem else (own, DATA_DIR / f"{base}.yaml")


def source_digest(stem: str) -> str:
    """SHA-256 over the YAML files of table `stem`: what its compiled form was made from."""
    h = hashlib.sha256()
    for path in source_files(stem):
        h.update(path.read_bytes())
    return h.hexdigest()


def _yaml(path: Path) -> dict[str, Any]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of chip facts")
    return data


def source(stem: str) -> dict[str, Any]:
    """Table `stem` as written, with the chip sections a revision table inherits."""
    own, *base = source_files(stem)
    data = _yaml(own)
    if base:
        chip = _yaml(base[0])
        for key in CHIP_SECTIONS:
            if key not in data and key in chip:
                data[key] = chip[key]
    return data


@functools.cache
def _adapter() -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(ChipDef)


def validate(data: Any) -> ChipDef:
    """A chip table (as a data file spells it) as a `ChipDef`; pydantic's error if it is wrong."""
    chip: ChipDef = _adapter().validate_python(data)
    return chip


def compiled(stem: str) -> dict[str, Any]:
    """The compiled form of table `stem`: its source digest and its validated facts.

    The facts are the model's own fields (Python names, plain ints), so `revive` can
    rebuild the model from them without validating again.
    """
    facts = _adapter().dump_python(validate(source(stem)), mode="json")
    return {"source_sha256": source_digest(stem), "chip": facts}


# -- reviving a compiled table --------------------------------------------------------
# Building pydantic's validator for ChipDef costs more than a whole `fusebook apply` may
# spend on chip data; the compiled form was validated when it was written, so it is
# rebuilt here from the dataclasses' own type hints, generically: each field's value is
# converted only as far as JSON lost its type (lists to tuples, string keys to ints,
# mappings to nested dataclasses).

Convert = Callable[[Any], Any]


def _same(v: Any) -> Any:
    return v


def _converter(tp: Any) -> Convert:
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass_converter(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _converter(args[0])
            return (lambda v: tuple(v)) if item is _same else (lambda v: tuple(item(x) for x in v))
        items = [_converter(a) for a in args]
        return lambda v: tuple(c(x) for c, x in zip(items, v, strict=True))
    if origin in (Mapping, dict):
        key, value = _converter(args[0]), _converter(args[1])
        if key is _same and value is _same:
            return _same
        return lambda v: {key(k): value(x) for k, x in v.items()}
    if origin in (typing.Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        if len(present) == 1:
            inner = _converter(present[0])
            return _same if inner is _same else (lambda v: None if v is None else inner(v))
        return _same
    if tp is int:
        return lambda v: int(v)  # mapping keys come back from JSON as strings
    return _same


@functools.cache
def _dataclass_converter(cls: type) -> Convert:
    hints = typing.get_type_hints(cls)
    plan = {f.name: _converter(hints[f.name]) for f in dataclasses.fields(cls)}
    special = {name: c for name, c in plan.items() if c is not _same}

    def build(v: Any) -> Any:
        kwargs = dict(v)
        for name, c in special.items():
            if name in kwargs:
                kwargs[name] = c(kwargs[name])
        return cls(**kwargs)

    return build


def revive(facts: Mapping[str, Any]) -> ChipDef:
    """A `ChipDef` from the facts of a compiled table (see `compiled`)."""
    chip: ChipDef = _dataclass_converter(ChipDef)(facts)
    return chip


def compiled_text(stem: str) -> str:
    return json.dumps(compiled(stem), separators=(",", ":")) + "\n"


def schema() -> dict[str, Any]:
    """The JSON Schema of a chip data file, from the model."""
    body = _adapter().json_schema(by_alias=True, mode="validation")
    body.pop("title", None)
    body.pop("description", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://fusebook.invalid/schemas/chip.schema.json",
        "title": "fusebook chip data file",
        "description": (
            "Facts about one Espressif chip (fusebook/chips/data/<chip>.yaml): its eFuse controller "
            "and table, generated by tools/gen_chip_data.py from Espressif's published tables, and "
            "its ROM loader and Secure Boot facts, kept by hand. Generated from fusebook.chips.models "
            "by `make chipdata`: do not edit."
        ),
        **body,
    }


def schema_text() -> str:
    return json.dumps(schema(), indent=2) + "\n"


def stems() -> tuple[str, ...]:
    """Every table in chips/data: each chip's default table and its revision tables."""
    return tuple(sorted(p.stem for p in DATA_DIR.glob("*.yaml")))


def main(argv: list[str]) -> int:
    """Write chips/compiled/*.json and schemas/chip.schema.json (`make chipdata`)."""
    COMPILED_DIR.mkdir(exist_ok=True)
    for stem in argv or stems():
        (COMPILED_DIR / f"{stem}.json").write_text(compiled_text(stem))
    for old in COMPILED_DIR.glob("*.json"):
        if old.stem not in stems():
            old.unlink()
    SCHEMA_FILE.write_text(schema_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
