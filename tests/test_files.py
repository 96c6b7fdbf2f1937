"""fusebook.files.read_bounded, and the readers built on it: regular files only, bounded reads.

An alarm turns a read that blocks (a FIFO) into a failure instead of a stalled test.
"""

from __future__ import annotations

import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from fusebook.errors import InputError
from fusebook.files import read_bounded
from fusebook.keys.files import read_key_file
from fusebook.snapshot.formats import load_snapshot
from tests.special_files import make_special


class _Hung(Exception):
    pass


@pytest.fixture(autouse=True)
def _alarm() -> Iterator[None]:
    def hung(signum: int, frame: FrameType | None) -> None:
        raise _Hung("the read blocked")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def d(short_tmp_dir: Path) -> Path:
    """A directory short enough to hold a Unix socket's path."""
    return short_tmp_dir


def _special(d: Path, kind: str, keep: list[socket.socket]) -> Path:
    return make_special(d / "f", kind, keep)


KINDS = ("fifo", "dev-zero", "dev-zero-link", "directory", "socket")


@pytest.mark.parametrize("reader", ["read_bounded", "key file", "snapshot"])
@pytest.mark.parametrize("kind", KINDS)
def test_what_is_not_a_regular_file_is_refused(d: Path, kind: str, reader: str) -> None:
    keep: list[socket.socket] = []
    try:
        path = _special(d, kind, keep)
        with pytest.raises(InputError) as caught:
            if reader == "read_bounded":
                read_bounded(path, "file", limit=1 << 20)
            elif reader == "key file":
                read_key_file(path)
            else:
                load_snapshot(str(path), "esp32c3")
        assert "regular file" in caught.value.message or "is a directory" in caught.value.message
    finally:
        for s in keep:
            s.close()


def test_the_limit_is_counted_while_reading(d: Path) -> None:
    path = d / "big"
    path.write_bytes(b"x" * 1001)
    assert read_bounded(path, "file", limit=1001) == b"x" * 1001
    with pytest.raises(InputError, match="larger than 1000 bytes"):
        read_bounded(path, "file", limit=1000)


def test_a_nul_in_a_path_is_an_error() -> None:
    with pytest.raises(InputError, match="NUL"):
        read_bounded("a\0b", "file")


@pytest.mark.parametrize("word", ["0x٣", "٣", "0x０"])
def test_a_snapshot_word_in_non_ascii_digits_is_refused(d: Path, word: str) -> None:
    from fusebook.api import snapshot_json
    from fusebook.chips.loader import load_chip
    from fusebook.efuse.image import EfuseImage

    body = snapshot_json(EfuseImage.blank(load_chip("esp32c3", 0)), "test")
    block = next(iter(body["blocks"]))
    body["blocks"][block][0] = word
    path = d / "snap.json"
    path.write_text(json.dumps(body))
    with pytest.raises(InputError, match="malformed snapshot"):
        load_snapshot(str(path))
