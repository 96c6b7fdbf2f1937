"""Putting a chip into its ROM download mode, and out again, with the DTR and RTS lines.

Boards with the classic auto-reset circuit (two transistors from a USB-UART bridge) map
RTS to EN (reset) and DTR to GPIO0/strapping pin, both active low: asserting a line
pulls its pin low. Holding the strapping pin low while EN rises boots the download mode.
The chip's own USB-Serial/JTAG peripheral decodes a different pulse train. The
sequences and delays are those esptool uses (esptool/reset.py, esp_pylib), so a board
that works with esptool works here.

On ports without modem lines (a pty, a raw TCP socket) the line changes fail with
ENOTTY/EINVAL or do nothing; that is not an error, the chip is simply not reset.
"""

from __future__ import annotations

import errno
import os
import struct
import time
from collections.abc import Callable
from typing import Protocol

import serial

from fusebook.errors import InputError, LinkError
from fusebook.link.port import is_rfc2217, is_socket

BEFORE_MODES = ("default-reset", "usb-reset", "no-reset")
AFTER_MODES = ("hard-reset", "no-reset")

#: Seconds between releasing EN and releasing the strapping pin, and the longer
#: second try some boards need (esptool's DEFAULT_RESET_DELAY and +0.5 s).
RESET_DELAY_S = 0.05
EXTRA_RESET_DELAY_S = RESET_DELAY_S + 0.5
#: Seconds EN is held low when entering download mode.
ENTER_BOOT_DELAY_S = 0.1

# Asserted (True) drives the pin low; the names say which level the pin gets.
LOW = True
HIGH = False


class Lines(Protocol):
    """The two modem-control lines, and a clock, that a reset sequence drives."""

    def dtr(self, state: bool) -> None: ...
    def rts(self, state: bool) -> None: ...
    def both(self, dtr: bool, rts: bool) -> None:
        """Set DTR and RTS in one step (no glitch through an invalid pair)."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SerialLines:
    """Lines of a pyserial port; `both` uses TIOCMSET where the OS has it."""

    def __init__(self, port: serial.SerialBase) -> None:
        self.port = port

    def dtr(self, state: bool) -> None:
        self.port.setDTR(state)

    def rts(self, state: bool) -> None:
        # Some Windows USB-CDC drivers only send the line state when DTR is written
        # too, so DTR is re-applied after every RTS change (harmless elsewhere).
        self.port.setRTS(state)
        self.port.setDTR(self.port.dtr)

    def both(self, dtr: bool, rts: bool) -> None:
        if os.name == "nt":
            raise OSError(errno.ENOTTY, "no atomic DTR/RTS on this OS")
        import fcntl
        import termios

        fd = self.port.fileno()
        bits = struct.unpack("I", fcntl.ioctl(fd, termios.TIOCMGET, struct.pack("I", 0)))[0]
        bits = (bits | termios.TIOCM_DTR) if dtr else (bits & ~termios.TIOCM_DTR)
        bits = (bits | termios.TIOCM_RTS) if rts else (bits & ~termios.TIOCM_RTS)
        fcntl.ioctl(fd, termios.TIOCMSET, struct.pack("I", bits))

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# -- the sequences ----------------------------------------------------------------------


def classic_reset(lines: Lines, delay: float = RESET_DELAY_S) -> None:
    """Download mode through the auto-reset circuit, one line at a time (every OS)."""
    lines.dtr(HIGH)
    lines.rts(LOW)  # EN low: in reset
    lines.sleep(ENTER_BOOT_DELAY_S)
    lines.dtr(LOW)  # strapping pin low
    lines.rts(HIGH)  # EN high: boots, sees the strapping pin low
    lines.sleep(delay)
    lines.dtr(HIGH)  # release the strapping pin


def tight_reset(lines: Lines, delay: float = RESET_DELAY_S) -> None:
    """The same, with both lines set at once (POSIX), avoiding glitches on some bridges."""
    lines.both(HIGH, HIGH)
    lines.both(LOW, LOW)
    lines.both(HIGH, LOW)  # EN low
    lines.sleep(ENTER_BOOT_DELAY_S)
    lines.both(LOW, HIGH)  # strapping pin low, EN high
    lines.sleep(delay)
    lines.both(HIGH, HIGH)
    lines.dtr(HIGH)


def usb_jtag_reset(lines: Lines) -> None:
    """Download mode through the USB-Serial/JTAG peripheral's own line decoding."""
    lines.rts(HIGH)
    lines.dtr(HIGH)  # idle
    lines.sleep(0.1)
    lines.dtr(LOW)  # strapping pin
    lines.rts(HIGH)
    lines.sleep(0.1)
    lines.rts(LOW)  # reset; this order passes through (1,1), never (0,0)
    lines.dtr(HIGH)
    lines.rts(LOW)
    lines.sleep(0.1)
    lines.dtr(HIGH)
    lines.rts(HIGH)  # out of reset


def hard_reset(lines: Lines, usb: bool = False) -> None:
    """Pulse EN: the chip restarts and runs its firmware (the `--after hard-reset`)."""
    lines.rts(LOW)
    lines.sleep(0.2 if usb else 0.1)
    lines.rts(HIGH)
    if usb:
        lines.sleep(0.2)  # the USB device re-enumerates


# -- choosing and running them ----------------------------------------------------------

ResetStep = Callable[[Lines], None]


def check_before(mode: str) -> str:
    if mode not in BEFORE_MODES:
        raise InputError(f"unknown --before mode {mode!r}", hint="one of: " + ", ".join(BEFORE_MODES))
    return mode


def check_after(mode: str) -> str:
    if mode not in AFTER_MODES:
        raise InputError(f"unknown --after mode {mode!r}", hint="one of: " + ", ".join(AFTER_MODES))
    return mode


def reset_plan(url: str, before: str) -> list[ResetStep]:
    """The reset sequences connection attempts cycle through (empty: no reset at all).

    A raw TCP socket has no lines, so nothing is tried there, whatever `before` says.
    """
    check_before(before)
    if before == "no-reset" or is_socket(url):
        return []
    if before == "usb-reset":
        return [usb_jtag_reset]
    if os.name != "nt" and not is_rfc2217(url):
        return [
            lambda lines: tight_reset(lines, RESET_DELAY_S),
            lambda lines: tight_reset(lines, EXTRA_RESET_DELAY_S),
            lambda lines: classic_reset(lines, RESET_DELAY_S),
            lambda lines: classic_reset(lines, EXTRA_RESET_DELAY_S),
        ]
    return [
        lambda lines: classic_reset(lines, RESET_DELAY_S),
        lambda lines: classic_reset(lines, EXTRA_RESET_DELAY_S),
    ]


def run_reset(step: ResetStep, lines: Lines) -> bool:
    """Run one sequence; False (not an error) if the port has no modem lines.

    A port that rejects a line change was not reset; the caller still tries to sync,
    which works when the chip is already in download mode.
    """
    try:
        step(lines)
    except OSError as e:
        if e.errno in (errno.ENOTTY, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            return False
        raise LinkError(f"could not drive the reset lines: {e}") from None
    except ValueError as e:
        raise LinkError(f"could not drive the reset lines: {e}") from None
    return True
