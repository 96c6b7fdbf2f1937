"""RomLink: the register bus of a real chip, over its ROM loader's serial protocol.

Connecting follows what the ROM expects: reset into download mode (or not), SYNC at
115200 baud with a short timeout, several attempts cycling through reset sequences.
Each request is one SLIP frame; the answer is the next response with the same opcode
(the ROM answers one SYNC eight times, so stale SYNC answers are skipped).

Failure is always a LinkError within bounded time: every read from the port has a
deadline, a disconnect or an OS error ends the session, and a read whose answer is lost
or garbled is re-sent a bounded number of times. Writes are never re-sent, because
the link cannot know whether a lost answer means a lost write: a write that may or may
not have happened is reported, and the eFuse driver reads back anyway.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar

import serial

from fusebook.errors import LinkError
from fusebook.link import protocol as proto
from fusebook.link.facts import ChipLinkFacts, link_facts
from fusebook.link.port import (
    ROM_BAUD,
    close_port,
    is_rfc2217,
    is_socket,
    is_usb_serial_jtag,
    open_port,
    read_available,
)
from fusebook.link.protocol import Command, RegisterWrite, Request, Response, SecurityInfo
from fusebook.link.reset import SerialLines, check_after, hard_reset, reset_plan, run_reset
from fusebook.link.slip import FrameDecoder, encode

T = TypeVar("T")

#: Seconds the ROM may take to answer an ordinary command (esptool's default timeout).
DEFAULT_TIMEOUT_S = 3.0
#: Seconds to wait for the answer to a SYNC (the ROM answers at once or not at all).
SYNC_TIMEOUT_S = 0.1
#: Connection attempts (each one: a reset, then up to SYNCS_PER_ATTEMPT SYNCs).
DEFAULT_CONNECT_ATTEMPTS = 7
SYNCS_PER_ATTEMPT = 5
#: Tries of one READ_REG whose answer was lost or garbled.
READ_ATTEMPTS = 3
#: How long to let a confused line settle before re-sending (and after a rejection,
#: which the ROM may repeat).
SETTLE_S = 0.05
REJECT_DRAIN_S = 0.2
#: Longest single blocking read from the port; deadlines are kept by looping. Changing a
#: pyserial port's timeout reconfigures the port (on rfc2217, over the network), so it
#: is set once.
POLL_S = 0.05


#: WRITE_REG entries per frame: 16 bytes each, well inside the ROM's command buffer.
MAX_WRITE_ENTRIES = 16


@dataclass(frozen=True)
class DetectedChip:
    """What the ROM told us about the chip on the port."""

    name: str  # fusebook's chip name: esp32c3
    description: str  # ESP32-C3
    revision: int | None  # major*100+minor when cheaply known (not from the ROM: None)
    crystal_mhz: int | None  # None when it cannot be read (secure download mode)
    chip_id: int | None = None
    secure_download: bool = False
    stub: bool = False  # a flasher stub, not the ROM, answered SYNC


class _NoAnswer(Exception):
    """The answer did not come in time (internal: becomes a retry or a LinkError)."""


class _Garbled(Exception):
    """A frame came back that is not a well-formed response (internal)."""


class RomLink:
    """A RegisterBus over a ROM download-mode connection."""

    def __init__(
        self,
        port: serial.SerialBase,
        *,
        url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        sync_timeout: float = SYNC_TIMEOUT_S,
    ) -> None:
        self.port = port
        self.url = url or str(getattr(port, "port", "") or "")
        self.timeout = timeout
        self.sync_timeout = sync_timeout
        self.frames_sent = 0
        self.stub = False
        self.chip: ChipLinkFacts | None = None
        self.detected: DetectedChip | None = None
        self.before = "no-reset"
        self._decoder = FrameDecoder()
        self._frames: deque[bytes] = deque()
        self._closed = False
        if port.timeout != POLL_S:
            self._io(lambda: setattr(port, "timeout", POLL_S))

    # -- opening and closing -------------------------------------------------------
    @classmethod
    def open(
        cls,
        port: str,
        baud: int = ROM_BAUD,
        before: str = "default-reset",
        connect_attempts: int = DEFAULT_CONNECT_ATTEMPTS,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        sync_timeout: float = SYNC_TIMEOUT_S,
    ) -> RomLink:
        """Open `port`, reset the chip into download mode per `before`, and sync.

        The ROM always starts at 115200 baud; a different `baud` is switched to with
        CHANGE_BAUDRATE once the chip is identified (it needs the chip's clock facts).
        """
        serial_port = open_port(port, ROM_BAUD, timeout=POLL_S)
        link = cls(serial_port, url=port, timeout=timeout, sync_timeout=sync_timeout)
        try:
            link.connect(before, connect_attempts)
            if baud != ROM_BAUD:
                link.detect()
                link.change_baud(baud)
        except BaseException:
            link._close_port()
            raise
        return link

    def close(self, after: str = "hard-reset") -> None:
        """Leave the chip per `after` (hard-reset: run its firmware) and close the port."""
        check_after(after)
        if self._closed:
            return
        try:
            if after == "hard-reset" and not is_socket(self.url):
                usb = self.before == "usb-reset" or is_usb_serial_jtag(self.port)
                run_reset(lambda lines: hard_reset(lines, usb=usb), SerialLines(self.port))
        except LinkError:
            pass  # the port is going away anyway; the chip may need a manual reset
        finally:
            self._close_port()

    def _close_port(self) -> None:
        self._closed = True
        try:
            close_port(self.port)
        except (serial.SerialException, OSError):
            pass

    def __enter__(self) -> RomLink:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(after="no-reset" if exc is not None else "hard-reset")

    # -- connecting ------------------------------------------------------------------
    def connect(self, before: str = "default-reset", attempts: int = DEFAULT_CONNECT_ATTEMPTS) -> None:
        """Reset per `before` and SYNC, `attempts` times at most; LinkError if the ROM never answers."""
        plan = reset_plan(self.url, before)
        self.before = before
        lines = SerialLines(self.port)
        boot_log = b""
        for attempt in range(max(1, attempts)):
            if plan:
                if not is_rfc2217(self.url):
                    self._io(self.port.reset_input_buffer)
                run_reset(plan[attempt % len(plan)], lines)
                boot_log += self._io(lambda: bytes(self.port.read(self.port.in_waiting)))
            for _ in range(SYNCS_PER_ATTEMPT):
                try:
                    self.sync()
                    return
                except (_NoAnswer, _Garbled):
                    time.sleep(0.05)
        raise LinkError(
            f"no answer from a ROM loader on {self.url} after {max(1, attempts)} attempt(s)",
            hint=_no_sync_hint(boot_log + bytes(self._decoder.noise), before),
        )

    def sync(self) -> None:
        """One SYNC exchange; `_NoAnswer` if the ROM is not listening (yet)."""
        self._flush_input()
        self._io(self.port.reset_output_buffer)
        self._send(proto.sync())
        first = self._await(Command.SYNC, self.sync_timeout)
        # ROM loaders answer with a non-zero value, the flasher stub with zero.
        stub = first.value == 0
        for _ in range(proto.SYNC_RESPONSES - 1):
            try:
                more = self._await(Command.SYNC, self.sync_timeout)
            except (_NoAnswer, _Garbled):
                break
            stub = stub and more.value == 0
        self.stub = stub

    # -- the register bus --------------------------------------------------------------
    def read(self, addr: int) -> int:
        """The 32-bit register at `addr` (re-sent up to READ_ATTEMPTS times if the answer is lost)."""
        try:
            return self._read(addr)
        except LinkError as e:
            if self.detected is not None and self.detected.secure_download:
                raise LinkError(
                    f"read register {addr:#010x}: the chip is in secure download mode, "
                    "where the ROM refuses register reads",
                    hint="eFuses of a chip in secure download mode cannot be read or burned over the ROM",
                ) from None
            raise e

    def _read(self, addr: int) -> int:
        request = proto.read_reg(addr)
        last = ""
        for attempt in range(READ_ATTEMPTS):
            try:
                response = self._exchange(request, self.timeout)
            except _NoAnswer:
                last = "no answer"
            except _Garbled as e:
                last = f"garbled answer ({e})"
            else:
                response.payload(0, f"read register {addr:#010x}")
                if attempt:
                    # A late answer to an earlier try may still come: drop it, so it
                    # cannot pass for the answer to the next (different) read.
                    self._settle()
                return response.value
            self._settle()
        raise LinkError(
            f"read register {addr:#010x}: {last} after {READ_ATTEMPTS} tries on {self.url}",
            hint=_lost_hint(self),
        )

    def write(self, addr: int, value: int, *, delay_after_us: int = 0) -> None:
        """Write `value` to `addr`; with `delay_after_us` the ROM waits that long after it."""
        entries = [RegisterWrite(addr, value)]
        host_wait = 0.0
        if delay_after_us > 0:
            if self.chip is not None:
                # A write with mask 0 changes nothing: it only makes the ROM wait.
                entries.append(RegisterWrite(self.chip.uart_date_reg, 0, 0, delay_after_us))
            else:
                host_wait = delay_after_us / 1e6
        self.write_entries(entries, what=f"write register {addr:#010x}")
        if host_wait:
            time.sleep(host_wait)

    def write_many(self, writes: list[tuple[int, int, int]], *, delay_after_us: int = 0) -> None:
        """Masked writes (addr, value, mask) in order, as one WRITE_REG of several entries.

        The ROM applies a WRITE_REG's entries in order (esptool itself sends two for a
        write-then-wait); at most MAX_WRITE_ENTRIES go in one frame.
        """
        entries = [RegisterWrite(w[0], w[1], w[2]) for w in writes]
        for start in range(0, len(entries), MAX_WRITE_ENTRIES):
            chunk = entries[start : start + MAX_WRITE_ENTRIES]
            last = start + MAX_WRITE_ENTRIES >= len(entries)
            if last and delay_after_us > 0 and self.chip is not None:
                chunk.append(RegisterWrite(self.chip.uart_date_reg, 0, 0, delay_after_us))
            self.write_entries(chunk, what=f"write {len(chunk)} registers from {chunk[0].addr:#010x}")
        if delay_after_us > 0 and self.chip is None:
            time.sleep(delay_after_us / 1e6)

    def write_entries(self, entries: list[RegisterWrite], *, what: str = "write registers") -> None:
        """One WRITE_REG carrying `entries` (address, value, mask, delay), applied in order."""
        delay = sum(e.delay_us for e in entries) / 1e6
        try:
            response = self._exchange(proto.write_reg(*entries), self.timeout + delay)
        except _NoAnswer:
            raise LinkError(
                f"{what}: no answer from the chip; the write may or may not have happened",
                hint=_lost_hint(self),
            ) from None
        except _Garbled as e:
            raise LinkError(
                f"{what}: garbled answer ({e}); the write may or may not have happened",
                hint=_lost_hint(self),
            ) from None
        response.payload(0, what)

    # -- identification ---------------------------------------------------------------
    def get_security_info(self) -> SecurityInfo:
        """GET_SECURITY_INFO (ESP32-S2 and later); LinkError on the ESP32, which lacks it."""
        try:
            response = self._exchange(proto.get_security_info(), self.timeout)
        except (_NoAnswer, _Garbled) as e:
            raise LinkError(f"get security info: {e or 'no answer'}", hint=_lost_hint(self)) from None
        return SecurityInfo.from_response(response)

    def detect(self) -> DetectedChip:
        """Which chip answers: by the chip id in its security info, else by the magic register."""
        if self.detected is not None:
            return self.detected
        facts = link_facts()
        info: SecurityInfo | None
        try:
            info = self.get_security_info()
        except LinkError:
            info = None  # the ESP32 ROM does not know the command
        chip: ChipLinkFacts | None = None
        secure = bool(info and info.secure_download)
        if info is not None and info.chip_id is not None:
            chip = facts.by_chip_id(info.chip_id)
            if chip is None:
                known = facts.unsupported_chip_ids.get(info.chip_id)
                raise LinkError(
                    f"the chip on {self.url} reports chip id {info.chip_id}"
                    + (f" ({known})" if known else "")
                    + ", which fusebook does not support",
                    hint="supported: " + ", ".join(c.chip_name for c in facts.chips.values()),
                )
        elif secure:
            # A secure download mode without a chip id: the chip whose ROM answers the short
            # security info (the ESP32-S2), as its magic register cannot be read there.
            chip = facts.by_security_info("short")
            if chip is None:
                raise LinkError(f"the chip on {self.url} is in secure download mode and names no chip",
                                hint="no chip fusebook knows answers so: check the port")
        else:
            magic = self.read(facts.detect_magic_reg)
            chip = facts.by_magic(magic)
            if chip is None:
                known = facts.unsupported_magic.get(magic)
                raise LinkError(
                    f"the chip on {self.url} is "
                    + (f"an {known}" if known else f"unknown (magic value {magic:#010x})")
                    + ", which fusebook does not support",
                    hint="supported: " + ", ".join(c.chip_name for c in facts.chips.values()),
                )
        self.chip = chip
        crystal = None if secure else self.crystal_mhz()
        if not secure and not self.stub and chip.watchdogs and (
            self.before == "usb-reset" or is_usb_serial_jtag(self.port)
        ):
            self._disable_watchdogs(chip)
        description = chip.chip_name + (" (secure download mode)" if secure else "")
        self.detected = DetectedChip(
            name=chip.name,
            description=description,
            revision=None,
            crystal_mhz=crystal,
            chip_id=info.chip_id if info else None,
            secure_download=secure,
            stub=self.stub,
        )
        return self.detected

    def crystal_mhz(self) -> int:
        """The crystal: fixed on most chips, else measured through the UART clock divider.

        The ROM sets its UART divider so that crystal / divider is the baud rate both
        sides use; crystal = baud * divider. The estimate is rounded to the crystals the
        chips are sold with (26, 40 or 48 MHz).
        """
        chip = self._known_chip()
        if chip.crystal_mhz is not None:
            return chip.crystal_mhz
        divider = self.read(chip.uart_clkdiv_reg) & link_facts().uart_clkdiv_mask
        estimate = self.port.baudrate * divider / 1e6 / chip.xtal_clk_divider
        if estimate > 45:
            return 48
        if estimate > 33:
            return 40
        return 26

    def change_baud(self, baud: int) -> None:
        """Switch both ends to `baud`; the ROM answers at the old rate, then changes.

        Some ROMs derive their UART clock from a clock they only believe they have; the
        chip's `baud_fix` fact says how to scale the rate so the result is `baud`.
        """
        if baud == self.port.baudrate:
            return
        rom_baud = self._rom_baud(baud)
        old = self.port.baudrate if self.stub else 0
        try:
            response = self._exchange(proto.change_baudrate(rom_baud, old), self.timeout)
        except (_NoAnswer, _Garbled) as e:
            raise LinkError(f"change baud rate to {baud}: {e or 'no answer'}", hint=_lost_hint(self)) from None
        response.payload(0, f"change baud rate to {baud}")
        try:
            self.port.baudrate = baud
        except (serial.SerialException, OSError, ValueError) as e:
            raise LinkError(
                f"the chip switched to {baud} baud but the port cannot: {e}",
                hint="reset the chip and use a rate the serial adapter supports",
            ) from None
        time.sleep(0.05)  # the line carries noise while both ends switch
        self._flush_input()

    def _rom_baud(self, baud: int) -> int:
        chip = self._known_chip()
        fix = chip.baud_fix
        if fix is None or self.stub:
            return baud
        p = fix.params
        if fix.kind == "esp32_rom_calibration":
            cali = (self.read(p["cali_reg"]) >> p["cali_shift"]) & p["cali_mask"]
            ck8m = self.read(p["ck8m_reg"]) & p["ck8m_mask"]
            rom_hz = cali * 15625 * ck8m / 40
            if rom_hz <= 0:
                return baud  # no calibration to correct for
            real_hz = 40_000_000 if rom_hz > 33_000_000 else 26_000_000
            return int(baud * rom_hz // real_hz)
        if fix.kind == "assumed_crystal":
            crystal = self.crystal_mhz()
            if crystal != p["rom_assumes_mhz"]:
                return baud * p["rom_assumes_mhz"] // crystal
            return baud
        if fix.kind == "rom_expected_crystal":
            expected = (self.read(p["reg"]) & p["mask"]) >> p["shift"]
            measured = self.crystal_mhz()
            if expected and measured and expected != measured and {expected, measured} == {40, 48}:
                return baud * expected // measured
            return baud
        return baud

    def _disable_watchdogs(self, chip: ChipLinkFacts) -> None:
        """Over USB-Serial/JTAG nothing feeds the RTC and super watchdogs in download mode."""
        w = chip.watchdogs
        assert w is not None
        self.write(w["wdt_protect_reg"], w["wdt_key"])
        self.write(w["wdt_config0_reg"], 0)
        self.write(w["wdt_protect_reg"], 0)
        self.write(w["swd_protect_reg"], w["swd_key"])
        self.write(w["swd_conf_reg"], self.read(w["swd_conf_reg"]) | w["swd_auto_feed"])
        self.write(w["swd_protect_reg"], 0)

    def _known_chip(self) -> ChipLinkFacts:
        if self.chip is None:
            self.detect()
        assert self.chip is not None
        return self.chip

    # -- frames on the wire ------------------------------------------------------------
    def _send(self, request: Request) -> None:
        frame = encode(request.pack())
        self._io(lambda: self.port.write(frame))
        self.frames_sent += 1

    def _exchange(self, request: Request, timeout: float) -> Response:
        self._send(request)
        return self._await(request.op, timeout)

    def _await(self, op: int, timeout: float) -> Response:
        """The next response to `op`; stale answers to other requests are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._next_frame(deadline)
            try:
                response = Response.parse(frame)
            except proto.ProtocolError as e:
                raise _Garbled(str(e)) from None
            if response.rejects_request:
                # The ROM may repeat a rejection; let the repeats arrive and drop them.
                time.sleep(REJECT_DRAIN_S)
                self._flush_input()
                raise proto.status_error(
                    f"command {_name(op)}", response.data[0], response.data[1]
                )
            if response.op == op:
                return response

    def _next_frame(self, deadline: float) -> bytes:
        while not self._frames:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _NoAnswer("no answer")
            data = self._io(self._read_some)
            self._frames.extend(self._decoder.feed(data))
        return self._frames.popleft()

    def _read_some(self) -> bytes:
        return read_available(self.port, POLL_S)

    def _flush_input(self) -> None:
        if not is_rfc2217(self.url):
            self._io(self.port.reset_input_buffer)
        self._decoder.reset()
        self._frames.clear()

    def _settle(self) -> None:
        """Let late bytes of a lost exchange arrive, then drop them, before re-sending."""
        time.sleep(SETTLE_S)
        self._drain_now()
        self._flush_input()

    def _drain_now(self) -> None:
        def drain() -> None:
            waiting = self.port.in_waiting
            if waiting:
                self.port.read(waiting)

        self._io(drain)

    def _io(self, fn: Callable[[], T]) -> T:
        """Run a port operation; a closed or failing port becomes a LinkError."""
        if self._closed:
            raise LinkError(f"the link to {self.url} is closed")
        try:
            return fn()
        except serial.SerialTimeoutException:
            raise LinkError(
                f"writing to {self.url} timed out", hint="the serial adapter is not sending; replug it"
            ) from None
        except (serial.SerialException, OSError) as e:
            raise LinkError(
                f"the port {self.url} failed: {e}",
                hint="the chip or adapter disconnected; check the cable and re-run",
            ) from None


def _name(op: int) -> str:
    try:
        return Command(op).name
    except ValueError:
        return f"{op:#04x}"


def _lost_hint(link: RomLink) -> str:
    return (
        "the chip stopped answering: check power and cable, that nothing else uses "
        f"{link.url}, and try a lower --baud"
    )


def _no_sync_hint(boot_log: bytes, before: str) -> str:
    match = re.search(rb"boot:(0x[0-9a-fA-F]+)(.*waiting for download)?", boot_log, re.DOTALL)
    if match is not None:
        if match.group(2) is not None:
            return (
                "the chip is in download mode but its answers do not arrive: "
                "check the RX line of the serial adapter"
            )
        mode = match.group(1).decode("ascii", "replace")
        return f"the chip booted in mode {mode}, not download mode: hold BOOT (GPIO0) while resetting"
    if before == "no-reset":
        return "put the chip in download mode by hand (hold BOOT, press RESET) or drop --before no-reset"
    return "check the port, the cable and the chip's power; hold BOOT while resetting if auto-reset fails"
