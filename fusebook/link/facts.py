"""The ROM link's facts: each chip's (its chip data's `link:` section) and the shared ones.

A chip's link facts describe the ROM loader and the clocks around it, not eFuses: how the
chip names itself on the wire, where its UART clock divider is, which crystal it runs from.
They live in the chip's data file with its eFuse facts (one home per chip). What is the
same for every chip (where the magic value is read, chips no version supports, the
GET_SECURITY_INFO flags) is in `link/rom.yaml`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusebook.chips.loader import chip_names, load_chip
from fusebook.chips.models import BaudFix, ChipLinkFacts

__all__ = ["BaudFix", "ChipLinkFacts", "LinkFacts", "link_facts"]

DATA_FILE = Path(__file__).resolve().parent / "rom.yaml"


class _Chips(Mapping[str, ChipLinkFacts]):
    """Every chip's link facts by fusebook name, each chip's data loaded when first asked."""

    def __getitem__(self, name: str) -> ChipLinkFacts:
        if name not in chip_names():
            raise KeyError(name)
        return load_chip(name).link

    def __iter__(self) -> Any:
        return iter(chip_names())

    def __len__(self) -> int:
        return len(chip_names())


@dataclass(frozen=True)
class LinkFacts:
    detect_magic_reg: int
    uart_clkdiv_mask: int
    chips: Mapping[str, ChipLinkFacts]
    unsupported_chip_ids: Mapping[int, str]
    unsupported_magic: Mapping[int, str]
    security_info_fields: Mapping[int, tuple[str, ...]]
    security_info_crypt_cnt: str
    security_info_key_purposes: tuple[str, ...]

    def chip(self, name: str) -> ChipLinkFacts:
        return self.chips[name.lower().replace("-", "")]

    def by_chip_id(self, chip_id: int) -> ChipLinkFacts | None:
        for c in self.chips.values():
            if c.chip_id is not None and c.chip_id == chip_id:
                return c
        return None

    def by_security_info(self, form: str) -> ChipLinkFacts | None:
        """The one chip whose ROM answers GET_SECURITY_INFO in `form` (None: none or several)."""
        found = [c for c in self.chips.values() if c.security_info == form]
        return found[0] if len(found) == 1 else None

    def by_magic(self, value: int) -> ChipLinkFacts | None:
        for c in self.chips.values():
            if c.magic is not None and c.magic == value:
                return c
        return None


def _int(v: Any) -> int:
    return int(v, 0) if isinstance(v, str) else int(v)


@functools.cache
def link_facts() -> LinkFacts:
    """The link facts (the shared ones read once; a chip's with its chip data)."""
    from ruamel.yaml import YAML

    raw = YAML(typ="safe").load(DATA_FILE.read_text())
    unsupported = raw.get("unsupported", {})
    return LinkFacts(
        detect_magic_reg=_int(raw["detect_magic_reg"]),
        uart_clkdiv_mask=_int(raw["uart_clkdiv_mask"]),
        chips=_Chips(),
        unsupported_chip_ids={_int(k): v for k, v in unsupported.get("chip_ids", {}).items()},
        unsupported_magic={_int(k): v for k, v in unsupported.get("magic", {}).items()},
        security_info_fields={
            _int(k): tuple(v) for k, v in raw["security_info_fields"].items()
        },
        security_info_crypt_cnt=raw["security_info_crypt_cnt"],
        security_info_key_purposes=tuple(raw["security_info_key_purposes"]),
    )
