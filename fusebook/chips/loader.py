"""Load chip data files into `ChipDef` models.

Chip facts live in `chips/data/<chip>.yaml` (generated from Espressif's tables by
tools/gen_chip_data.py). A chip may have revision-specific tables (e.g. ESP32-P4 v3.0);
`load_chip(name, revision)` picks the one whose `revisions` range holds the revision.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from fusebook.chips.models import (
    BlockDef,
    BlockErrorLayout,
    ChipDef,
    CustomMac,
    DigestBlock,
    FieldDef,
    FieldPart,
    FlashVoltage,
    KeyPurpose,
    NamedKeyBlock,
    RegisterUpdate,
    RevisionPart,
    RevisionRegister,
)
from fusebook.errors import InputError, did_you_mean

DATA_DIR = Path(__file__).resolve().parent / "data"


def _num(v: Any) -> int:
    return int(v, 0) if isinstance(v, str) else int(v)


@functools.cache
def _raw(stem: str) -> dict[str, Any]:
    path = DATA_DIR / f"{stem}.yaml"
    return YAML(typ="safe").load(path.read_text())


def chip_names() -> tuple[str, ...]:
    """The chips fusebook knows, by their espefuse names (esp32, esp32c3, ...)."""
    return tuple(
        sorted(p.stem for p in DATA_DIR.glob("*.yaml") if "_v" not in p.stem)
    )


def _variants(chip: str) -> list[str]:
    return sorted(p.stem for p in DATA_DIR.glob(f"{chip}_v*.yaml"))


def revision_tables(chip: str) -> tuple[ChipDef, ...]:
    """The chip's revision-specific tables (beside its default one), oldest first."""
    return tuple(_build(stem) for stem in _variants(chip))


def table_stem(chip: str, revision: int | None) -> str:
    """The data file to use for `chip` at `revision` (major*100+minor); None: the default."""
    if revision is not None:
        for stem in _variants(chip):
            lo, hi = _raw(stem).get("revisions", [0, -1])
            if lo <= revision <= hi:
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


def _error_layout(e: dict[str, Any]) -> BlockErrorLayout:
    fields = dict(e)
    if fields.get("fail_mask") is not None:
        fields["fail_mask"] = _num(fields["fail_mask"])
    return BlockErrorLayout(**fields)


@functools.cache
def _build(stem: str) -> ChipDef:
    d = _raw(stem)
    blocks = tuple(
        BlockDef(
            id=b["id"],
            name=b["name"],
            aliases=tuple(b.get("aliases") or ()),
            read_addr=_num(b["read_addr"]),
            write_addr=_num(b["write_addr"]),
            words=b["words"],
            wr_dis=b.get("wr_dis"),
            rd_dis=tuple(b.get("rd_dis") or ()),
            key_purpose_field=b.get("key_purpose_field"),
            coding=b["coding"],
        )
        for b in d["blocks"]
    )
    fields = tuple(
        FieldDef(
            name=f["name"],
            block=f["block"],
            word=f["word"],
            pos=f["pos"],
            bits=f["bits"],
            type=f["type"],
            klass=f.get("class", ""),
            aliases=tuple(f.get("aliases") or ()),
            wr_dis=f.get("wr_dis"),
            rd_dis=tuple(f.get("rd_dis") or ()),
            meanings={int(k): str(v) for k, v in (f.get("meanings") or {}).items()},
            description=f.get("description", ""),
            category=f.get("category", "config"),
            burnable=f.get("burnable", True),
            parts=tuple(FieldPart(p["word"], p["pos"], p["bits"]) for p in f.get("parts") or ()),
        )
        for f in d["fields"]
    )
    return ChipDef(
        name=d["chip"],
        description=d["description"],
        family=d["family"],
        variant=d.get("variant", ""),
        mem_size=_num(d["mem_size"]),
        base=_num(d["base"]),
        registers={k: _num(v) for k, v in d["registers"].items()},
        constants={k: _num(v) for k, v in d["constants"].items()},
        blocks=blocks,
        fields=fields,
        key_purposes=tuple(
            KeyPurpose(
                k["name"], k["value"], k["digest"], k["reverse"], k["read_protect"],
                target=k.get("target"),
                digest_bytes=k.get("digest_bytes"),
                sets={str(n): int(v) for n, v in (k.get("sets") or {}).items()},
                split=tuple(k["split"]) if k.get("split") else None,  # type: ignore[arg-type]
            )
            for k in d.get("key_purposes") or ()
        ),
        postponed=tuple(d.get("postponed") or ()),
        block0_error_registers=tuple(d.get("block0_error_registers") or ()),
        block_errors=tuple(_error_layout(e) for e in d.get("block_errors") or ()),
        error_registers=tuple(d.get("error_registers") or ()),
        timing={
            int(freq): tuple(
                RegisterUpdate(s["register"], _num(s["mask"]), _num(s["value"])) for s in steps
            )
            for freq, steps in (d.get("timing") or {}).items()
        },
        revision_major=tuple(RevisionPart(**p) for p in d["revision"]["major"]),
        revision_minor=tuple(RevisionPart(**p) for p in d["revision"]["minor"]),
        rom=dict(d.get("rom") or {}),
        forbidden_purposes={
            k: tuple(v) for k, v in (d.get("forbidden_purposes") or {}).items()
        },
        revision_zero_if={
            str(k): int(v) for k, v in (d["revision"].get("zero_if") or {}).items()
        },
        revision_registers=tuple(
            RevisionRegister(r["register"], int(r["shift"]), _num(r["mask"]), int(r["major_shift"]))
            for r in d["revision"].get("registers") or ()
        ),
        revision_major_map={
            int(k): int(v) for k, v in (d["revision"].get("major_map") or {}).items()
        },
        revisions=tuple(d["revisions"]) if d.get("revisions") else None,  # type: ignore[arg-type]
        incompatible=tuple(tuple(g) for g in d.get("incompatible") or ()),
        **_step_facts(d),
    )


def _step_facts(d: dict[str, Any]) -> dict[str, Any]:
    """The facts the step kinds read: flash voltage, custom MAC, key block names, digest block."""
    fv, mac, digest = d.get("flash_voltage"), d.get("custom_mac"), d.get("digest_block")
    return {
        "flash_voltage": FlashVoltage(**fv) if fv else None,
        "custom_mac": CustomMac(**mac) if mac else CustomMac(),
        "key_block_names": {str(n): NamedKeyBlock(**v) for n, v in (d.get("key_block_names") or {}).items()},
        "digest_block": DigestBlock(**digest) if digest else None,
    }
