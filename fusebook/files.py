"""Reading files a user names: regular files only, never more than a limit.

Recipes, fragments, inputs, key PEMs, custom eFuse tables, snapshots and saved plans
are all named by users, and a name can lead anywhere: a FIFO (reading blocks forever),
`/dev/zero` (its size reads as 0 and it never ends), a directory, a socket. Every such
file is read through `read_bounded`: it opens without blocking, checks with `fstat` that
the open file is a regular file, and counts what it reads rather than trusting the size
the file system reports, so a file that grows while being read still stops at the limit.
"""

from __future__ import annotations

import errno
import os
import stat

from fusebook.errors import InputError, SourceLocation

#: The default most bytes read from any file a user names.
DEFAULT_LIMIT = 16 << 20

_CHUNK = 1 << 16


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bounded(path: str | os.PathLike[str], what: str, *, limit: int = DEFAULT_LIMIT,
                 location: SourceLocation | None = None, display: str | None = None) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them; else InputError.

    `what` names the file in messages ("input file", "saved plan"); `location` is where
    the recipe names it, if it does.
    """
    name = display if display is not None else str(path)
    where = location or SourceLocation(name)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except ValueError:  # an embedded NUL
        raise InputError(f"{what} {name!r}: a file name cannot contain a NUL character",
                         location=where) from None
    except FileNotFoundError:
        raise InputError(f"{what} {name}: no such file", location=where) from None
    except OSError as e:
        if e.errno == errno.ENXIO:  # a socket
            raise InputError(f"{what} {name} is not a regular file (a socket or device)",
                             location=where, hint="name a regular file") from None
        raise InputError(f"cannot read {what} {name}: {e.strerror or type(e).__name__}",
                         location=where) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"{what} {name} is {_kind(mode)}, not a regular file", location=where,
                             hint="name a regular file (not a pipe, device, socket or directory)")
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            except BlockingIOError:
                raise InputError(f"{what} {name} cannot be read without waiting", location=where) from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise InputError(f"{what} {name} is larger than {limit} bytes", location=where,
                                 hint="fusebook reads files up to that size")
        return b"".join(chunks)
    except InputError:
        raise
    except OSError as e:
        raise InputError(f"cannot read {what} {name}: {e.strerror or type(e).__name__}",
                         location=where) from None
    finally:
        os.close(fd)


def read_text_bounded(path: str | os.PathLike[str], what: str, *, limit: int = DEFAULT_LIMIT,
                      location: SourceLocation | None = None, display: str | None = None) -> str:
    """`read_bounded`, decoded as UTF-8 (a byte-order mark allowed); InputError if it is not."""
    raw = read_bounded(path, what, limit=limit, location=location, display=display)
    name = display if display is not None else str(path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{what} {name} is not UTF-8 text (byte {e.start})",
                         location=location or SourceLocation(name)) from None

