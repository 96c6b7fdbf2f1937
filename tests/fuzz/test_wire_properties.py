"""Garbage on the wire: the SLIP decoder and serve-virtual stay sane whatever arrives.

A serial line carries boot logs, noise and half frames, and serve-virtual accepts any
client, so neither the decoder nor the server may fail on bytes. The server must also
keep answering the next client, and must never change the eFuses from garbage: the
efuse file stays byte-identical unless something wrote the controller's command
register, and the blocks change only if that write was a program command.
"""

from __future__ import annotations

import socket
import struct
import tempfile
from pathlib import Path

from hypothesis import event, given
from hypothesis import strategies as st

from fusebook.chips.loader import load_chip
from fusebook.chips.models import ChipDef
from fusebook.link import protocol as proto
from fusebook.link import slip
from fusebook.link.rom import RomLink
from fusebook.virtual.chip import VirtualChip
from fusebook.virtual.server import VirtualRomServer

from .profiles import examples

#: A family each: the ESP32's own controller, the PGM_DATA one, and the S2's short security info.
SERVED_CHIPS = ("esp32", "esp32c3", "esp32s2")


# -- the decoder ----------------------------------------------------------------------------
def _feed_in_chunks(stream: bytes, cuts: list[int]) -> tuple[list[bytes], int, int]:
    decoder = slip.FrameDecoder()
    frames: list[bytes] = []
    start = 0
    for cut in [*sorted(cuts), len(stream)]:
        frames += decoder.feed(stream[start:cut])
        start = cut
        assert len(decoder.noise) <= slip.NOISE_TAIL
    return frames, decoder.skipped, decoder.dropped


SLIP_BYTES = st.sampled_from([b"\xc0", b"\xdb", b"\xdb\xdc", b"\xdb\xdd", b"\xdb\xc0", b"\xdb\x00"])
STREAMS = st.lists(st.one_of(st.binary(max_size=64), SLIP_BYTES, st.binary(max_size=40).map(slip.encode)),
                   max_size=12).map(b"".join)


@examples(200)
@given(STREAMS, st.lists(st.integers(0, 2000), max_size=8))
def test_the_decoder_takes_any_bytes_in_any_chunks_alike(stream: bytes, cuts: list[int]) -> None:
    whole = _feed_in_chunks(stream, [])
    frames, _, _ = whole
    assert all(0 < len(f) <= slip.MAX_FRAME for f in frames)
    assert _feed_in_chunks(stream, [c % (len(stream) + 1) for c in cuts]) == whole


@examples(200)
@given(STREAMS, st.binary(min_size=1, max_size=64))
def test_a_frame_after_a_delimiter_is_decoded_whatever_came_before(garbage: bytes, payload: bytes) -> None:
    """One END resynchronises the decoder: the frame after it arrives intact."""
    frames = slip.decode(garbage + b"\xc0" + slip.encode(payload))
    assert frames and frames[-1] == payload


@examples(3, fuzz=30)
@given(st.integers(1, 64), st.binary(max_size=8))
def test_an_oversized_frame_is_dropped_and_the_next_one_decoded(extra: int, tail: bytes) -> None:
    decoder = slip.FrameDecoder()
    assert decoder.feed(b"\xc0" + b"\x01" * (slip.MAX_FRAME + extra) + tail.replace(b"\xc0", b"") + b"\xc0") == []
    assert decoder.dropped == 1
    assert decoder.feed(slip.encode(b"ok")) == [b"ok"]


# -- serve-virtual --------------------------------------------------------------------------
def window_addresses(c: ChipDef) -> st.SearchStrategy[int]:
    """Addresses in and around the eFuse window, aligned or not, and the command register."""
    cmd = c.registers.get("EFUSE_CMD_REG", c.registers.get("EFUSE_REG_CMD", c.base))
    return st.one_of(
        st.integers(0, c.mem_size // 4 - 1).map(lambda w: c.base + 4 * w),
        st.integers(-4, c.mem_size + 4).map(lambda off: c.base + off),
        st.just(cmd),
        st.integers(0, 2**32 - 1),
    )


def _cmd_reg(c: ChipDef) -> int:
    return c.registers["EFUSE_REG_CMD"] if c.family == "esp32" else c.registers["EFUSE_CMD_REG"]


def requests(c: ChipDef) -> st.SearchStrategy[proto.Request]:
    """Well-formed request frames: known and unknown opcodes, right and wrong payloads."""
    addr = window_addresses(c)
    entry = st.builds(proto.RegisterWrite, addr, st.integers(0, 2**32 - 1),
                      st.sampled_from([0xFFFFFFFF, 0, 0x1, 0xFFFF0000]) | st.integers(0, 2**32 - 1),
                      st.sampled_from([0, 0, 0, 1, 100]))
    return st.one_of(
        st.just(proto.sync()),
        addr.map(proto.read_reg),
        st.lists(entry, min_size=1, max_size=4).map(lambda es: proto.write_reg(*es)),
        st.builds(proto.Request, st.integers(0, 255), st.binary(max_size=40), st.integers(0, 2**32 - 1)),
        st.builds(proto.Request, st.sampled_from(list(proto.Command)), st.binary(max_size=40)),
        st.just(proto.get_security_info()),
        st.integers(0, 2**32 - 1).map(lambda b: proto.change_baudrate(b)),
    )


def pieces(c: ChipDef) -> st.SearchStrategy[tuple[bytes, proto.Request | None]]:
    """One piece of a stream and the request it delivers whole, if it does."""
    req = requests(c)
    return st.one_of(
        st.binary(max_size=64).map(lambda b: (b, None)),
        req.map(lambda r: (slip.encode(r.pack()), r)),
        st.tuples(req, st.integers(1, 30)).map(lambda t: (slip.encode(t[0].pack())[: -t[1]], None)),
        st.tuples(req, st.integers(0, 0xFFFF)).map(
            lambda t: (slip.encode(t[0].pack()[:2] + struct.pack("<H", t[1]) + t[0].pack()[4:]), None)),
        st.binary(max_size=30).map(lambda b: (b"\xc0\x00\x09" + b + b"\xdb\x01\xc0", None)),
        SLIP_BYTES.map(lambda b: (b, None)),
    )


def programs(c: ChipDef, sent: list[proto.Request]) -> tuple[bool, bool]:
    """(wrote the command register, issued a program command) in the requests delivered whole."""
    cmd = _cmd_reg(c)
    pgm = c.constants["EFUSE_CMD_WRITE"] if c.family == "esp32" else c.constants["EFUSE_PGM_CMD"]
    touched = programmed = False
    for r in sent:
        if r.op != proto.Command.WRITE_REG or len(r.data) % proto.WRITE_ENTRY or not r.data:
            continue
        for e in proto.parse_write_reg(r.data):
            if e.addr == cmd and e.mask:
                touched = True
                programmed = programmed or (e.value & e.mask & pgm) != 0
    return touched, programmed


def _send_and_drain(url: str, stream: bytes) -> None:
    """Send `stream`, half-close, and read answers until the server hangs up (all was handled)."""
    host, port = url.removeprefix("socket://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(stream)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass


def _answers_a_client(url: str, c: ChipDef) -> None:
    with RomLink.open(url, before="no-reset", timeout=0.3, connect_attempts=2) as link:
        link.read(c.blocks[0].read_addr)


@examples(15, fuzz=1500)
@given(st.sampled_from(SERVED_CHIPS).flatmap(lambda n: st.tuples(st.just(n), st.lists(pieces(load_chip(n)),
                                                                                      max_size=10))))
def test_serve_virtual_survives_any_stream_and_garbage_burns_nothing(case: tuple[str, list]) -> None:
    name, parts = case
    c = load_chip(name)
    stream = b"".join(p for p, _ in parts)
    with tempfile.TemporaryDirectory() as tmp:
        efuse = Path(tmp) / "chip.efuse"
        seeded = VirtualChip(c, efuse)
        seeded._poke(c.blocks[0].read_addr + 4, 0x00C0FFEE)  # not blank, so a reset to blank shows
        seeded.save()
        before = efuse.read_bytes()
        bus = VirtualChip(c, efuse)
        server = VirtualRomServer(bus, c).start()
        try:
            _send_and_drain(server.url, b"\xc0" + stream + b"\xc0")
            assert server._thread is not None and server._thread.is_alive(), "the server thread died"
            _answers_a_client(server.url, c)
        finally:
            server.stop()
        # whole requests decode from the stream as the server saw it (pieces can join up)
        sent = [proto.Request.parse(f) for f in slip.decode(b"\xc0" + stream + b"\xc0")
                if len(f) >= proto.HEADER.size and f[0] == proto.REQUEST and _parses(f)]
        touched, programmed = programs(c, sent)
        after = efuse.read_bytes()
        event(f"{name}: {'programmed' if programmed else 'cmd written' if touched else 'no command'}")
        assert len(after) == c.mem_size, f"the efuse file is {len(after)} bytes, not {c.mem_size}"
        if not touched:
            assert after == before, "the efuse file changed without a command"
        elif not programmed:
            assert VirtualChip(c, efuse).image().blocks == VirtualChip(c, _file(tmp, before)).image().blocks


def _parses(frame: bytes) -> bool:
    try:
        proto.Request.parse(frame)
    except proto.ProtocolError:
        return False
    return True


def _file(tmp: str, content: bytes) -> Path:
    path = Path(tmp) / "before.efuse"
    path.write_bytes(content)
    return path
