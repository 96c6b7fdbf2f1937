"""Opening the port a chip is on: any pyserial URL or device path, never a guessed one.

`/dev/ttyUSB0`, `/dev/pts/7`, `COM3`, `socket://host:port` and `rfc2217://host:port` all
go through `serial.serial_for_url`, so a pty from a test harness or a remote serial
server works exactly like a USB bridge. Opening errors become LinkError with a hint.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket

import serial

from fusebook.errors import LinkError

#: ROM loaders start at 115200 baud (they auto-detect any rate during SYNC).
ROM_BAUD = 115200
#: Longest a write may block (a wedged USB bridge must not hang fusebook).
WRITE_TIMEOUT_S = 10.0
#: Espressif's USB vendor id and the USB-Serial/JTAG peripheral's product id.
ESPRESSIF_VID = 0x303A
USB_SERIAL_JTAG_PID = 0x1001


def is_socket(url: str) -> bool:
    """A raw TCP port: no modem lines to reset with."""
    return url.lower().startswith("socket://")


def is_rfc2217(url: str) -> bool:
    """A telnet serial server: lines are set remotely, flushing input may block."""
    return url.lower().startswith("rfc2217://")


def is_network(url: str) -> bool:
    return is_socket(url) or is_rfc2217(url)


def open_port(url: str, baud: int = ROM_BAUD, *, timeout: float = 3.0) -> serial.SerialBase:
    """Open `url` (device path or pyserial URL) at `baud`; LinkError if it cannot be opened."""
    if not url:
        raise LinkError("no port given", hint="use --port /dev/ttyUSB0, a pty path or socket://HOST:PORT")
    try:
        port = serial.serial_for_url(url, do_not_open=True, exclusive=not is_network(url))
        port.timeout = timeout
        port.open()
    except (serial.SerialException, OSError, ValueError) as e:
        raise LinkError(f"cannot open port {url}: {_reason(e)}", hint=_open_hint(url, e)) from None
    try:
        # Set after opening: some USB bridge drivers (CH341) only take the rate that way.
        port.baudrate = baud
    except (serial.SerialException, OSError, ValueError) as e:
        port.close()
        raise LinkError(
            f"port {url} does not accept {baud} baud: {_reason(e)}",
            hint="try a standard rate such as 115200 or 460800",
        ) from None
    try:
        port.write_timeout = WRITE_TIMEOUT_S
    except (NotImplementedError, serial.SerialException, ValueError):
        port.write_timeout = None  # rfc2217 ports have no write timeout
    return port


def close_port(port: serial.SerialBase) -> None:
    """Close `port` at once.

    pyserial's socket:// handler sleeps 0.3 s after closing, for servers that need a pause
    before the next connection; fusebook's own serve-virtual and a station reconnecting
    to the next board do not, and a station pays that pause on every unit. The socket is
    shut down and closed here first, so pyserial's close has nothing left to wait for.
    """
    sock = getattr(port, "_socket", None) if is_socket(str(getattr(port, "port", "") or "")) else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
        port._socket = None
        port.is_open = False
    port.close()


def read_available(port: serial.SerialBase, wait_s: float) -> bytes:
    """The bytes that have arrived, waiting at most `wait_s` for the first (b"" if none came).

    pyserial's socket:// handler reports at most one byte waiting, so reading "what is
    waiting" there costs a poll and a system call per byte: a 14-byte answer took 15 reads,
    and a station serving 16 ports spent its CPU on that. On a socket the bytes are taken
    in one receive instead; every other port reads what pyserial says is waiting.
    """
    sock = getattr(port, "_socket", None) if is_socket(str(getattr(port, "port", "") or "")) else None
    if sock is None:
        waiting = int(port.in_waiting)
        return bytes(port.read(waiting if waiting > 0 else 1))
    if not select.select([sock], [], [], wait_s)[0]:
        return b""
    try:
        data = bytes(sock.recv(1 << 16))
    except BlockingIOError:
        return b""
    except OSError as e:
        raise serial.SerialException(f"read failed: {e}") from None
    if not data:
        raise serial.SerialException("socket disconnected")
    return data


def usb_ids(port: serial.SerialBase) -> tuple[int | None, int | None]:
    """(VID, PID) of a local USB serial device, (None, None) when not known."""
    name = getattr(port, "port", None) or ""
    if not name or is_network(name):
        return None, None
    try:
        from serial.tools import list_ports

        for info in list_ports.comports():
            if info.device == name:
                return info.vid, info.pid
    except Exception:  # noqa: BLE001 - port enumeration is best effort on every OS
        return None, None
    return None, None


def is_usb_serial_jtag(port: serial.SerialBase) -> bool:
    """True when the port is the chip's own USB-Serial/JTAG peripheral."""
    return usb_ids(port) == (ESPRESSIF_VID, USB_SERIAL_JTAG_PID)


def _reason(e: BaseException) -> str:
    text = str(e).strip()
    return text or type(e).__name__


def _open_hint(url: str, e: BaseException) -> str:
    err = getattr(e, "errno", None)
    text = str(e)
    if is_network(url):
        return "check that the server is running and HOST:PORT is right"
    if err == errno.ENOENT or "No such file" in text:
        return "check the port name and that the board is plugged in"
    if err == errno.EACCES or "Permission denied" in text:
        return "add your user to the dialout (or uucp) group, then log in again"
    if err == errno.EBUSY or "busy" in text.lower() or "lock" in text.lower():
        return "close the other program using this port (a serial monitor?)"
    return "check the port name; any pyserial URL works (socket://HOST:PORT, rfc2217://HOST:PORT)"
