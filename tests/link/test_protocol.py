"""Request/response packing against esptool's own constants and layouts."""

from __future__ import annotations

import struct

import pytest
from esptool.loader import ESPLoader
from hypothesis import given
from hypothesis import strategies as st

from fusebook.errors import LinkError
from fusebook.link import protocol as proto
from fusebook.link.protocol import Command, RegisterWrite, Request, Response, SecurityInfo

u32 = st.integers(0, 0xFFFFFFFF)


def test_opcodes_are_esptools() -> None:
    for command in Command:
        assert ESPLoader.ESP_CMDS[command.name] == command.value


def test_constants_are_esptools() -> None:
    assert proto.CHECKSUM_SEED == ESPLoader.ESP_CHECKSUM_MAGIC
    assert proto.ERROR_INVALID_MESSAGE == ESPLoader.ROM_INVALID_RECV_MSG


def test_sync_request_is_the_sync_frame_esptool_sends() -> None:
    packed = proto.sync().pack()
    assert packed == struct.pack("<BBHI", 0, 0x08, 36, 0) + b"\x07\x07\x12\x20" + b"\x55" * 32


@given(u32)
def test_read_reg_layout(addr: int) -> None:
    assert proto.read_reg(addr).pack() == struct.pack("<BBHI", 0, 0x0A, 4, 0) + struct.pack("<I", addr)


@given(u32, u32, u32, u32)
def test_write_reg_layout_and_round_trip(addr: int, value: int, mask: int, delay: int) -> None:
    entry = RegisterWrite(addr, value, mask, delay)
    request = proto.write_reg(entry)
    assert request.data == struct.pack("<IIII", addr, value, mask, delay)
    assert proto.parse_write_reg(Request.parse(request.pack()).data) == [entry]


def test_change_baudrate_sends_zero_as_old_rate_to_the_rom() -> None:
    assert proto.change_baudrate(460800).data == struct.pack("<II", 460800, 0)


@given(st.binary(max_size=100))
def test_checksum_matches_esptool(data: bytes) -> None:
    assert proto.checksum(data) == ESPLoader.checksum(data)


@given(st.integers(0, 255), u32, st.binary(max_size=64))
def test_response_round_trip(op: int, value: int, data: bytes) -> None:
    response = Response(op, value, data)
    assert Response.parse(response.pack()) == response


def test_malformed_frames_are_protocol_errors() -> None:
    with pytest.raises(proto.ProtocolError):
        Response.parse(b"\x01\x0a\x04")  # shorter than a header
    with pytest.raises(proto.ProtocolError):
        Response.parse(struct.pack("<BBHI", 0, 0x0A, 4, 0) + b"\0" * 4)  # a request
    with pytest.raises(proto.ProtocolError):
        Response.parse(struct.pack("<BBHI", 1, 0x0A, 5, 0) + b"\0" * 4)  # size disagrees
    with pytest.raises(proto.ProtocolError):
        proto.parse_write_reg(b"\0" * 15)


def test_status_with_rom_four_bytes_and_stub_two_bytes() -> None:
    assert Response(0x0A, 7, b"\0\0\0\0").payload(0, "read") == b""
    assert Response(0x0A, 7, b"\0\0").payload(0, "read") == b""


def test_failure_status_names_the_rom_reason() -> None:
    with pytest.raises(LinkError, match="invalid") as e:
        Response(0x0A, 0, proto.fail_status(0x05)).payload(0, "read register 0x1")
    assert e.value.exit_code == 4
    with pytest.raises(LinkError, match="not implemented"):
        Response(0x0A, 0, b"\xff\x00").payload(0, "read")


def test_short_answer_with_ok_status_is_not_accepted() -> None:
    with pytest.raises(LinkError, match="expected 20"):
        Response(0x14, 0, b"\0" * 4).payload(20, "get security info")


def test_rejection_is_recognised_whatever_its_opcode() -> None:
    assert Response(0x00, 0, bytes([1, 5, 0, 0])).rejects_request
    assert not Response(0x0A, 0, bytes([1, 6, 0, 0])).rejects_request


def _esptool_security_info(data: bytes) -> dict:
    """esptool's own parser, fed our response (the oracle)."""

    class Loader(ESPLoader):
        def __init__(self) -> None:
            self.cache = {"security_info": None}

        def command(self, op=None, data=b"", chk=0, wait_response=True, timeout=3):  # noqa: ANN001
            return 0, self._reply

    loader = Loader()
    loader._reply = data
    return loader.get_security_info(cache=False)


@pytest.mark.parametrize("chip_id", [5, None])
def test_security_info_layout_is_what_esptool_parses(chip_id: int | None) -> None:
    info = SecurityInfo(
        flags=0b101, flash_crypt_cnt=1, key_purposes=(4, 0, 9, 0, 0, 0, 0),
        chip_id=chip_id, api_version=3 if chip_id else None,
    )
    data = info.pack() + proto.ok_status()
    theirs = _esptool_security_info(data)
    assert theirs["flags"] == 0b101
    assert theirs["flash_crypt_cnt"] == 1
    assert tuple(theirs["key_purposes"]) == (4, 0, 9, 0, 0, 0, 0)
    assert theirs["chip_id"] == chip_id
    assert theirs["parsed_flags"]["SECURE_DOWNLOAD_ENABLE"]
    ours = SecurityInfo.from_response(Response(0x14, 0, data))
    assert ours == info
    assert ours.secure_download and ours.flag("SECURE_BOOT_EN")
