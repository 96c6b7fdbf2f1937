"""The virtual chip's ROM server: espefuse itself as a client, persistence, lock-outs, faults."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fusebook.chips.loader import load_chip
from fusebook.errors import InputError, LinkError
from fusebook.link import protocol as proto
from fusebook.link.rom import RomLink
from fusebook.virtual.chip import VirtualChip
from fusebook.virtual.server import FaultPlan, RomResponder, VirtualRomServer, parse_listen
from tests.link.conftest import FAST, tcp_chip

ESPEFUSE = [sys.executable, "-m", "espefuse"]


def espefuse(url: str, *args: str, chip: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [*ESPEFUSE, "--port", url, "--before", "no-reset"]
    if chip:
        cmd += ["--chip", chip]
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def _set_field(bus: VirtualChip, name: str, value: int = 1) -> None:
    f = bus.chip.field(name)
    addr = bus.chip.blocks[f.block].read_addr + 4 * f.word
    bus._poke(addr, bus.read(addr) | (value << f.pos))


# -- espefuse as the client ----------------------------------------------------------------


def test_espefuse_summary_over_the_socket() -> None:
    with tcp_chip("esp32c3") as served:
        result = espefuse(served.url, "summary", chip="esp32c3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "EFUSE_NAME" in result.stdout and "DIS_USB_JTAG" in result.stdout


def test_espefuse_detects_an_esp32_by_its_magic_value_and_dumps() -> None:
    with tcp_chip("esp32") as served:
        served.bus.write(served.chip.blocks[0].read_addr + 4, 0x00C0FFEE)
        result = espefuse(served.url, "dump")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Detecting chip type... ESP32" in result.stdout
    assert "00c0ffee" in result.stdout.lower()


def test_espefuse_burns_and_recovers_from_a_failed_program_and_the_file_persists(tmp_path: Path) -> None:
    """run_server as `fusebook serve-virtual` runs it: a process, an efuse file, SIGTERM."""
    efuse_file = tmp_path / "c3.bin"
    code = (
        "import sys; from fusebook.virtual.server import run_server; "
        "run_server('esp32c3', '127.0.0.1:0', efuse_file=sys.argv[1], faults='fail-programs=1')"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code, str(efuse_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        match = re.search(r"socket://127\.0\.0\.1:\d+", first)
        assert match, first
        url = match.group(0)
        burn = espefuse(url, "--do-not-confirm", "burn-efuse", "DIS_ICACHE", "1", chip="esp32c3")
        assert burn.returncode == 0, burn.stdout + burn.stderr
        assert "re-burn" in burn.stdout  # espefuse saw the injected failure and retried
        with RomLink.open(url, before="no-reset", **FAST) as link:
            chip = load_chip("esp32c3")
            f = chip.field("DIS_ICACHE")
            word = link.read(chip.blocks[0].read_addr + 4 * f.word)
            assert (word >> f.pos) & 1
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
    # the file is espefuse's own layout: its virtual mode reads the burned bit
    offline = subprocess.run(
        [*ESPEFUSE, "--virt", "--path-efuse-file", str(efuse_file), "--chip", "esp32c3", "summary"],
        capture_output=True, text=True, timeout=60,
    )
    assert re.search(r"DIS_ICACHE .*= True", offline.stdout), offline.stdout


def test_espefuse_sees_secure_download_mode_take_effect() -> None:
    """After burning ENABLE_SECURITY_DOWNLOAD the ROM switches, as espefuse expects."""
    with tcp_chip("esp32c3") as served:
        burn = espefuse(served.url, "--do-not-confirm", "burn-efuse", "ENABLE_SECURITY_DOWNLOAD", "1",
                        chip="esp32c3")
        assert burn.returncode == 0, burn.stdout + burn.stderr
        assert "Secure download mode is enabled" in burn.stdout
        summary = espefuse(served.url, "summary", chip="esp32c3")
    assert summary.returncode != 0
    assert "Secure Download Mode is enabled" in summary.stdout + summary.stderr


# -- the server itself ---------------------------------------------------------------------


def test_clients_are_served_one_after_another() -> None:
    with tcp_chip("esp32s3") as served:
        for _ in range(3):
            with RomLink.open(served.url, before="no-reset", **FAST) as link:
                assert link.detect().name == "esp32s3"
        assert served.server is not None and served.server.connections == 3


def test_program_commands_save_the_efuse_file(tmp_path: Path) -> None:
    chip = load_chip("esp32c3")
    efuse_file = tmp_path / "c3.bin"
    bus = VirtualChip(chip, efuse_file)
    with VirtualRomServer(bus, chip) as server:
        with RomLink.open(server.url, before="no-reset", **FAST) as link:
            from fusebook.drivers.controller import controller_for

            controller_for(link, chip, 40).program(chip.blocks[0], (0, 0, 1 << 5, 0, 0, 0))
    assert VirtualChip(chip, efuse_file).image().blocks == bus.image().blocks
    assert bus.image().blocks[0] != 0


def test_download_mode_disabled_silences_the_rom_after_the_read_command() -> None:
    with tcp_chip("esp32c3") as served:
        responder = served.responder
        assert responder is not None
        with RomLink.open(served.url, before="no-reset", **FAST) as link:
            _set_field(served.bus, "DIS_DOWNLOAD_MODE")  # burned during this session
            f = served.chip.field("DIS_DOWNLOAD_MODE")
            assert link.read(served.chip.blocks[0].read_addr + 4 * f.word) >> f.pos & 1
            regs, c = served.chip.registers, served.chip.constants
            with pytest.raises(LinkError, match="may or may not"):
                link.write(regs["EFUSE_CMD_REG"], c["EFUSE_READ_CMD"])
        # and after a reset the chip has no download mode at all
        with pytest.raises(LinkError, match="no answer from a ROM loader"):
            RomLink.open(served.url, before="no-reset", **FAST)


def test_esp32_download_disable_applies_at_boot() -> None:
    with tcp_chip("esp32") as served:
        _set_field(served.bus, "UART_DOWNLOAD_DIS")
        with pytest.raises(LinkError, match="no answer"):
            RomLink.open(served.url, before="no-reset", **FAST)


def test_responder_answers_like_the_rom() -> None:
    chip = load_chip("esp32c3")
    responder = RomResponder(VirtualChip(chip), chip)
    responder.boot()
    syncs = responder.handle(proto.sync())
    assert len(syncs) == 8 and all(r.value != 0 for r in syncs)
    assert all(len(r.data) == proto.ROM_STATUS_BYTES for r in syncs)
    # unknown opcode, not-emulated flash command, malformed READ_REG
    assert responder.handle(proto.Request(0x77)).pop().rejects_request
    flash = responder.handle(proto.Request(proto.Command.FLASH_BEGIN, b"\0" * 16)).pop()
    assert flash.data[:2] == bytes([1, proto.ERROR_FAILED_TO_ACT])
    assert responder.handle(proto.Request(proto.Command.READ_REG, b"\0")).pop().rejects_request
    # masked writes outside the eFuse window are remembered, as registers are
    responder.handle(proto.write_reg(proto.RegisterWrite(0x6000_8000, 0xFF)))
    responder.handle(proto.write_reg(proto.RegisterWrite(0x6000_8000, 0x00, 0x0F)))
    assert responder.handle(proto.read_reg(0x6000_8000)).pop().value == 0xF0


def test_security_info_reflects_the_efuses() -> None:
    chip = load_chip("esp32s3")
    bus = VirtualChip(chip)
    _set_field(bus, "SECURE_BOOT_EN")
    _set_field(bus, "SPI_BOOT_CRYPT_CNT", 1)
    _set_field(bus, "KEY_PURPOSE_1", 4)
    responder = RomResponder(bus, chip)
    responder.boot()
    info = proto.SecurityInfo.from_response(responder.handle(proto.get_security_info()).pop())
    assert info.chip_id == 9 and info.flag("SECURE_BOOT_EN") and not info.secure_download
    assert info.flash_crypt_cnt == 1 and info.key_purposes[:2] == (0, 4)


def test_listen_is_loopback_only() -> None:
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_listen(":5555") == ("127.0.0.1", 5555)
    assert parse_listen("[::1]:7")[1] == 7
    with pytest.raises(InputError, match="loopback"):
        parse_listen("0.0.0.0:5555")
    with pytest.raises(InputError, match="--listen .*not HOST:PORT"):
        parse_listen("localhost:http")
    chip = load_chip("esp32c3")
    with pytest.raises(InputError, match="loopback"):
        VirtualRomServer(VirtualChip(chip), chip, host="0.0.0.0")


def test_fault_plans_parse() -> None:
    plan = FaultPlan.parse("drop=3,5; corrupt=7; stall=9; disconnect=12; fail-programs=2; late=4")
    assert plan == FaultPlan(frozenset({3, 5}), frozenset({7}), 9, 12, 2, frozenset({4}))
    assert FaultPlan.parse("") == FaultPlan()
    with pytest.raises(InputError, match="unknown fault"):
        FaultPlan.parse("explode=1")
    with pytest.raises(InputError, match="numbers"):
        FaultPlan.parse("drop=x")


def test_fail_programs_reaches_the_virtual_chip() -> None:
    chip = load_chip("esp32c3")
    bus = VirtualChip(chip)
    VirtualRomServer(bus, chip, faults=FaultPlan(fail_programs=2))
    assert bus.fail_next_programs == 2


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_run_server_refuses_a_public_address() -> None:
    code = "from fusebook.virtual.server import run_server; run_server('esp32c3', '0.0.0.0:0')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "loopback" in result.stderr


def test_writes_to_read_registers_over_the_wire_change_no_efuse() -> None:
    """Only a program command changes the eFuses; a WRITE_REG to a read register is ignored.

    Found by tests/fuzz: a WRITE_REG of 0 over BLOCK0's read registers cleared burned bits
    (a 1 -> 0 change no chip can make), and a later command write saved that to the file.
    """
    chip = load_chip("esp32")
    bus = VirtualChip(chip)
    _set_field(bus, "JTAG_DISABLE")
    before = bus.image().blocks
    responder = RomResponder(bus, chip)
    responder.boot()
    blk0 = chip.blocks[0]
    error_reg = chip.registers[chip.error_registers[0]]
    entries = [proto.RegisterWrite(blk0.read_addr + 4 * i, 0) for i in range(blk0.words)]
    entries.append(proto.RegisterWrite(error_reg, 0xFFFFFFFF))
    assert responder.handle(proto.write_reg(*entries)).pop().data[:2] == b"\0\0"
    assert bus.image().blocks == before and bus.read(error_reg) == 0


def test_unaligned_efuse_register_access_is_refused_and_the_window_keeps_its_size() -> None:
    """Found by tests/fuzz: a write to the window's last bytes grew the register file."""
    chip = load_chip("esp32c3")
    bus = VirtualChip(chip)
    responder = RomResponder(bus, chip)
    responder.boot()
    last = chip.base + chip.mem_size - 1
    assert responder.handle(proto.write_reg(proto.RegisterWrite(last, 0xFFFFFFFF))).pop().data[0] == 1
    assert responder.handle(proto.read_reg(chip.base + 2)).pop().data[0] == 1
    assert len(bus.mem) == chip.mem_size
