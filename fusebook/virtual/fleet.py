"""A virtual fleet: N independent virtual chips on N loopback ports, in one process.

A production line is several fixtures, each holding one board at a time; an operator
takes a finished board out and puts a blank one in. The fleet plays that without
hardware: chip i is served on its own port (`serve-virtual --count N`), every chip has a
factory MAC of its own, and with `swap_after=K` the board on a port is replaced by a new
blank one (a new factory MAC) once K client sessions on it have ended.

With `efuse_dir`, each board keeps its eFuses in a file of its own in that folder
(`port03-board002.efuse`: the espefuse `--path-efuse-file` layout), so a burned board
can be inspected afterwards with either tool, and a restarted fleet carries on with the
last board of each port.
"""

from __future__ import annotations

import re
import secrets
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fusebook.chips.models import ChipDef
from fusebook.efuse import codecs
from fusebook.errors import InputError
from fusebook.virtual.chip import VIRTUAL_OUI, VirtualChip, open_virtual
from fusebook.virtual.server import FaultPlan, VirtualRomServer, parse_listen

#: The most chips one fleet serves (each is a port and a thread).
MAX_COUNT = 256
_BOARD_FILE = re.compile(r"port(\d+)-board(\d+)\.efuse$")


def board_file(efuse_dir: Path, port: int, board: int) -> Path:
    """Where board `board` (1-based) of port `port` (0-based) keeps its eFuses."""
    return efuse_dir / f"port{port:02d}-board{board:03d}.efuse"


@dataclass
class FleetPort:
    """One fixture: a port, the board in it now, and how many sessions that board has had."""

    number: int
    server: VirtualRomServer
    board: int = 1
    sessions: int = 0
    macs: list[str] = field(default_factory=list)  # every board's factory MAC, in order

    @property
    def url(self) -> str:
        return self.server.url


class VirtualFleet:
    """N virtual chips of one type on N loopback ports (`start`/`stop`, or a context manager)."""

    def __init__(
        self,
        chip: ChipDef,
        count: int,
        *,
        host: str = "127.0.0.1",
        efuse_dir: Path | None = None,
        swap_after: int | None = None,
        latency_ms: float = 0.0,
        factory_mac: str | None = None,
    ) -> None:
        if not 1 <= count <= MAX_COUNT:
            raise InputError(f"--count {count} is out of range", hint=f"serve 1 to {MAX_COUNT} chips")
        if swap_after is not None and swap_after < 1:
            raise InputError("--swap-after must be 1 or more sessions")
        if latency_ms < 0:
            raise InputError("--latency must be 0 or more milliseconds")
        self.chip = chip
        self.efuse_dir = efuse_dir
        self.swap_after = swap_after
        self._faults = FaultPlan(latency_s=latency_ms / 1000)
        self._lock = threading.Lock()
        self._used: set[str] = set()
        self._next_mac = codecs.parse_mac(factory_mac) if factory_mac else None
        if efuse_dir is not None:
            try:
                efuse_dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise InputError(f"cannot use --efuse-dir {efuse_dir}: {e.strerror or e}") from None
        self.ports: list[FleetPort] = []
        for number in range(count):
            board = self._last_board(number)
            bus = self._new_board(number, board)
            server = VirtualRomServer(bus, chip, host, 0, faults=self._faults)
            port = FleetPort(number, server, board, macs=[bus.factory_mac() or "unknown"])
            server.on_session_end = lambda _s, p=port: self._session_ended(p)
            self.ports.append(port)

    # -- boards ------------------------------------------------------------------------
    def _last_board(self, number: int) -> int:
        """The board a restarted fleet resumes with on port `number` (1 when there is none)."""
        if self.efuse_dir is None:
            return 1
        boards = [int(m.group(2)) for p in self.efuse_dir.iterdir()
                  if (m := _BOARD_FILE.search(p.name)) and int(m.group(1)) == number]
        return max(boards, default=1)

    def _fresh_mac(self) -> str:
        """A factory MAC no other board of this fleet has."""
        while True:
            if self._next_mac is not None:
                mac = codecs.format_mac(self._next_mac)
                value = (int.from_bytes(self._next_mac, "big") + 1) & ((1 << 48) - 1)
                self._next_mac = value.to_bytes(6, "big")
            else:
                mac = codecs.format_mac(VIRTUAL_OUI + secrets.token_bytes(3))
            if mac not in self._used:
                return mac

    def _new_board(self, number: int, board: int) -> VirtualChip:
        path = board_file(self.efuse_dir, number, board) if self.efuse_dir is not None else None
        if path is not None and path.exists():
            bus = open_virtual(self.chip, path)
        else:
            bus = open_virtual(self.chip, path, factory_mac=self._fresh_mac())
            if path is not None:
                bus.save()
        self._used.add(bus.factory_mac() or "")
        return bus

    def _session_ended(self, port: FleetPort) -> None:
        """A client left port `port`: after the K-th session, the operator swaps the board."""
        with self._lock:
            port.sessions += 1
            if self.swap_after is None or port.sessions < self.swap_after:
                return
            port.board += 1
            port.sessions = 0
            bus = self._new_board(port.number, port.board)
            port.macs.append(bus.factory_mac() or "unknown")
            port.server.replace_bus(bus)

    # -- serving -----------------------------------------------------------------------
    @property
    def urls(self) -> list[str]:
        return [p.url for p in self.ports]

    def start(self) -> VirtualFleet:
        for p in self.ports:
            p.server.bind()
        for p in self.ports:
            p.server.start()
        return self

    def stop(self) -> None:
        for p in self.ports:
            p.server._stop.set()
        for p in self.ports:
            p.server.stop()

    def __enter__(self) -> VirtualFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_fleet(
    chip_name: str,
    count: int,
    listen: str = "127.0.0.1:0",
    *,
    efuse_dir: Path | None = None,
    swap_after: int | None = None,
    latency_ms: float = 0.0,
    factory_mac: str | None = None,
    on_ready: Callable[[list[str]], None] | None = None,
) -> None:
    """Serve a fleet until Ctrl-C or SIGTERM; one `socket://` URL per chip on stdout, one a line.

    `listen` gives the host; its port must be 0 (each chip gets a free port of its own).
    """
    from fusebook.chips.loader import load_chip

    chip = load_chip(chip_name)
    host, port = parse_listen(listen)
    if port != 0:
        raise InputError(f"--count {count} serves each chip on a free port of its own, not {port}",
                         hint="use --listen 127.0.0.1:0 with --count")
    fleet = VirtualFleet(chip, count, host=host, efuse_dir=efuse_dir, swap_after=swap_after,
                         latency_ms=latency_ms, factory_mac=factory_mac)
    done = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: done.set())
    with fleet:
        if on_ready is not None:
            on_ready(fleet.urls)
        else:
            sys.stdout.write("".join(u + "\n" for u in fleet.urls))
            sys.stdout.flush()
            sys.stderr.write(f"virtual fleet: {count} x {chip.description} (Ctrl-C to stop)\n")
            sys.stderr.flush()
        try:
            while not done.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
