"""Wire efficiency: request frames for one burn, fusebook vs espefuse 5.6.

The burn: a custom MAC plus one BLOCK0 field (DIS_USB_JTAG) on a blank ESP32-C3 behind
`serve-virtual`. Frames are counted by an independent TCP proxy between the tool and the
virtual chip (SLIP frames from the tool, delimited by 0xC0), not by either tool. Each tool
gets a fresh blank chip served by the same server code. Target: fusebook sends at most a
quarter of espefuse's request frames.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from fusebook.chips.loader import load_chip
from fusebook.chips.models import ChipDef
from fusebook.virtual.chip import VirtualChip
from fusebook.virtual.server import VirtualRomServer

SLIP_END = 0xC0

ESPEFUSE_BURN = """
import io, sys, contextlib
from espefuse import init_commands
with contextlib.redirect_stdout(io.StringIO()):
    with init_commands(port=sys.argv[1], before="no-reset", chip="esp32c3", do_not_confirm=True) as e:
        e.use_batch_mode()
        e.burn_custom_mac(b"\\x02\\x00\\x00\\x12\\x34\\x56")
        e.burn_efuse({"DIS_USB_JTAG": "1"})
        e.burn_all()
"""

RECIPE = """\
fusebook: 1
name: wire
chip: esp32c3
steps:
  - burn_custom_mac: "02:00:00:12:34:56"
  - burn_efuse: {DIS_USB_JTAG: 1}
"""


class FrameCountingProxy:
    """Forwards one TCP client to `target`, counting SLIP frames the client sends."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.frames = 0
        self._in_frame = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _count(self, data: bytes) -> None:
        for b in data:
            if b == SLIP_END:
                if self._in_frame:
                    self.frames += 1
                self._in_frame = not self._in_frame
                # an END right after an END starts a frame again (empty frames don't count)

    def _pipe(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        try:
            while data := src.recv(65536):
                if count:
                    self._count(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._in_frame = False
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"


def count(run: list[str], tmp: Path, name: str) -> tuple[int, bytes]:
    chip = load_chip("esp32c3")
    efuse = tmp / f"{name}.efuse"
    server = VirtualRomServer(VirtualChip(chip, efuse), chip).start()
    proxy = FrameCountingProxy((server.host, server.port))
    try:
        proc = subprocess.run([*run, proxy.url], capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            sys.exit(f"{name} failed ({proc.returncode}): {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    finally:
        server.stop()
    return proxy.frames, efuse.read_bytes()


def main() -> None:
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        recipe = tmp / "wire.yaml"
        recipe.write_text(RECIPE)
        ours, ours_file = count(
            [sys.executable, "-m", "fusebook", "apply", str(recipe), "--yes", "--no-ledger",
             "--before", "no-reset", "--after", "no-reset", "--chip", "esp32c3", "--port"],
            tmp, "fusebook")
        theirs, theirs_file = count([sys.executable, "-c", ESPEFUSE_BURN], tmp, "espefuse")
    chip = load_chip("esp32c3")
    same = _blocks(ours_file, chip) == _blocks(theirs_file, chip)
    print(f"fusebook request frames: {ours}")
    print(f"espefuse request frames: {theirs}")
    print(f"ratio: {ours / theirs:.3f} (target <= 0.25); same eFuse blocks: {same}")
    if not same:
        sys.exit("the two burns left different eFuse blocks: the frame counts do not compare")


def _blocks(efuse_file: bytes, chip: ChipDef) -> tuple[int, ...]:
    with tempfile.NamedTemporaryFile(suffix=".efuse") as f:
        f.write(efuse_file)
        f.flush()
        return VirtualChip(chip, Path(f.name)).image().blocks


if __name__ == "__main__":
    main()
