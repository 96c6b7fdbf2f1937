"""Which ports a station works on: given (`--port`), listed in a file, or found on USB.

`--ports auto` takes every serial port whose USB vendor and product are a known
Espressif device or USB-UART bridge (the list is data: usb_bridges.yaml);
`--ports auto:VID:PID` takes only that device (hex, e.g. auto:10C4:EA60). A port is any
pyserial URL, so a station over `socket://` ports of a virtual fleet is a station too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from fusebook.errors import InputError, SourceLocation
from fusebook.files import read_text_bounded

#: Largest `--ports-from` file read.
PORTS_FILE_LIMIT = 1 << 20


@dataclass(frozen=True)
class UsbDevice:
    vid: int
    pid: int | None  # None: every product of the vendor
    name: str

    def matches(self, vid: int | None, pid: int | None) -> bool:
        return vid == self.vid and (self.pid is None or pid == self.pid)


@lru_cache(maxsize=1)
def known_devices() -> tuple[UsbDevice, ...]:
    """The USB serial devices `--ports auto` takes (fusebook/station/usb_bridges.yaml)."""
    from ruamel.yaml import YAML

    text = resources.files("fusebook.station").joinpath("usb_bridges.yaml").read_text()
    rows = YAML(typ="safe").load(text)
    return tuple(UsbDevice(int(r["vid"]), int(r["pid"]) if r.get("pid") is not None else None, str(r["name"]))
                 for r in rows)


def read_ports_file(path: Path) -> list[str]:
    """One port a line; blank lines and `#` comments are skipped."""
    text = read_text_bounded(path, "ports file", limit=PORTS_FILE_LIMIT)
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        url = line.split("#", 1)[0].strip()
        if not url:
            continue
        if any(c.isspace() for c in url):
            raise InputError(f"{path}:{n}: {url!r} is not one port",
                             location=SourceLocation(str(path), n, 1), hint="write one port a line")
        out.append(url)
    return out


def _hex(text: str, what: str, spec: str) -> int:
    try:
        value = int(text, 16)
    except ValueError:
        value = -1
    if not 0 <= value <= 0xFFFF:
        raise InputError(f"--ports {spec}: {what} {text!r} is not a 16-bit hex number",
                         hint="write --ports auto or --ports auto:VID:PID, e.g. auto:10C4:EA60")
    return value


def parse_auto(spec: str) -> tuple[UsbDevice, ...]:
    """`auto` (every known device) or `auto:VID:PID` (that one)."""
    if spec == "auto":
        return known_devices()
    head, _, rest = spec.partition(":")
    vid_s, _, pid_s = rest.partition(":")
    if head != "auto" or not vid_s or not pid_s:
        raise InputError(f"--ports {spec!r}: not auto or auto:VID:PID",
                         hint="write --ports auto or --ports auto:VID:PID, e.g. auto:10C4:EA60")
    return (UsbDevice(_hex(vid_s, "VID", spec), _hex(pid_s, "PID", spec), f"{vid_s}:{pid_s}"),)


def _comports() -> Iterable[Any]:
    from serial.tools import list_ports

    ports: list[Any] = list_ports.comports()
    return ports


def detect_ports(devices: Sequence[UsbDevice], comports: Callable[[], Iterable[Any]] = _comports) -> list[str]:
    """The device paths of serial ports whose USB ids match one of `devices`, sorted."""
    return sorted(p.device for p in comports() if any(d.matches(p.vid, p.pid) for d in devices))


def resolve_ports(
    ports: Sequence[str] = (),
    ports_from: Path | None = None,
    auto: str | None = None,
    comports: Callable[[], Iterable[Any]] = _comports,
) -> list[str]:
    """Every port given, in order, each once; InputError (exit 2) when there is none."""
    found = list(ports)
    if ports_from is not None:
        found += read_ports_file(ports_from)
    if auto is not None:
        detected = detect_ports(parse_auto(auto), comports)
        if not detected:
            raise InputError(f"--ports {auto}: no USB serial port of a known Espressif device or bridge",
                             hint="plug the fixtures in, or give them with --port / --ports-from")
        found += detected
    unique = list(dict.fromkeys(found))
    if not unique:
        raise InputError("no ports given", hint="use --port URL (repeatable), --ports-from FILE or --ports auto")
    return unique
