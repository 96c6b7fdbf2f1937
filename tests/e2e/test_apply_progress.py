"""apply's per-block progress lines: `BURN BLOCK (phase) [n/N] ... ok`, FAILED when the burn
ends inside a write, and colour only on a terminal without NO_COLOR."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from fusebook.cli import style

from .conftest import fusebook
from .test_safety_flags import MAC_STEP, recipe, serve


def test_each_block_write_gets_a_line_as_it_is_verified(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("fusebook: 1\nname: p\nchip: esp32c3\nsteps:\n"
                    "  - burn_custom_mac: 02:00:00:00:00:07\n  - burn_efuse: {DIS_USB_JTAG: 1}\n")
    r = fusebook("apply", path, "--virt", "--chip", "esp32c3", "--efuse-file", tmp_path / "c.bin",
                 "--yes", "--no-ledger")
    assert r.code == 0, r.err
    lines = [ln for ln in r.out.splitlines() if ln.startswith("BURN ")]
    assert lines == ["BURN BLOCK_USR_DATA (data) [1/2] ... ok", "BURN BLOCK0 (data) [2/2] ... ok"]
    assert "\x1b[" not in r.out + r.err  # not a terminal: no colour codes
    again = fusebook("apply", path, "--virt", "--chip", "esp32c3", "--efuse-file", tmp_path / "c.bin",
                     "--yes", "--no-ledger", "--format", "json")
    assert again.code == 0 and "BURN" not in again.out  # JSON stays one document


def test_a_write_that_never_takes_ends_its_line_failed(tmp_path: Path) -> None:
    with serve("esp32c3", tmp_path / "chip.bin", "--fault", "fail-programs=3") as url:
        r = fusebook("apply", recipe(tmp_path, "esp32c3", MAC_STEP), "--port", url, "--before", "no-reset",
                     "--yes", "--no-ledger")
    assert r.code == 5, r.err
    burn = [ln for ln in r.out.splitlines() if ln.startswith("BURN ")]
    assert burn and burn[-1].endswith("... FAILED")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert style.paint("ok", "green", _Terminal()) == "\x1b[32mok\x1b[0m"
    assert style.paint("ok", "green", io.StringIO()) == "ok"
    assert style.error_text("r.yaml:1:1: error: x", _Terminal()).count("\x1b[31m") == 1
    monkeypatch.setenv("NO_COLOR", "1")
    assert style.paint("ok", "green", _Terminal()) == "ok"
    monkeypatch.setenv("NO_COLOR", "")  # empty: colour stays on (no-color.org)
    assert style.paint("ok", "green", _Terminal()) != "ok"
