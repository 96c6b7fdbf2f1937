"""Requests and responses of the ROM download protocol (the bytes inside SLIP frames).

A request is `00 op size:u16 checksum:u32 data`; a response `01 op size:u16 value:u32
data`, where `data` ends with status bytes: two from the flasher stub, four from the
ROM of the ESP32 and every later chip (status, error, two reserved). Only the first two
carry meaning, so responses are judged by those, wherever the payload ends.

This module packs and parses; it does no I/O. The RomLink and the virtual chip's
server (a ROM seen from the other side) both build on it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from fusebook.errors import LinkError


class Command(IntEnum):
    """Opcodes of the ROM loader commands (the ones fusebook sends, and their siblings)."""

    FLASH_BEGIN = 0x02
    FLASH_DATA = 0x03
    FLASH_END = 0x04
    MEM_BEGIN = 0x05
    MEM_END = 0x06
    MEM_DATA = 0x07
    SYNC = 0x08
    WRITE_REG = 0x09
    READ_REG = 0x0A
    SPI_SET_PARAMS = 0x0B
    SPI_ATTACH = 0x0D
    READ_FLASH_SLOW = 0x0E
    CHANGE_BAUDRATE = 0x0F
    FLASH_DEFL_BEGIN = 0x10
    FLASH_DEFL_DATA = 0x11
    FLASH_DEFL_END = 0x12
    SPI_FLASH_MD5 = 0x13
    GET_SECURITY_INFO = 0x14


REQUEST = 0x00
RESPONSE = 0x01
HEADER = struct.Struct("<BBHI")

#: The SYNC payload: four bytes the ROM recognises, then 0x55s it uses to measure the baud.
SYNC_DATA = b"\x07\x07\x12\x20" + b"\x55" * 32
#: How many responses the ROM sends for one SYNC request.
SYNC_RESPONSES = 8
#: Status bytes the ROM appends (ESP32 and later; the stub and ESP8266 send 2).
ROM_STATUS_BYTES = 4
MIN_STATUS_BYTES = 2
#: Seed of the XOR checksum over the data of *_DATA commands.
CHECKSUM_SEED = 0xEF
#: Error byte of the ROM's answer to a request it does not understand.
ERROR_INVALID_MESSAGE = 0x05
ERROR_FAILED_TO_ACT = 0x06

#: What the ROM's error byte means (status byte 1).
ROM_ERRORS: dict[int, str] = {
    0x00: "undefined error",
    0x01: "invalid parameter",
    0x02: "out of memory",
    0x03: "failed to send the message",
    0x04: "failed to receive the message",
    0x05: "the received message is invalid (unsupported command or bad length)",
    0x06: "the command was understood but failed",
    0x07: "invalid checksum",
    0x08: "flash write error",
    0x09: "flash read error",
    0x0A: "flash read length error",
    0x0B: "deflate error",
    0x0C: "deflate Adler-32 error",
    0x0D: "deflate parameter error",
    0x0E: "invalid RAM binary size",
    0x0F: "invalid RAM binary address",
}

#: What the flasher stub's status byte means (its codes are 0xC0.. and 0xFF).
STUB_ERRORS: dict[int, str] = {
    0xC0: "bad data length",
    0xC1: "bad data checksum",
    0xC2: "bad block size",
    0xC3: "invalid command",
    0xC4: "SPI operation failed",
    0xC5: "SPI unlock failed",
    0xC6: "not in flash mode",
    0xC7: "inflate error",
    0xC8: "not enough data",
    0xC9: "too much data",
    0xFF: "command not implemented",
}


class ProtocolError(ValueError):
    """A frame that is not a well-formed request or response."""


@dataclass(frozen=True)
class Request:
    op: int
    data: bytes = b""
    checksum: int = 0

    def pack(self) -> bytes:
        """The frame payload (before SLIP escaping)."""
        if len(self.data) > 0xFFFF:
            raise ValueError("request data longer than 65535 bytes")
        return HEADER.pack(REQUEST, self.op, len(self.data), self.checksum) + self.data

    @classmethod
    def parse(cls, frame: bytes) -> Request:
        """Parse a request frame; ProtocolError if it is not one."""
        if len(frame) < HEADER.size:
            raise ProtocolError(f"request of {len(frame)} bytes is shorter than its header")
        direction, op, size, checksum = HEADER.unpack_from(frame)
        if direction != REQUEST:
            raise ProtocolError(f"direction byte {direction:#04x} is not a request")
        data = frame[HEADER.size :]
        if size != len(data):
            raise ProtocolError(f"request size field says {size} bytes, frame carries {len(data)}")
        return cls(op, data, checksum)


@dataclass(frozen=True)
class Response:
    op: int
    value: int = 0
    data: bytes = b"\x00\x00\x00\x00"

    def pack(self) -> bytes:
        return HEADER.pack(RESPONSE, self.op, len(self.data), self.value & 0xFFFFFFFF) + self.data

    @classmethod
    def parse(cls, frame: bytes) -> Response:
        """Parse a response frame; ProtocolError if it is not a well-formed one."""
        if len(frame) < HEADER.size:
            raise ProtocolError(f"response of {len(frame)} bytes is shorter than its header")
        direction, op, size, value = HEADER.unpack_from(frame)
        if direction != RESPONSE:
            raise ProtocolError(f"direction byte {direction:#04x} is not a response")
        data = frame[HEADER.size :]
        if size != len(data):
            raise ProtocolError(
                f"response size field says {size} bytes, frame carries {len(data)}"
            )
        return cls(op, value, data)

    @property
    def rejects_request(self) -> bool:
        """True for the ROM's 'invalid message' answer (it may carry another opcode)."""
        return len(self.data) >= 2 and self.data[0] != 0 and self.data[1] == ERROR_INVALID_MESSAGE

    def payload(self, length: int, what: str) -> bytes:
        """The `length` bytes before the status bytes; LinkError if the chip said no.

        The status sits right after the expected payload. A failure answer may be shorter
        than a success one (no payload at all), so a short response is judged by its
        first two bytes, as the ROM puts its status there when it has nothing else.
        """
        if len(self.data) < length + MIN_STATUS_BYTES:
            if len(self.data) >= MIN_STATUS_BYTES and self.data[0] != 0:
                raise status_error(what, self.data[0], self.data[1])
            raise LinkError(
                f"{what}: the chip answered with {len(self.data)} data bytes, "
                f"expected {length} and a status",
                hint="the chip's loader is not the one fusebook expects; check --chip and the port",
            )
        status, error = self.data[length], self.data[length + 1]
        if status != 0:
            raise status_error(what, status, error)
        return self.data[:length]


def status_error(what: str, status: int, error: int) -> LinkError:
    """The LinkError for a failure status, naming the ROM's (or stub's) reason."""
    if status == 1:
        reason = ROM_ERRORS.get(error, "unknown error")
    else:
        reason = STUB_ERRORS.get(status, "unknown error")
    return LinkError(
        f"{what}: the chip refused ({reason}; status {status:#04x} {error:#04x})",
        hint="an unsupported command can mean secure download mode or another loader than the ROM's",
    )


def checksum(data: bytes, seed: int = CHECKSUM_SEED) -> int:
    """XOR of `data` seeded with 0xEF: the ROM's check on the data of *_DATA commands."""
    state = seed
    for b in data:
        state ^= b
    return state


# -- the commands fusebook sends --------------------------------------------------------


def sync() -> Request:
    return Request(Command.SYNC, SYNC_DATA)


def read_reg(addr: int) -> Request:
    return Request(Command.READ_REG, struct.pack("<I", addr & 0xFFFFFFFF))


@dataclass(frozen=True)
class RegisterWrite:
    """One entry of a WRITE_REG request: the ROM sets the `mask` bits of `addr` to `value`.

    `delay_us` makes the ROM wait that long as part of the entry; a write with mask 0
    changes nothing and is only a delay (esptool's way of delaying after a write).
    """

    addr: int
    value: int
    mask: int = 0xFFFFFFFF
    delay_us: int = 0

    def pack(self) -> bytes:
        return struct.pack(
            "<IIII", self.addr & 0xFFFFFFFF, self.value & 0xFFFFFFFF, self.mask & 0xFFFFFFFF,
            self.delay_us & 0xFFFFFFFF,
        )


WRITE_ENTRY = 16


def write_reg(*entries: RegisterWrite) -> Request:
    if not entries:
        raise ValueError("WRITE_REG needs at least one entry")
    return Request(Command.WRITE_REG, b"".join(e.pack() for e in entries))


def parse_write_reg(data: bytes) -> list[RegisterWrite]:
    """The entries of a WRITE_REG request's data (ProtocolError if not whole entries)."""
    if not data or len(data) % WRITE_ENTRY:
        raise ProtocolError(f"WRITE_REG data of {len(data)} bytes is not a multiple of 16")
    return [
        RegisterWrite(*struct.unpack_from("<IIII", data, i)) for i in range(0, len(data), WRITE_ENTRY)
    ]


def change_baudrate(new_baud: int, old_baud: int = 0) -> Request:
    """CHANGE_BAUDRATE: the ROM takes the new rate and 0; the stub also wants the old one."""
    return Request(Command.CHANGE_BAUDRATE, struct.pack("<II", new_baud, old_baud))


def get_security_info() -> Request:
    return Request(Command.GET_SECURITY_INFO)


# -- GET_SECURITY_INFO ------------------------------------------------------------------

#: Flag bits of GET_SECURITY_INFO, the same on every chip's ROM.
SECURITY_FLAGS: dict[str, int] = {
    "SECURE_BOOT_EN": 1 << 0,
    "SECURE_BOOT_AGGRESSIVE_REVOKE": 1 << 1,
    "SECURE_DOWNLOAD_ENABLE": 1 << 2,
    "SECURE_BOOT_KEY_REVOKE0": 1 << 3,
    "SECURE_BOOT_KEY_REVOKE1": 1 << 4,
    "SECURE_BOOT_KEY_REVOKE2": 1 << 5,
    "SOFT_DIS_JTAG": 1 << 6,
    "HARD_DIS_JTAG": 1 << 7,
    "DIS_USB": 1 << 8,
    "DIS_DOWNLOAD_DCACHE": 1 << 9,
    "DIS_DOWNLOAD_ICACHE": 1 << 10,
}
SECURITY_INFO_LONG = 20  # flags, crypt count, 7 key purposes, chip id, API version
SECURITY_INFO_SHORT = 12  # ESP32-S2: no chip id, no API version
_LONG = struct.Struct("<IB7BII")
_SHORT = struct.Struct("<IB7B")


@dataclass(frozen=True)
class SecurityInfo:
    """What GET_SECURITY_INFO reports: security flags and the chip id (ESP32-S3 and later)."""

    flags: int
    flash_crypt_cnt: int
    key_purposes: tuple[int, ...]
    chip_id: int | None
    api_version: int | None

    def flag(self, name: str) -> bool:
        return bool(self.flags & SECURITY_FLAGS[name])

    @property
    def secure_download(self) -> bool:
        return self.flag("SECURE_DOWNLOAD_ENABLE")

    def pack(self) -> bytes:
        """The payload as the ROM sends it (before the status bytes)."""
        purposes = (tuple(self.key_purposes) + (0,) * 7)[:7]
        if self.chip_id is None:
            return _SHORT.pack(self.flags, self.flash_crypt_cnt, *purposes)
        return _LONG.pack(
            self.flags, self.flash_crypt_cnt, *purposes, self.chip_id, self.api_version or 0
        )

    @classmethod
    def from_response(cls, response: Response) -> SecurityInfo:
        """Parse the long form, or the ESP32-S2's short one, judged by the length."""
        if len(response.data) >= SECURITY_INFO_LONG + MIN_STATUS_BYTES:
            raw = response.payload(SECURITY_INFO_LONG, "get security info")
            f = _LONG.unpack(raw)
            return cls(f[0], f[1], tuple(f[2:9]), f[9], f[10])
        raw = response.payload(SECURITY_INFO_SHORT, "get security info")
        f = _SHORT.unpack(raw)
        return cls(f[0], f[1], tuple(f[2:9]), None, None)


def ok_status(status_bytes: int = ROM_STATUS_BYTES) -> bytes:
    """Status bytes of a successful answer."""
    return b"\x00" * status_bytes


def fail_status(error: int, status_bytes: int = ROM_STATUS_BYTES) -> bytes:
    """Status bytes of a failed answer with the ROM's `error` code."""
    return bytes([1, error]) + b"\x00" * (status_bytes - 2)
