"""Per-chip facts of the ROM link (link/chips.yaml) as typed, frozen values.

Kept apart from the eFuse chip data (chips/data/) because they describe the ROM loader
and the clocks around it, not eFuses: how a chip names itself on the wire, where its
UART clock divider is, which crystal it runs from.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

DATA_FILE = Path(__file__).resolve().parent / "chips.yaml"


@dataclass(frozen=True)
class BaudFix:
    """How a chip's ROM mis-derives its UART clock, so CHANGE_BAUDRATE must be scaled."""

    kind: str  # esp32_rom_calibration | assumed_crystal | rom_expected_crystal
    params: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ChipLinkFacts:
    name: str  # fusebook's chip name: esp32c3
    chip_name: str  # as the ROM and espefuse print it: ESP32-C3
    chip_id: int | None
    magic: int | None
    security_info: str  # none | short | long
    uart_date_reg: int
    uart_clkdiv_reg: int
    xtal_clk_divider: int
    crystal_mhz: int | None
    virtual_crystal_mhz: int
    baud_fix: BaudFix | None
    usb_serial_jtag: bool
    download_disable_field: str | None
    secure_download_field: str | None
    lockout_on_read: bool
    watchdogs: Mapping[str, int] | None = None


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

    def by_magic(self, value: int) -> ChipLinkFacts | None:
        for c in self.chips.values():
            if c.magic is not None and c.magic == value:
                return c
        return None


def _int(v: Any) -> int:
    return int(v, 0) if isinstance(v, str) else int(v)


def _opt(v: Any) -> int | None:
    return None if v is None else _int(v)


@functools.cache
def link_facts() -> LinkFacts:
    """The link facts of every chip (read once)."""
    raw = YAML(typ="safe").load(DATA_FILE.read_text())
    chips: dict[str, ChipLinkFacts] = {}
    for name, c in raw["chips"].items():
        fix = c.get("baud_fix")
        baud_fix = (
            BaudFix(fix["kind"], {k: _int(v) for k, v in fix.items() if k != "kind"})
            if fix
            else None
        )
        chips[name] = ChipLinkFacts(
            name=name,
            chip_name=c["chip_name"],
            chip_id=_opt(c.get("chip_id")),
            magic=_opt(c.get("magic")),
            security_info=c["security_info"],
            uart_date_reg=_int(c["uart_date_reg"]),
            uart_clkdiv_reg=_int(c["uart_clkdiv_reg"]),
            xtal_clk_divider=_int(c["xtal_clk_divider"]),
            crystal_mhz=_opt(c.get("crystal_mhz")),
            virtual_crystal_mhz=_int(c["virtual_crystal_mhz"]),
            baud_fix=baud_fix,
            usb_serial_jtag=bool(c["usb_serial_jtag"]),
            download_disable_field=c.get("download_disable_field"),
            secure_download_field=c.get("secure_download_field"),
            lockout_on_read=bool(c["lockout_on_read"]),
            watchdogs={k: _int(v) for k, v in c["watchdogs"].items()} if c.get("watchdogs") else None,
        )
    unsupported = raw.get("unsupported", {})
    return LinkFacts(
        detect_magic_reg=_int(raw["detect_magic_reg"]),
        uart_clkdiv_mask=_int(raw["uart_clkdiv_mask"]),
        chips=chips,
        unsupported_chip_ids={_int(k): v for k, v in unsupported.get("chip_ids", {}).items()},
        unsupported_magic={_int(k): v for k, v in unsupported.get("magic", {}).items()},
        security_info_fields={
            _int(k): tuple(v) for k, v in raw["security_info_fields"].items()
        },
        security_info_crypt_cnt=raw["security_info_crypt_cnt"],
        security_info_key_purposes=tuple(raw["security_info_key_purposes"]),
    )
