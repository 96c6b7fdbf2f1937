"""Reset sequences: the same line changes and delays as esptool's, and harmless without lines."""

from __future__ import annotations

import os
import types

import esp_pylib.serial_reset as oracle
import pytest

from fusebook.errors import InputError
from fusebook.link import reset
from fusebook.link.port import open_port


class RecordingPort:
    """A port that records what happens to its modem lines (pyserial's interface)."""

    def __init__(self, log: list[tuple]) -> None:
        self.log = log
        self.dtr = False

    def setDTR(self, state: bool) -> None:  # noqa: N802 - pyserial's spelling
        self.dtr = state
        self.log.append(("dtr", state))

    def setRTS(self, state: bool) -> None:  # noqa: N802
        self.log.append(("rts", state))


class RecordingLines(reset.SerialLines):
    def __init__(self, log: list[tuple]) -> None:
        super().__init__(RecordingPort(log))  # type: ignore[arg-type]
        self.log = log

    def both(self, dtr: bool, rts: bool) -> None:
        self.log.append(("both", dtr, rts))

    def sleep(self, seconds: float) -> None:
        self.log.append(("sleep", seconds))


@pytest.fixture
def esptool_log(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Run esp_pylib's sequences against a recording port, without sleeping."""
    log: list[tuple] = []
    monkeypatch.setattr(oracle, "time", types.SimpleNamespace(sleep=lambda s: log.append(("sleep", s))))
    monkeypatch.setattr(oracle, "set_dtr_rts", lambda port, dtr=False, rts=False: log.append(("both", dtr, rts)))
    return log


def _ours(step) -> list[tuple]:  # noqa: ANN001
    log: list[tuple] = []
    step(RecordingLines(log))
    return log


@pytest.mark.parametrize("delay", [reset.RESET_DELAY_S, reset.EXTRA_RESET_DELAY_S])
def test_classic_reset_is_esptools(esptool_log: list[tuple], delay: float) -> None:
    oracle.classic_bootloader_reset(RecordingPort(esptool_log), 0.1, delay)
    assert _ours(lambda lines: reset.classic_reset(lines, delay)) == esptool_log


@pytest.mark.parametrize("delay", [reset.RESET_DELAY_S, reset.EXTRA_RESET_DELAY_S])
def test_tight_reset_is_esptools(esptool_log: list[tuple], delay: float) -> None:
    oracle.unix_tight_bootloader_reset(RecordingPort(esptool_log), 0.1, delay)
    assert _ours(lambda lines: reset.tight_reset(lines, delay)) == esptool_log


def test_usb_jtag_reset_is_esptools(esptool_log: list[tuple]) -> None:
    oracle.usb_jtag_bootloader_reset(RecordingPort(esptool_log))
    assert _ours(reset.usb_jtag_reset) == esptool_log


@pytest.mark.parametrize("usb", [False, True])
def test_hard_reset_is_esptools(esptool_log: list[tuple], usb: bool) -> None:
    if usb:
        oracle.hard_reset(RecordingPort(esptool_log), hold_delay=0.2, post_release_delay=0.2)
    else:
        oracle.hard_reset(RecordingPort(esptool_log), hold_delay=0.1, post_release_delay=0.0)
    assert _ours(lambda lines: reset.hard_reset(lines, usb=usb)) == esptool_log


def test_reset_plan_per_port_kind() -> None:
    assert reset.reset_plan("socket://127.0.0.1:5555", "default-reset") == []
    assert reset.reset_plan("/dev/ttyUSB0", "no-reset") == []
    assert reset.reset_plan("/dev/ttyACM0", "usb-reset") == [reset.usb_jtag_reset]
    assert len(reset.reset_plan("/dev/ttyUSB0", "default-reset")) == (4 if os.name != "nt" else 2)
    # rfc2217: lines are set remotely, one at a time; no ioctl
    log: list[tuple] = []
    for step in reset.reset_plan("rfc2217://host:4000", "default-reset"):
        step(RecordingLines(log))
    assert all(entry[0] != "both" for entry in log)


def test_unknown_modes_are_input_errors() -> None:
    with pytest.raises(InputError, match="before"):
        reset.reset_plan("/dev/ttyUSB0", "soft-reset")
    with pytest.raises(InputError, match="after"):
        reset.check_after("watchdog")


def test_a_port_without_modem_lines_is_not_an_error() -> None:
    """A pty has no DTR/RTS: the reset is skipped, nothing raises."""
    master, slave = os.openpty()
    try:
        port = open_port(os.ttyname(slave), timeout=0.05)
        lines = reset.SerialLines(port)
        for step in reset.reset_plan(port.port, "default-reset")[:1] + [reset.usb_jtag_reset]:
            assert reset.run_reset(step, types.SimpleNamespace(
                dtr=lines.dtr, rts=lines.rts, both=lines.both, sleep=lambda s: None
            )) is False
        port.close()
    finally:
        os.close(master)
        os.close(slave)


def test_socket_ports_take_line_changes_silently() -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        port = open_port(f"socket://127.0.0.1:{listener.getsockname()[1]}", timeout=0.05)
        lines = reset.SerialLines(port)
        quick = types.SimpleNamespace(dtr=lines.dtr, rts=lines.rts, both=lines.both, sleep=lambda s: None)
        assert reset.run_reset(reset.usb_jtag_reset, quick) is True
        assert reset.run_reset(lambda ln: reset.hard_reset(ln), quick) is True
        port.close()
    finally:
        listener.close()
