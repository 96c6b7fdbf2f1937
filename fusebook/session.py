"""A connection to one chip: the virtual chip in-process, or a real one over the ROM link.

Either way the session hands out the same controller driver over a RegisterBus; the
rest of fusebook never knows which it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusebook.chips.loader import load_chip
from fusebook.chips.models import ChipDef
from fusebook.drivers.controller import Controller, controller_for
from fusebook.efuse.codecs import decode_value
from fusebook.efuse.image import EfuseImage
from fusebook.errors import InputError, PlanError


@dataclass(frozen=True)
class ConnectOptions:
    """How to reach a chip (the espefuse-style connection options)."""

    port: str | None = None
    virt: bool = False
    chip: str | None = None  # None or "auto": detect
    efuse_file: Path | None = None
    baud: int = 115200
    before: str = "default-reset"
    after: str = "hard-reset"
    timeout: float | None = None  # seconds per ROM command (None: the ROM's usual 3 s)
    factory_mac: str | None = None  # a new virtual chip's factory MAC (default: see docs/link.md)


class Session:
    """One open chip: its definition, a controller, and how to close the link."""

    def __init__(self, chip: ChipDef, controller: Controller, source: str, link: Any = None) -> None:
        self.chip = chip
        self.controller = controller
        self.source = source
        self.link = link
        self._after = "no-reset"

    def read_image(self) -> EfuseImage:
        image = self.controller.read_image()
        # Revision-specific tables (e.g. ESP32-P4 v3): re-read with the right one.
        exact = load_chip(self.chip.name, image.revision)
        if exact is not self.chip:
            self.chip = exact
            self.controller = controller_for(self.controller.bus, exact, self.controller.xtal_mhz)
            image = self.controller.read_image()
        return image

    def read_factory_mac(self) -> str:
        """The factory MAC, reading only the block that holds it: a station telling boards apart
        between units, where reading the whole image would double the wire time of a unit."""
        chip = self.chip
        if not chip.has_field("MAC"):
            return "unknown"
        f = chip.field("MAC")
        value = 0
        for i, word in enumerate(self.controller.read_block_words(chip.blocks[f.block])):
            value |= word << (32 * i)
        return str(decode_value(chip, f, f.gather(value)))

    def close(self) -> None:
        if self.link is not None:
            self.link.close(after=self._after)
            self.link = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_session(opts: ConnectOptions) -> Session:
    """Open the virtual chip (`virt`) or the chip on `port`; detect it unless told."""
    if opts.virt:
        if not opts.chip or opts.chip == "auto":
            raise InputError("`--virt` needs `--chip CHIP`", hint="e.g. --virt --chip esp32c3")
        from fusebook.virtual.chip import open_virtual

        chip = load_chip(opts.chip)
        bus = open_virtual(chip, opts.efuse_file, factory_mac=opts.factory_mac)
        source = f"virtual:{opts.efuse_file}" if opts.efuse_file else "virtual:memory"
        return Session(chip, controller_for(bus, chip), source)
    if opts.factory_mac:
        raise InputError("--factory-mac is for virtual chips", hint="add --virt, or drop --factory-mac")
    if not opts.port:
        raise InputError("no chip given", hint="use --port PORT, --virt --chip CHIP or --snapshot")
    from fusebook.link.rom import RomLink

    if opts.timeout is not None:
        link = RomLink.open(opts.port, baud=opts.baud, before=opts.before, timeout=opts.timeout)
    else:
        link = RomLink.open(opts.port, baud=opts.baud, before=opts.before)
    try:
        detected = link.detect()
        if opts.chip and opts.chip != "auto":
            wanted = load_chip(opts.chip).name
            if wanted != detected.name:
                raise PlanError(
                    f"the chip on {opts.port} is {detected.description}, not {wanted}",
                    hint="connect the right chip or drop --chip to auto-detect",
                )
        chip = load_chip(detected.name)
        session = Session(chip, controller_for(link, chip, detected.crystal_mhz), f"port:{opts.port}", link)
        session._after = opts.after
        return session
    except BaseException:
        link.close(after="no-reset")
        raise


def factory_mac(image: EfuseImage) -> str:
    """The chip's factory MAC as text: the identity records are keyed by."""
    chip = image.chip
    if not chip.has_field("MAC"):
        return "unknown"
    return str(decode_value(chip, chip.field("MAC"), image.raw("MAC")))

