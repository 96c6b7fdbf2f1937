"""Which process wrote an in-progress record, and whether that process is known to be gone.

An apply killed between `begin` and `finish` leaves a record reading "in-progress". The
ledger turns it into "interrupted" only when it can prove the writer is gone: same host,
and either the host rebooted since (another boot id) or, in the same boot and PID
namespace, no process has that PID any more. Anything it cannot prove (another host,
another container, a recycled PID) stays "in-progress", which is the honest answer.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


@dataclass(frozen=True)
class Writer:
    """Where a record was written from: host, boot, PID namespace, PID."""

    host: str
    boot_id: str
    pid_namespace: str
    pid: int

    @classmethod
    def current(cls) -> Writer:
        return cls(
            host=socket.gethostname(),
            boot_id=_read("/proc/sys/kernel/random/boot_id"),
            pid_namespace=_pid_namespace(),
            pid=os.getpid(),
        )

    def is_gone(self, observer: Writer) -> bool:
        """True only if `observer` can prove this writer's process no longer runs."""
        if self.host != observer.host or not self.boot_id or not observer.boot_id:
            return False
        if self.boot_id != observer.boot_id:
            return True
        if not self.pid_namespace or self.pid_namespace != observer.pid_namespace:
            return False
        if self.pid == observer.pid:
            return False
        return not _pid_alive(self.pid)


def _pid_alive(pid: int) -> bool:
    if sys.platform == "win32" or pid <= 0:
        return True  # os.kill(pid, 0) would terminate a process on Windows: never probe there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) still answers signal 0; it is gone all the same.
    stat = _read(f"/proc/{pid}/stat")
    if stat:
        state = stat.rpartition(")")[2].split()
        if state and state[0] in ("Z", "X"):
            return False
    return True
