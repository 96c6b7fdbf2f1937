"""RomLink against the virtual ROM (over TCP and over a pty) and against scripted ROMs."""

from __future__ import annotations

import struct
import time

import pytest

from fusebook.chips.loader import chip_names, load_chip
from fusebook.drivers.controller import controller_for
from fusebook.errors import LinkError
from fusebook.link import protocol as proto
from fusebook.link.facts import link_facts
from fusebook.link.rom import RomLink
from fusebook.virtual.server import FaultPlan
from tests.link.conftest import FAST, answer, pty_chip, scripted_rom, sync_answers, tcp_chip

FACTS = link_facts()


@pytest.mark.parametrize("name", chip_names())
def test_detects_every_chip_over_tcp(name: str) -> None:
    with tcp_chip(name) as served:
        link = RomLink.open(served.url, before="no-reset", **FAST)
        try:
            found = link.detect()
        finally:
            link.close()
    facts = FACTS.chip(name)
    assert found.name == name == load_chip(found.name).name
    assert found.description == facts.chip_name
    assert found.crystal_mhz == facts.virtual_crystal_mhz
    assert found.chip_id == facts.chip_id
    assert not found.secure_download and not found.stub


@pytest.mark.parametrize("name", ["esp32", "esp32c3", "esp32s3"])
def test_detects_over_a_pty_with_default_reset(name: str) -> None:
    """A pty path that no enumeration lists; its missing modem lines do not matter."""
    with pty_chip(name) as served:
        with RomLink.open(served.url, before="default-reset", **FAST) as link:
            assert link.detect().name == name
            block0 = served.chip.blocks[0]
            assert link.read(block0.read_addr) == served.bus.read(block0.read_addr)


def test_reads_and_writes_reach_the_chip() -> None:
    with tcp_chip("esp32c3") as served:
        with RomLink.open(served.url, before="no-reset", **FAST) as link:
            pgm = served.chip.registers["EFUSE_PGM_DATA0_REG"]
            link.write(pgm, 0xA5A5_0F0F)
            assert served.bus.read(pgm) == 0xA5A5_0F0F
            assert link.read(pgm) == 0xA5A5_0F0F


def test_frames_sent_counts_one_frame_per_register_access() -> None:
    with tcp_chip("esp32c3") as served:
        with RomLink.open(served.url, before="no-reset", **FAST) as link:
            link.detect()
            before = link.frames_sent
            link.read(served.chip.blocks[0].read_addr)
            link.write(served.chip.registers["EFUSE_PGM_DATA0_REG"], 1, delay_after_us=10)
            assert link.frames_sent == before + 2
            assert served.server is not None and served.server.requests == link.frames_sent


@pytest.mark.parametrize("name", ["esp32c3", "esp32"])
def test_the_eefuse_driver_burns_through_the_link(name: str) -> None:
    """One driver path: the controller programs the virtual chip over the wire."""
    with tcp_chip(name) as served:
        with RomLink.open(served.url, before="no-reset", **FAST) as link:
            found = link.detect()
            controller = controller_for(link, served.chip, found.crystal_mhz)
            block = served.chip.blocks[3]
            words = tuple([0x1234_5678] + [0] * (block.words - 1))
            if served.chip.family == "esp32":
                words = tuple(0x0101_0101 for _ in range(block.words))
            controller.program(block, words)
            over_the_wire = controller.read_image()
        assert over_the_wire.blocks == served.bus.image().blocks
        assert over_the_wire.blocks[3] != 0


def test_delay_after_a_write_is_asked_of_the_rom() -> None:
    """As esptool: a second, mask-0 entry on the UART date register carries the delay."""

    def rom(request: proto.Request) -> list[bytes]:
        if (syncs := sync_answers(request)) is not None:
            return syncs
        if request.op == proto.Command.GET_SECURITY_INFO:
            info = proto.SecurityInfo(0, 0, (0,) * 7, 5, 0)
            return [answer(request.op, 0, info.pack() + proto.ok_status())]
        return [answer(request.op)]

    with scripted_rom(rom) as (path, seen):
        with RomLink.open(path, before="no-reset", **FAST) as link:
            link.detect()
            link.write(0x6000_8808, 7, delay_after_us=1000)
        entries = proto.parse_write_reg(seen[-1].data)
    assert entries == [
        proto.RegisterWrite(0x6000_8808, 7),
        proto.RegisterWrite(FACTS.chip("esp32c3").uart_date_reg, 0, 0, 1000),
    ]


@pytest.mark.parametrize("name", ["esp32", "esp32c3", "esp32c2", "esp32c5"])
def test_change_baud_keeps_both_ends_in_step(name: str) -> None:
    with tcp_chip(name) as served:
        with RomLink.open(served.url, baud=460800, before="no-reset", **FAST) as link:
            assert link.port.baudrate == 460800
            assert served.responder is not None and served.responder.baud == 460800
            # the crystal, measured through the UART divider, still comes out right
            assert link.crystal_mhz() == FACTS.chip(name).virtual_crystal_mhz
            assert link.read(served.chip.blocks[0].read_addr) == 0


def test_esp32_baud_change_is_scaled_like_esptools(tmp_path) -> None:  # noqa: ANN001
    """The ESP32 ROM's calibrated 8 MHz clock skews its baud; esptool scales the request."""
    from esptool.targets.esp32 import ESP32ROM

    chip = load_chip("esp32")
    cali_reg = FACTS.chip("esp32").baud_fix.params["cali_reg"]  # type: ignore[union-attr]
    regs = {cali_reg: 0x2A2 << 7 | 0x55, 0x3FF5A010: 0x31}  # a plausible calibration

    class Bus:
        def read(self, addr: int) -> int:
            return regs.get(addr, 0)

        def write(self, addr: int, value: int, *, delay_after_us: int = 0) -> None:
            regs[addr] = value

    from fusebook.virtual.server import RomResponder

    responder = RomResponder(Bus(), chip)

    def rom(request: proto.Request) -> list[bytes]:
        return [proto_frame(r) for r in responder.handle(request)]

    def proto_frame(r: proto.Response) -> bytes:
        return answer(r.op, r.value, r.data)

    sent: dict[str, int] = {}
    with scripted_rom(rom) as (path, seen):
        esp = ESP32ROM(path, 115200)
        esp.connect("no-reset", 1, warnings=False)
        esp.change_baud(460800)
        esp._port.close()
        sent["esptool"] = struct.unpack("<II", [r for r in seen if r.op == 0x0F][-1].data)[0]
        with RomLink.open(path, before="no-reset", **FAST) as link:
            link.change_baud(460800)
        sent["fusebook"] = struct.unpack("<II", [r for r in seen if r.op == 0x0F][-1].data)[0]
    assert sent["fusebook"] == sent["esptool"] != 460800


# -- faults ------------------------------------------------------------------------------


def _open(url: str) -> RomLink:
    return RomLink.open(url, before="no-reset", **FAST)


def test_a_lost_read_answer_is_read_again() -> None:
    # requests: 1 SYNC, 2 GET_SECURITY_INFO, 3 first READ_REG
    with tcp_chip("esp32c3", FaultPlan(drop_responses=frozenset({3}))) as served:
        with _open(served.url) as link:
            link.detect()
            pgm = served.chip.registers["EFUSE_PGM_DATA0_REG"]
            served.bus.write(pgm, 42)
            assert link.read(pgm) == 42
            assert link.frames_sent == 4


def test_a_garbled_read_answer_is_read_again() -> None:
    with tcp_chip("esp32c3", FaultPlan(corrupt_responses=frozenset({3}))) as served:
        with _open(served.url) as link:
            link.detect()
            assert link.read(served.chip.blocks[0].read_addr) == 0
            assert link.frames_sent == 4


def test_a_late_read_answer_cannot_pass_for_the_next_one() -> None:
    """Request 3 is answered after the client re-asked; the next read must get its own value."""
    with tcp_chip("esp32c3", FaultPlan(late_responses=frozenset({3}), late_s=0.4)) as served:
        with _open(served.url) as link:
            link.detect()
            pgm = served.chip.registers["EFUSE_PGM_DATA0_REG"]
            served.bus.write(pgm, 111)
            served.bus.write(pgm + 4, 222)
            assert link.read(pgm) == 111
            assert link.read(pgm + 4) == 222


def test_a_lost_write_answer_is_a_link_error_saying_it_may_have_happened() -> None:
    with tcp_chip("esp32c3", FaultPlan(drop_responses=frozenset({3}))) as served:
        with _open(served.url) as link:
            link.detect()
            with pytest.raises(LinkError, match="may or may not have happened") as e:
                link.write(served.chip.registers["EFUSE_PGM_DATA0_REG"], 1)
            assert e.value.exit_code == 4


def test_a_stalled_chip_gives_a_link_error_in_bounded_time() -> None:
    with tcp_chip("esp32c3", FaultPlan(stall_at=3)) as served:
        with _open(served.url) as link:
            link.detect()
            started = time.monotonic()
            with pytest.raises(LinkError, match="no answer after 3 tries"):
                link.read(served.chip.blocks[0].read_addr)
            assert time.monotonic() - started < 3


def test_a_disconnect_is_a_link_error_and_the_next_client_is_served() -> None:
    with tcp_chip("esp32c3", FaultPlan(disconnect_after=2)) as served:
        link = _open(served.url)
        link.detect()
        with pytest.raises(LinkError, match="failed|closed"):
            link.read(served.chip.blocks[0].read_addr)
        link.close()
        with _open(served.url) as again:
            assert again.detect().name == "esp32c3"


def test_a_closed_link_refuses_politely() -> None:
    with tcp_chip("esp32c3") as served:
        link = _open(served.url)
        link.close()
        with pytest.raises(LinkError, match="closed"):
            link.read(0x6000_8800)


def test_silence_is_a_link_error_in_bounded_time() -> None:
    with scripted_rom(lambda request: []) as (path, seen):
        started = time.monotonic()
        with pytest.raises(LinkError, match="no answer from a ROM loader") as e:
            RomLink.open(path, before="no-reset", **FAST)
        assert time.monotonic() - started < 3
        assert "download mode" in (e.value.hint or "")
        assert seen and all(r.op == proto.Command.SYNC for r in seen)


def test_a_chip_running_its_app_is_explained() -> None:
    boot = b"ESP-ROM:esp32c3-api1-20210207\r\nrst:0x1 (POWERON),boot:0xc (SPI_FAST_FLASH_BOOT)\r\n"
    with scripted_rom(lambda request: [boot]) as (path, _):
        with pytest.raises(LinkError) as e:
            RomLink.open(path, before="no-reset", **FAST)
    assert "not download mode" in (e.value.hint or "")


def test_framed_garbage_while_connecting_is_survived() -> None:
    """A stub's OHAI or line noise between delimiters is not an answer, and no crash."""
    calls = {"n": 0}

    def rom(request: proto.Request) -> list[bytes]:
        calls["n"] += 1
        if calls["n"] == 1:
            return [b"\xc0OHAI\xc0"]
        return sync_answers(request) or [answer(request.op)]

    with scripted_rom(rom) as (path, _):
        with RomLink.open(path, before="no-reset", **FAST) as link:
            assert not link.stub


def test_an_unsupported_chip_id_is_named() -> None:
    def rom(request: proto.Request) -> list[bytes]:
        if (syncs := sync_answers(request)) is not None:
            return syncs
        info = proto.SecurityInfo(0, 0, (0,) * 7, 4, 0)
        return [answer(request.op, 0, info.pack() + proto.ok_status())]

    with scripted_rom(rom) as (path, _):
        with RomLink.open(path, before="no-reset", **FAST) as link:
            with pytest.raises(LinkError, match=r"chip id 4 \(ESP32-S3\(beta2\)\)"):
                link.detect()


def test_an_esp8266_is_named() -> None:
    def rom(request: proto.Request) -> list[bytes]:
        if (syncs := sync_answers(request)) is not None:
            return syncs
        if request.op == proto.Command.READ_REG:
            return [answer(request.op, 0xFFF0C101, b"\0\0")]
        return [answer(request.op, 0, proto.fail_status(proto.ERROR_INVALID_MESSAGE, 2))]

    with scripted_rom(rom) as (path, _):
        with RomLink.open(path, before="no-reset", **FAST) as link:
            with pytest.raises(LinkError, match="ESP8266"):
                link.detect()


def test_secure_download_mode_is_detected_and_reads_explain_it() -> None:
    chip = load_chip("esp32c3")
    with tcp_chip("esp32c3") as served:
        f = chip.field("ENABLE_SECURITY_DOWNLOAD")
        addr = chip.blocks[f.block].read_addr + 4 * f.word
        served.bus._poke(addr, served.bus.read(addr) | (1 << f.pos))
        with _open(served.url) as link:
            found = link.detect()
            assert found.secure_download and found.crystal_mhz is None
            with pytest.raises(LinkError, match="secure download mode"):
                link.read(chip.blocks[0].read_addr)


def test_usb_serial_jtag_watchdogs_are_disabled_like_esptool_does() -> None:
    with tcp_chip("esp32c3") as served:
        w = FACTS.chip("esp32c3").watchdogs
        assert w is not None and served.responder is not None
        with RomLink.open(served.url, before="usb-reset", **FAST) as link:
            link.detect()
            others = dict(served.responder.others)
    assert others[w["wdt_config0_reg"]] == 0
    assert others[w["swd_conf_reg"]] & w["swd_auto_feed"]
    assert others[w["wdt_protect_reg"]] == 0 and others[w["swd_protect_reg"]] == 0
