"""Helpers for the link tests: a virtual chip served over TCP or over a pty."""

from __future__ import annotations

import os
import select
import threading
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fusebook.chips.loader import load_chip
from fusebook.chips.models import ChipDef
from fusebook.link import protocol as proto
from fusebook.link.slip import FrameDecoder, encode
from fusebook.virtual.chip import VirtualChip
from fusebook.virtual.server import FaultPlan, RomResponder, VirtualRomServer, serve_stream

#: Short timeouts keep fault tests fast; the ROM itself answers in well under 10 ms here.
FAST = {"timeout": 0.3, "connect_attempts": 1}


@dataclass
class Served:
    url: str
    chip: ChipDef
    bus: VirtualChip
    server: VirtualRomServer | None = None
    responder: RomResponder | None = None


@contextmanager
def tcp_chip(name: str, faults: FaultPlan | None = None, efuse_file=None) -> Iterator[Served]:
    chip = load_chip(name)
    bus = VirtualChip(chip, efuse_file)
    with VirtualRomServer(bus, chip, faults=faults) as server:
        yield Served(server.url, chip, bus, server, server.responder)


@contextmanager
def pty_chip(name: str) -> Iterator[Served]:
    """The virtual ROM on the master side of a pty; the client opens the slave's path.

    The path (/dev/pts/N) is one no port enumeration lists, which is the point.
    """
    chip = load_chip(name)
    bus = VirtualChip(chip)
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    stop = threading.Event()
    responder = RomResponder(bus, chip)

    def recv() -> bytes | None:
        ready, _, _ = select.select([master], [], [], 0.05)
        if not ready:
            return None
        try:
            return os.read(master, 4096)
        except OSError:
            return b""

    def send(data: bytes) -> None:
        os.write(master, data)

    def run() -> None:
        while not stop.is_set():
            serve_stream(recv, send, responder, stopping=stop.is_set)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield Served(path, chip, bus, None, responder)
    finally:
        stop.set()
        thread.join(timeout=5)
        os.close(master)
        os.close(slave)


Script = Callable[[proto.Request], list[bytes]]


@contextmanager
def scripted_rom(script: Script) -> Iterator[tuple[str, list[proto.Request]]]:
    """A pty whose far end answers each request with `script(request)` (raw bytes to send).

    Yields the pty path and the list of requests received, for protocol-level tests of
    what the link sends and how it takes odd answers.
    """
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()
    seen: list[proto.Request] = []

    def run() -> None:
        decoder = FrameDecoder()
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            for frame in decoder.feed(data):
                request = proto.Request.parse(frame)
                seen.append(request)
                for chunk in script(request):
                    os.write(master, chunk)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield os.ttyname(slave), seen
    finally:
        stop.set()
        thread.join(timeout=5)
        os.close(master)
        os.close(slave)


def answer(op: int, value: int = 0, data: bytes = proto.ok_status()) -> bytes:
    return encode(proto.Response(op, value, data).pack())


def sync_answers(request: proto.Request) -> list[bytes] | None:
    """The ROM's eight SYNC answers, or None for other requests."""
    if request.op == proto.Command.SYNC:
        return [answer(proto.Command.SYNC, 0x20120707)] * proto.SYNC_RESPONSES
    return None
