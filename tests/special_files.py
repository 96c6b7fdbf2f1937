"""Files that are not regular files, for tests of every place fusebook reads a user's file."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def make_special(path: Path, kind: str, keep: list[socket.socket]) -> Path:
    """Put a non-regular file of `kind` at `path` (replacing what is there); the path to read.

    Kinds: fifo, dev-zero (the device itself), dev-zero-link, directory, socket. A socket
    stays bound while its object is in `keep`.
    """
    if kind == "dev-zero":
        return Path("/dev/zero")
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero-link":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    else:
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        keep.append(s)
    return path
