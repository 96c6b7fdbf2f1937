"""Driving `fusebook` on a pseudo-terminal, to test the BURN prompt as a user meets it."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import time

from .conftest import ROOT


class Prompted:
    """`fusebook apply` without --yes, its stdin a pseudo-terminal it has as controlling tty."""

    def __init__(self, args: list[str]) -> None:
        self.master, slave = os.openpty()

        def controlling_tty() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        env = {k: v for k, v in os.environ.items() if k != "FUSEBOOK_DEBUG"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fusebook", *args], cwd=ROOT, env=env, stdin=slave,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            preexec_fn=controlling_tty,
        )
        os.close(slave)
        self.out = b""

    def wait_for_prompt(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + 30
        while b"Type BURN to continue: " not in self.out:
            assert time.monotonic() < deadline and self.proc.poll() is None, self.out
            if select.select([fd], [], [], 0.1)[0]:
                self.out += os.read(fd, 65536)

    def type(self, text: bytes) -> None:
        os.write(self.master, text)

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=30)
        os.close(self.master)
        return self.proc.returncode, (self.out + out).decode(), err.decode()
