"""SLIP framing: round trips, chunking, noise between frames, esptool's reader as oracle."""

from __future__ import annotations

import io

from esptool.loader import slip_reader
from hypothesis import given
from hypothesis import strategies as st

from fusebook.link import slip

payloads = st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=8)
#: Noise a chip prints between frames (boot log): anything without the delimiter.
noise = st.binary(max_size=40).map(lambda b: b.replace(b"\xc0", b""))


@given(payloads)
def test_round_trip(frames: list[bytes]) -> None:
    assert slip.decode(b"".join(slip.encode(f) for f in frames)) == frames


@given(payloads, st.data())
def test_chunking_does_not_matter(frames: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(slip.encode(f) for f in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = slip.FrameDecoder()
    got: list[bytes] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        got += decoder.feed(stream[start:cut])
        start = cut
    assert got == frames


@given(payloads, st.lists(noise, min_size=9, max_size=9))
def test_noise_between_frames_is_skipped(frames: list[bytes], gaps: list[bytes]) -> None:
    stream = gaps[0] + b"".join(slip.encode(f) + gaps[i + 1] for i, f in enumerate(frames))
    decoder = slip.FrameDecoder()
    assert decoder.feed(stream) == frames
    assert decoder.skipped == sum(len(g) for g in gaps[: len(frames) + 1])


@given(st.binary(min_size=1, max_size=200))
def test_encoding_never_leaks_a_delimiter(payload: bytes) -> None:
    body = slip.encode(payload)[1:-1]
    assert b"\xc0" not in body
    assert len(body) == len(payload) + payload.count(b"\xc0") + payload.count(b"\xdb")


class _Port(io.BytesIO):
    """Enough of a serial port for esptool's SLIP reader."""

    def inWaiting(self) -> int:  # noqa: N802 - pyserial's spelling
        return len(self.getbuffer()) - self.tell()


@given(payloads)
def test_esptool_reads_what_we_encode(frames: list[bytes]) -> None:
    reader = slip_reader(_Port(b"".join(slip.encode(f) for f in frames)), lambda *a, **k: None)
    assert [next(reader) for _ in frames] == frames


def test_invalid_escape_drops_only_that_frame() -> None:
    good = slip.encode(b"\x01\x02")
    stream = good + b"\xc0\x05\xdb\x99\x06\xc0" + good
    decoder = slip.FrameDecoder()
    assert decoder.feed(stream) == [b"\x01\x02", b"\x01\x02"]
    assert decoder.dropped == 1


def test_escaped_delimiters_survive() -> None:
    assert slip.encode(b"\xc0\xdb") == b"\xc0\xdb\xdc\xdb\xdd\xc0"
    assert slip.decode(b"\xc0\xdb\xdc\xdb\xdd\xc0") == [b"\xc0\xdb"]


def test_back_to_back_frames_and_empty_frames() -> None:
    # The ROM sends responses as c0..c0c0..c0; a lone c0c0 is an empty (ignored) frame.
    assert slip.decode(b"\xc0\xc0\xc0\x01\xc0\xc0\x02\xc0") == [b"\x01", b"\x02"]


def test_oversized_frame_is_dropped_and_decoding_resumes() -> None:
    decoder = slip.FrameDecoder()
    decoder.feed(b"\xc0" + b"\x11" * (slip.MAX_FRAME + 10))
    assert decoder.feed(b"\xc0" + slip.encode(b"ok")) == [b"ok"]
    assert decoder.dropped == 1


def test_partial_frame_is_visible_until_it_ends() -> None:
    decoder = slip.FrameDecoder()
    assert decoder.feed(b"boot log\r\n\xc0\x01\x02") == []
    assert decoder.partial
    assert decoder.feed(b"\xc0") == [b"\x01\x02"]
    assert not decoder.partial
