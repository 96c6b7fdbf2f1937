"""serve-virtual: the virtual chip behind a TCP port, speaking the ROM download protocol.

Any ROM-protocol client (fusebook's RomLink, espefuse, esptool --no-stub) connects with
`--port socket://127.0.0.1:PORT --before no-reset` and sees a chip in download mode: it
answers SYNC eight times, READ_REG/WRITE_REG through the virtual eFuse controller, and
what clients read around it on connect (the chip-detect magic register, the UART clock
divider that gives the crystal, GET_SECURITY_INFO with the chip id). Each connection is
a fresh boot into download mode; clients are served one after another, and the eFuse
file is saved after every program command.

For tests it injects faults (`FaultPlan`): lost or garbled answers, a chip that stops
answering, a dropped connection, failing program commands.
"""

from __future__ import annotations

import ipaddress
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fusebook.chips.models import ChipDef
from fusebook.errors import InputError
from fusebook.link import protocol as proto
from fusebook.link.facts import ChipLinkFacts, link_facts
from fusebook.link.port import ROM_BAUD
from fusebook.link.protocol import Command, Request, Response, SecurityInfo
from fusebook.link.slip import FrameDecoder, encode

#: Longest delay one WRITE_REG entry may ask the virtual ROM to wait.
MAX_ENTRY_DELAY_S = 1.0
#: Commands the virtual ROM knows but does not emulate (flash, RAM download).
_NOT_EMULATED = {
    Command.FLASH_BEGIN, Command.FLASH_DATA, Command.FLASH_END, Command.MEM_BEGIN,
    Command.MEM_END, Command.MEM_DATA, Command.SPI_SET_PARAMS, Command.SPI_ATTACH,
    Command.READ_FLASH_SLOW, Command.FLASH_DEFL_BEGIN, Command.FLASH_DEFL_DATA,
    Command.FLASH_DEFL_END, Command.SPI_FLASH_MD5,
}
#: What the ROM still accepts in secure download mode (no register access).
_SECURE_DOWNLOAD_ALLOWED = {Command.SYNC, Command.GET_SECURITY_INFO, Command.CHANGE_BAUDRATE}


class ServedBus(Protocol):
    """The register bus behind the server (fusebook.virtual.chip.VirtualChip, or a test's)."""

    def read(self, addr: int) -> int: ...
    def write(self, addr: int, value: int, *, delay_after_us: int = 0) -> None: ...


# -- faults -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultPlan:
    """Faults to inject, by request number (1-based, counted over the server's lifetime).

    Every request frame the server receives counts, SYNCs included. Each fault fires once.
    - `drop_responses`: these requests get no answer (a lost frame).
    - `corrupt_responses`: these get a malformed answer (a wrong size field).
    - `late_responses`: these are answered `late_s` seconds late (after the client
      gave up and asked again, if its timeout is shorter).
    - `stall_at`: from this request on, the connection answers nothing until the
      client leaves (a hung chip); later connections are answered again.
    - `disconnect_after`: the connection is closed after answering this request.
    - `fail_programs`: this many eFuse program commands fail (the virtual chip's
      `fail_next_programs`), as a chip with a bad supply would.
    """

    drop_responses: frozenset[int] = frozenset()
    corrupt_responses: frozenset[int] = frozenset()
    stall_at: int | None = None
    disconnect_after: int | None = None
    fail_programs: int = 0
    late_responses: frozenset[int] = frozenset()
    late_s: float = 0.5
    latency_s: float = 0.0  # every answer this late: a slow link, so a test can act mid-burn

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """From `drop=3,5;corrupt=7;late=4;stall=9;disconnect=12;fail-programs=1` (any subset)."""
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.replace(" ", "").split(";"))):
            key, _, raw = part.partition("=")
            try:
                numbers = [int(x, 0) for x in raw.split(",") if x]
            except ValueError:
                numbers = []
            if not numbers or any(n < 0 for n in numbers):
                raise InputError(f"fault {part!r} needs non-negative numbers, e.g. drop=3,5")
            if key == "drop":
                values["drop_responses"] = frozenset(numbers)
            elif key == "corrupt":
                values["corrupt_responses"] = frozenset(numbers)
            elif key == "late":
                values["late_responses"] = frozenset(numbers)
            elif key == "stall" and len(numbers) == 1:
                values["stall_at"] = numbers[0]
            elif key == "disconnect" and len(numbers) == 1:
                values["disconnect_after"] = numbers[0]
            elif key in ("fail-programs", "fail_programs") and len(numbers) == 1:
                values["fail_programs"] = numbers[0]
            else:
                raise InputError(
                    f"unknown fault {part!r}",
                    hint="faults: drop=N,..; corrupt=N,..; late=N,..; stall=N; disconnect=N; fail-programs=N",
                )
        return cls(**values)


@dataclass
class _FaultState:
    """The plan plus what has fired: shared by all connections of one server."""

    plan: FaultPlan
    requests: int = 0
    fired: set[str] = field(default_factory=set)

    def next_request(self) -> int:
        self.requests += 1
        return self.requests

    def once(self, name: str, when: bool) -> bool:
        if when and name not in self.fired:
            self.fired.add(name)
            return True
        return False


# -- the ROM side of the protocol ---------------------------------------------------------


class RomResponder:
    """Answers ROM loader requests for one chip over a register bus (no I/O here).

    Addresses inside the eFuse window go to the bus. Outside it, the responder plays
    the few registers clients read on connect, and remembers anything written there.
    `boot()` is a reset into download mode: it re-reads the eFuses that can forbid
    download mode or restrict it to secure download mode.
    """

    def __init__(self, bus: ServedBus, chip: ChipDef) -> None:
        self.bus = bus
        self.chip = chip
        self.facts: ChipLinkFacts = chip.link
        self.baud = ROM_BAUD
        self.secure_download = False
        self.silent = False
        self.others: dict[int, int] = {}
        regs = chip.registers
        #: What software cannot write: the blocks' read registers and the error registers. Only
        #: a program command changes them; a WRITE_REG there is ignored, as the silicon ignores it.
        self._read_only = frozenset(
            {b.read_addr + 4 * i for b in chip.blocks for i in range(b.words)}
            | {regs[name] for name in chip.error_registers}
        )
        self._cmd_reg = regs[chip.commands.register]
        self._read_cmd = chip.constants[chip.commands.read]
        self._pgm_cmd = chip.constants[chip.commands.program]

    # -- chip state --------------------------------------------------------------------
    def boot(self) -> None:
        """A reset into download mode: clocks back to 115200 baud, eFuse lock-outs applied."""
        self.baud = ROM_BAUD
        self.others.clear()
        self.silent = self._field_set(self.facts.download_disable_field)
        self.secure_download = self._field_set(self.facts.secure_download_field)

    def owns(self, addr: int) -> bool:
        owns = getattr(self.bus, "owns", None)
        if owns is not None:
            return bool(owns(addr))
        return self.chip.base <= addr < self.chip.base + self.chip.mem_size

    def field_value(self, name: str) -> int:
        f = self.chip.field(name)
        blk = self.chip.blocks[f.block]
        value = 0
        for i in range(blk.words):
            value |= (self.bus.read(blk.read_addr + 4 * i) & 0xFFFFFFFF) << (32 * i)
        return f.gather(value)

    def _field_set(self, name: str | None) -> bool:
        return bool(name and self.chip.has_field(name) and self.field_value(name))

    def read_register(self, addr: int) -> int:
        if self.owns(addr):
            return self.bus.read(addr) & 0xFFFFFFFF
        if addr in self.others:
            return self.others[addr]
        facts = link_facts()
        if addr == facts.detect_magic_reg and self.facts.magic is not None:
            return self.facts.magic
        if addr == self.facts.uart_clkdiv_reg:
            hz = self.facts.virtual_crystal_mhz * 1_000_000 * self.facts.xtal_clk_divider
            return (hz // max(1, self.baud)) & facts.uart_clkdiv_mask
        fix = self.facts.baud_fix
        if fix is not None and fix.kind == "rom_expected_crystal" and addr == fix.params["reg"]:
            return (self.facts.virtual_crystal_mhz << fix.params["shift"]) & fix.params["mask"]
        return self.bus.read(addr) & 0xFFFFFFFF

    def accessible(self, addr: int) -> bool:
        """False for an unaligned address in the eFuse window: the controller's registers are words."""
        return not (self.owns(addr) and addr % 4)

    def write_register(self, entry: proto.RegisterWrite) -> None:
        if entry.mask == 0 or entry.addr in self._read_only:
            pass
        elif self.owns(entry.addr):
            value = entry.value
            if entry.mask != 0xFFFFFFFF:
                value = (self.bus.read(entry.addr) & ~entry.mask) | (entry.value & entry.mask)
            self.bus.write(entry.addr, value & 0xFFFFFFFF, delay_after_us=entry.delay_us)
            if entry.addr == self._cmd_reg:
                self._after_command(value)
        else:
            old = self.read_register(entry.addr)
            self.others[entry.addr] = ((old & ~entry.mask) | (entry.value & entry.mask)) & 0xFFFFFFFF
        if entry.delay_us:
            time.sleep(min(entry.delay_us / 1e6, MAX_ENTRY_DELAY_S))

    def _after_command(self, value: int) -> None:
        if self.chip.commands.block_shift is None:  # the command register holds the command alone
            program = value == self._pgm_cmd
        else:
            program = bool(value & self._pgm_cmd)
        if program:
            save = getattr(self.bus, "save", None)
            if save is not None:
                save()
        if self.facts.lockout_on_read and value & self._read_cmd:
            # The ROM re-checks its eFuses after every read command.
            if self._field_set(self.facts.download_disable_field):
                self.silent = True
            if self._field_set(self.facts.secure_download_field):
                self.secure_download = True

    def security_info(self) -> SecurityInfo:
        facts = link_facts()
        flags = 0
        for bit, names in facts.security_info_fields.items():
            for name in names:
                if self.chip.has_field(name):
                    if self.field_value(name):
                        flags |= 1 << bit
                    break
        if self.secure_download:
            flags |= proto.SECURITY_FLAGS["SECURE_DOWNLOAD_ENABLE"]
        else:
            flags &= ~proto.SECURITY_FLAGS["SECURE_DOWNLOAD_ENABLE"]
        crypt = facts.security_info_crypt_cnt
        crypt_cnt = self.field_value(crypt) if self.chip.has_field(crypt) else 0
        purposes = tuple(
            self.field_value(n) & 0xFF if self.chip.has_field(n) else 0
            for n in facts.security_info_key_purposes
        )
        long_form = self.facts.security_info == "long"
        return SecurityInfo(
            flags=flags,
            flash_crypt_cnt=crypt_cnt,
            key_purposes=purposes + (0,),
            chip_id=self.facts.chip_id if long_form else None,
            api_version=0 if long_form else None,
        )

    # -- requests ----------------------------------------------------------------------
    def handle(self, request: Request) -> list[Response]:
        """The responses the ROM sends for `request` (several for SYNC)."""
        op = request.op
        if self.secure_download and op not in _SECURE_DOWNLOAD_ALLOWED:
            return [_reject(op)]
        if op == Command.SYNC:
            if request.data != proto.SYNC_DATA:
                return [_reject(op)]
            # The ROM's value is bytes 1..4 of the sync pattern: never zero, unlike the stub's.
            value = struct.unpack_from("<I", request.data, 1)[0]
            return [Response(op, value, proto.ok_status())] * proto.SYNC_RESPONSES
        if op == Command.READ_REG:
            if len(request.data) != 4:
                return [_reject(op)]
            (addr,) = struct.unpack("<I", request.data)
            if not self.accessible(addr):
                return [_failed(op)]
            return [Response(op, self.read_register(addr), proto.ok_status())]
        if op == Command.WRITE_REG:
            try:
                entries = proto.parse_write_reg(request.data)
            except proto.ProtocolError:
                return [_reject(op)]
            if not all(self.accessible(e.addr) for e in entries):
                return [_failed(op)]  # nothing written: the ROM checks the request first
            for entry in entries:
                self.write_register(entry)
            return [Response(op, 0, proto.ok_status())]
        if op == Command.CHANGE_BAUDRATE:
            if len(request.data) != 8:
                return [_reject(op)]
            new, _old = struct.unpack("<II", request.data)
            if new:
                self.baud = new
            return [Response(op, 0, proto.ok_status())]
        if op == Command.GET_SECURITY_INFO:
            if self.facts.security_info == "none":
                return [_reject(op)]
            return [Response(op, 0, self.security_info().pack() + proto.ok_status())]
        if op in _NOT_EMULATED:
            return [_failed(op)]
        return [_reject(op)]


def _reject(op: int) -> Response:
    return Response(op, 0, proto.fail_status(proto.ERROR_INVALID_MESSAGE))


def _failed(op: int) -> Response:
    return Response(op, 0, proto.fail_status(proto.ERROR_FAILED_TO_ACT))


def serve_stream(
    recv: Callable[[], bytes | None],
    send: Callable[[bytes], None],
    responder: RomResponder,
    faults: _FaultState | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Serve one connection: `recv()` gives bytes (None: nothing yet; b"": closed).

    Returns when the client leaves, the server stops, or a disconnect fault fires.
    """
    state = faults or _FaultState(FaultPlan())
    decoder = FrameDecoder()
    responder.boot()
    stalled = False
    while not stopping():
        data = recv()
        if data is None:
            continue
        if not data:
            return
        for frame in decoder.feed(data):
            if len(frame) < proto.HEADER.size or frame[0] != proto.REQUEST:
                continue
            n = state.next_request()
            plan = state.plan
            if state.once("stall", plan.stall_at is not None and n >= plan.stall_at):
                stalled = True
            if stalled or responder.silent:
                continue
            try:
                request = Request.parse(frame)
                packed = [r.pack() for r in responder.handle(request)]
            except proto.ProtocolError:
                packed = [_reject(frame[1]).pack()]
            if responder.silent:
                continue  # the command locked download mode: the ROM is gone
            if state.once(f"drop{n}", n in plan.drop_responses):
                packed = []
            elif state.once(f"corrupt{n}", n in plan.corrupt_responses):
                packed = [_garble(p) for p in packed[:1]]
            elif state.once(f"late{n}", n in plan.late_responses):
                time.sleep(plan.late_s)
            if plan.latency_s and packed:
                time.sleep(plan.latency_s)
            for p in packed:
                send(encode(p))
            if state.once("disconnect", plan.disconnect_after is not None and n >= plan.disconnect_after):
                return


def _garble(packed: bytes) -> bytes:
    """A response whose size field disagrees with its length (detectably broken)."""
    frame = bytearray(packed)
    size = struct.unpack_from("<H", frame, 2)[0]
    struct.pack_into("<H", frame, 2, (size + 1) & 0xFFFF)
    return bytes(frame)


# -- the TCP server -----------------------------------------------------------------------


def _loopback(host: str) -> str:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        raise InputError(f"cannot resolve listen address {host!r}") from None
    for info in infos:
        address = str(info[4][0])
        if not ipaddress.ip_address(address.split("%")[0]).is_loopback:
            raise InputError(
                f"serve-virtual listens on loopback only, not {host!r}",
                hint="use --listen 127.0.0.1:PORT (or [::1]:PORT)",
            )
    return str(infos[0][4][0])


def parse_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT`, `[::1]:PORT` or `:PORT` (loopback); port 0 picks a free one."""
    from fusebook.addresses import host_port

    host, port = host_port(listen, "--listen", "127.0.0.1:5555")
    return _loopback(host), port


class VirtualRomServer:
    """A virtual chip on a loopback TCP port, served from a thread (`start`/`stop`)."""

    def __init__(
        self,
        bus: ServedBus,
        chip: ChipDef,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultPlan | None = None,
    ) -> None:
        self.bus = bus
        self.chip = chip
        self.host = _loopback(host)
        self.port = port
        self.faults = faults or FaultPlan()
        self.responder = RomResponder(bus, chip)
        self._state = _FaultState(self.faults)
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.connections = 0
        #: Called after each client left (a finished session), with the server: a fleet
        #: swaps the board behind the port there (see fusebook.virtual.fleet).
        self.on_session_end: Callable[[VirtualRomServer], None] | None = None
        if self.faults.fail_programs:
            bus.fail_next_programs = self.faults.fail_programs  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"socket://{host}:{self.port}"

    @property
    def requests(self) -> int:
        """Request frames received so far (all connections)."""
        return self._state.requests

    def bind(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as e:
            sock.close()
            raise InputError(f"cannot listen on {self.host}:{self.port}: {e.strerror or e}") from None
        sock.listen(4)
        sock.settimeout(0.1)
        self.port = sock.getsockname()[1]
        self._sock = sock

    def start(self) -> VirtualRomServer:
        """Listen and serve from a daemon thread; returns at once (see `url`)."""
        if self._sock is None:
            self.bind()
        self._thread = threading.Thread(target=self.serve_forever, name="virtual-rom", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> VirtualRomServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Accept clients one after another until `stop()`."""
        if self._sock is None:
            self.bind()
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                raise
            self.connections += 1
            with conn:
                self._serve_connection(conn)
            if self.on_session_end is not None and not self._stop.is_set():
                self.on_session_end(self)

    def replace_bus(self, bus: ServedBus) -> None:
        """Serve another chip from now on (between connections): a board swapped on the port."""
        self.bus = bus
        self.responder = RomResponder(bus, self.chip)

    def _serve_connection(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def recv() -> bytes | None:
            try:
                return conn.recv(4096)
            except TimeoutError:
                return None
            except OSError:
                return b""

        def send(data: bytes) -> None:
            try:
                conn.sendall(data)
            except OSError:
                pass  # the client left; recv() will notice

        serve_stream(recv, send, self.responder, self._state, self._stop.is_set)


def run_server(
    chip_name: str,
    listen: str = "127.0.0.1:0",
    efuse_file: Path | str | None = None,
    faults: FaultPlan | str | None = None,
    on_ready: Callable[[str], None] | None = None,
    latency_ms: float = 0.0,
    factory_mac: str | None = None,
) -> None:
    """Serve a virtual `chip_name` on `listen` until interrupted (Ctrl-C or SIGTERM)."""
    from dataclasses import replace

    from fusebook.chips.loader import load_chip
    from fusebook.virtual.chip import open_virtual

    chip = load_chip(chip_name)
    plan = FaultPlan.parse(faults) if isinstance(faults, str) else faults
    if latency_ms:
        plan = replace(plan or FaultPlan(), latency_s=latency_ms / 1000)
    host, port = parse_listen(listen)
    bus = open_virtual(chip, Path(efuse_file) if efuse_file else None, factory_mac=factory_mac)
    server = VirtualRomServer(bus, chip, host, port, faults=plan)
    server.bind()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: server._stop.set())
    message = f"virtual {chip.description} listening on {server.url}"
    if on_ready is not None:
        on_ready(server.url)
    else:
        print(f"{message} (Ctrl-C to stop)", flush=True)
        print(
            f"  e.g. espefuse --port {server.url} --before no-reset --chip {chip.name} summary",
            file=sys.stderr,
            flush=True,
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
