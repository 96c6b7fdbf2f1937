"""SLIP framing, as the ROM download protocol uses it in both directions.

A frame is `0xC0 payload 0xC0`, with `0xC0` and `0xDB` inside the payload escaped as
`0xDB 0xDC` and `0xDB 0xDD`. A chip also prints its boot log on the same wire, and a
noisy line can break a frame, so the decoder is a streaming one that skips anything
outside frames and drops (and counts) frames it cannot trust instead of failing: the
request/response layer above decides what a missing frame means.
"""

from __future__ import annotations

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD

#: Longest payload we accept; the ROM's own limit is a 16-bit size plus an 8-byte header.
MAX_FRAME = 0x10000 + 8
#: How much of the text between frames is kept for diagnostics (a boot message).
NOISE_TAIL = 2048


def encode(payload: bytes) -> bytes:
    """One SLIP frame carrying `payload`, delimited on both sides."""
    body = payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + body + b"\xc0"


def decode(stream: bytes) -> list[bytes]:
    """All frames in `stream` (a convenience over `FrameDecoder` for whole buffers)."""
    decoder = FrameDecoder()
    return decoder.feed(stream)


class FrameDecoder:
    """Turns a byte stream, in chunks of any size, into SLIP payloads.

    Bytes between frames (boot messages, line noise) are ignored and counted in
    `skipped`. A frame with an invalid escape or longer than `MAX_FRAME` is dropped
    whole and counted in `dropped`; decoding resumes at the next delimiter. Two
    delimiters in a row are an empty frame, which SLIP senders use to flush a line:
    they are ignored. The last bytes skipped are kept in `noise`: when a chip prints
    its boot log instead of answering, that says why.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._inside = False
        self._escape = False
        self._bad = False
        self.skipped = 0
        self.dropped = 0
        self.noise = bytearray()

    def reset(self) -> None:
        """Forget any partial frame (after flushing the port, say); `noise` is kept."""
        self._buf.clear()
        self._inside = False
        self._escape = False
        self._bad = False

    @property
    def partial(self) -> bool:
        """True while a frame has started and not yet ended."""
        return self._inside and (bool(self._buf) or self._escape or self._bad)

    def feed(self, data: bytes) -> list[bytes]:
        """Consume `data`; return the payloads of the frames it completed."""
        frames: list[bytes] = []
        for b in data:
            if not self._inside:
                if b == END:
                    self._inside = True
                else:
                    self.skipped += 1
                    self.noise.append(b)
                continue
            if b == END:
                if self._bad or self._escape:
                    self.dropped += 1
                    self._reset_frame()
                    self._inside = False
                elif self._buf:
                    frames.append(bytes(self._buf))
                    self._reset_frame()
                    self._inside = False
                # An empty frame: this delimiter opens the next one.
                continue
            if self._bad:
                continue
            if self._escape:
                self._escape = False
                if b == ESC_END:
                    self._buf.append(END)
                elif b == ESC_ESC:
                    self._buf.append(ESC)
                else:
                    self._bad = True
                    continue
            elif b == ESC:
                self._escape = True
                continue
            else:
                self._buf.append(b)
            if len(self._buf) > MAX_FRAME:
                self._bad = True
                self._buf.clear()
        if len(self.noise) > NOISE_TAIL:
            del self.noise[:-NOISE_TAIL]
        return frames

    def _reset_frame(self) -> None:
        self._buf.clear()
        self._escape = False
        self._bad = False
