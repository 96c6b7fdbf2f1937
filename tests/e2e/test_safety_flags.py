"""Error flags, ESP32 revision and factory MACs through the CLI, serve-virtual and espefuse."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fusebook.chips.loader import load_chip
from fusebook.drivers.controller import controller_for
from fusebook.link.rom import RomLink
from fusebook.session import ConnectOptions, open_session
from fusebook.virtual.chip import VirtualChip, default_factory_mac
from fusebook.virtual.server import VirtualRomServer

from .conftest import fusebook

FAST = {"timeout": 0.5, "connect_attempts": 2}


@contextmanager
def serve(chip: str, efuse_file: Path | None = None, *extra: str) -> Iterator[str]:
    """`fusebook serve-virtual` as a process; yields its socket:// URL."""
    args = [sys.executable, "-m", "fusebook", "serve-virtual", "--chip", chip, "--listen", "127.0.0.1:0"]
    if efuse_file is not None:
        args += ["--efuse-file", str(efuse_file)]
    proc = subprocess.Popen([*args, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"socket://127\.0\.0\.1:\d+", line)
        assert match, line + (proc.stderr.read() if proc.stderr else "")
        yield match.group(0)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def recipe(tmp_path: Path, chip: str, steps: str, name: str = "r") -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(f"fusebook: 1\nname: {name}\nchip: {chip}\nsteps:\n{steps}")
    return p


MAC_STEP = "  - burn_custom_mac: '02:00:00:00:00:01'\n"
MAC_STEP2 = "  - burn_custom_mac: '02:00:00:00:00:02'\n"
LOCK_STEP = "  - write_protect_efuse: [CUSTOM_MAC]\n"


# -- item: error flags ------------------------------------------------------------------


@pytest.mark.parametrize("chip", ["esp32c3", "esp32s3"])
def test_failed_program_over_serve_virtual_is_refused_later_and_reported(chip: str, tmp_path: Path) -> None:
    efuse = tmp_path / "chip.bin"
    c = load_chip(chip)
    blk = c.blocks[c.field("CUSTOM_MAC").block].name
    with serve(chip, efuse, "--fault", "fail-programs=3") as url:
        r = fusebook("apply", recipe(tmp_path, chip, MAC_STEP), "--port", url, "--before", "no-reset",
                     "--yes", "--no-ledger")
        assert r.code == 5, r.err
        assert "error flags set" in r.err
        # a new client of the same server sees the flags (they are not cleared on connect)
        r = fusebook("check-error", "--port", url, "--before", "no-reset", "--format", "json")
        assert r.code == 5, r.err
        bad = [b for b in r.json["blocks"] if b["fail"] or b["errors"]]
        assert [b["name"] for b in bad] == [blk] and bad[0]["flags"]
    saved = efuse.read_bytes()
    # a fresh process on the file: refused, exit 3, the file unchanged
    for steps in (MAC_STEP2, LOCK_STEP):
        r = fusebook("apply", recipe(tmp_path, chip, steps, "again"), "--virt", "--chip", chip,
                     "--efuse-file", efuse, "--yes", "--no-ledger")
        assert r.code == 3, r.err
        assert blk in r.err and "error flags" in r.err and "RD_RS_ERR" in r.err
        assert efuse.read_bytes() == saved
    text = fusebook("check-error", "--virt", "--chip", chip, "--efuse-file", efuse)
    assert text.code == 5 and f"{blk}: fail" in text.out
    # a new serve-virtual on the same file sees them too
    with serve(chip, efuse) as url:
        r = fusebook("check-error", "--port", url, "--before", "no-reset")
        assert r.code == 5 and f"{blk}: fail" in r.out
    # snapshots carry the flags into plan --snapshot
    snap = tmp_path / "snap.json"
    assert fusebook("snapshot", "--virt", "--chip", chip, "--efuse-file", efuse, "-o", snap).code == 0
    r = fusebook("plan", recipe(tmp_path, chip, MAC_STEP2, "p"), "--snapshot", snap)
    assert r.code == 3 and blk in r.err
    assert fusebook("check-error", "--snapshot", snap).code == 5
    # an unrelated block still plans
    r = fusebook("plan", recipe(tmp_path, chip, "  - burn_efuse: {SECURE_VERSION: 1}\n", "q"), "--snapshot", snap)
    assert r.code == 0, r.err


def test_esp32_34_coded_failure_over_serve_virtual(tmp_path: Path) -> None:
    efuse = tmp_path / "esp32.bin"
    coding = recipe(tmp_path, "esp32", "  - burn_efuse: {CODING_SCHEME: 1}\n", "coding")
    assert fusebook("apply", coding, "--virt", "--chip", "esp32", "--efuse-file", efuse, "--yes",
                    "--no-ledger").code == 0
    data = recipe(tmp_path, "esp32", "  - burn_block_data: {block: BLOCK3, data: '" + "11" * 24 + "'}\n")
    with serve("esp32", efuse, "--fault", "fail-programs=3") as url:
        r = fusebook("apply", data, "--port", url, "--before", "no-reset", "--yes", "--no-ledger")
        assert r.code == 5, r.err
    saved = efuse.read_bytes()
    r = fusebook("apply", data, "--virt", "--chip", "esp32", "--efuse-file", efuse, "--yes", "--no-ledger")
    assert r.code == 3 and "EFUSE_REG_DEC_STATUS bit 8" in r.err, r.err
    assert efuse.read_bytes() == saved
    r = fusebook("check-error", "--virt", "--chip", "esp32", "--efuse-file", efuse, "--format", "json")
    assert r.code == 5
    assert [b["name"] for b in r.json["blocks"] if b["fail"]] == ["BLOCK3"]


def test_check_error_is_clean_on_a_new_chip_and_espefuse_agrees(tmp_path: Path) -> None:
    efuse = tmp_path / "c3.bin"
    r = fusebook("check-error", "--virt", "--chip", "esp32c3", "--efuse-file", efuse, "--format", "json")
    assert r.code == 0 and r.json["ok"]
    with serve("esp32c3", efuse, "--fault", "fail-programs=3") as url:
        assert fusebook("apply", recipe(tmp_path, "esp32c3", MAC_STEP), "--port", url, "--before",
                        "no-reset", "--yes", "--no-ledger").code == 5
        theirs = subprocess.run(
            [sys.executable, "-m", "espefuse", "--port", url, "--before", "no-reset", "--chip", "esp32c3",
             "check-error"], capture_output=True, text=True, timeout=120)
    assert theirs.returncode != 0
    assert re.search(r"Error\(s\) in BLOCK3 \[ERRORS:\d+ FAIL:True\]", theirs.stdout + theirs.stderr), \
        theirs.stdout + theirs.stderr


# -- item: ESP32 revision over a real port ------------------------------------------------


def _v3_esp32() -> tuple[VirtualChip, object]:
    chip = load_chip("esp32")
    vc = VirtualChip(chip, identity={"APB_CTL_DATE_ADDR": 1 << 31})
    for name in ("CHIP_VER_REV1", "CHIP_VER_REV2"):
        f = chip.field(name)
        addr = chip.blocks[0].read_addr + 4 * f.word
        vc.write(addr, vc.read(addr) | (1 << f.pos))
    return vc, chip


def test_esp32_v3_revision_over_socket_equals_in_process_and_espefuse() -> None:
    vc, chip = _v3_esp32()
    local = controller_for(vc, chip).read_image().revision  # type: ignore[arg-type]
    assert local == 300
    with VirtualRomServer(vc, chip) as server:  # type: ignore[arg-type]
        with open_session(ConnectOptions(port=server.url, before="no-reset", after="no-reset")) as s:
            assert s.read_image().revision == local
        theirs = subprocess.run(
            [sys.executable, "-m", "espefuse", "--port", server.url, "--before", "no-reset", "summary"],
            capture_output=True, text=True, timeout=120)
    assert re.search(r"WAFER_VERSION_MAJOR \(BLOCK0\).*= 3 ", theirs.stdout), theirs.stdout + theirs.stderr


def test_esp32_without_the_apb_bit_is_v2_on_both_sides() -> None:
    chip = load_chip("esp32")
    vc = VirtualChip(chip)
    for name in ("CHIP_VER_REV1", "CHIP_VER_REV2"):
        f = chip.field(name)
        addr = chip.blocks[0].read_addr + 4 * f.word
        vc.write(addr, vc.read(addr) | (1 << f.pos))
    with VirtualRomServer(vc, chip) as server:
        with RomLink.open(server.url, before="no-reset", **FAST) as link:
            assert controller_for(link, chip).read_image().revision == 200
        theirs = subprocess.run(
            [sys.executable, "-m", "espefuse", "--port", server.url, "--before", "no-reset", "summary"],
            capture_output=True, text=True, timeout=120)
    assert re.search(r"WAFER_VERSION_MAJOR \(BLOCK0\).*= 2 ", theirs.stdout), theirs.stdout + theirs.stderr


def test_serve_virtual_esp32_revision_matches_virt(tmp_path: Path) -> None:
    efuse = tmp_path / "esp32.bin"
    rev = recipe(tmp_path, "esp32", "  - burn_efuse: {CHIP_VER_REV1: 1, CHIP_VER_REV2: 1}\n")
    assert fusebook("apply", rev, "--virt", "--chip", "esp32", "--efuse-file", efuse, "--yes",
                    "--no-ledger").code == 0
    local = fusebook("summary", "--virt", "--chip", "esp32", "--efuse-file", efuse, "--format", "json").json
    with serve("esp32", efuse) as url:
        wire = fusebook("summary", "--port", url, "--before", "no-reset", "--format", "json").json
    assert wire["revision"] == local["revision"] == 200


# -- item: factory MAC identity -------------------------------------------------------------


def test_virtual_chips_have_distinct_factory_macs_that_espefuse_reads(tmp_path: Path) -> None:
    macs = set()
    for name in ("a.bin", "b.bin"):
        efuse = tmp_path / name
        r = fusebook("summary", "MAC", "--virt", "--chip", "esp32c3", "--efuse-file", efuse, "--format", "json")
        again = fusebook("summary", "MAC", "--virt", "--chip", "esp32c3", "--efuse-file", efuse,
                         "--format", "json")
        assert r.json["fields"] == again.json["fields"]  # deterministic per file
        macs.add(r.json["fields"][0]["value"])
        assert r.json["fields"][0]["value"] == default_factory_mac(efuse)
    assert len(macs) == 2 and not any(m == "00:00:00:00:00:00" for m in macs)
    # burned as factory data: espefuse reads it from the file after a burn
    efuse = tmp_path / "a.bin"
    assert fusebook("apply", recipe(tmp_path, "esp32c3", "  - burn_efuse: {SECURE_VERSION: 1}\n"), "--virt",
                    "--chip", "esp32c3", "--efuse-file", efuse, "--yes", "--no-ledger").code == 0
    theirs = subprocess.run(
        [sys.executable, "-m", "espefuse", "--virt", "--path-efuse-file", str(efuse), "--chip", "esp32c3",
         "summary"], capture_output=True, text=True, timeout=120)
    assert default_factory_mac(efuse) in theirs.stdout.lower(), theirs.stdout


def test_factory_mac_option_and_esp32_mac_crc(tmp_path: Path) -> None:
    efuse = tmp_path / "esp32.bin"
    r = fusebook("snapshot", "--virt", "--chip", "esp32", "--efuse-file", efuse, "--factory-mac",
                 "24:0a:c4:12:34:56", "-o", tmp_path / "s.json")
    assert r.code == 0, r.err
    theirs = subprocess.run(
        [sys.executable, "-m", "espefuse", "--virt", "--path-efuse-file", str(efuse), "--chip", "esp32",
         "summary"], capture_output=True, text=True, timeout=120)
    assert re.search(r"24:0a:c4:12:34:56 \(CRC 0x[0-9a-f]{2} OK\)", theirs.stdout), theirs.stdout
    # a different MAC for a chip that has one is refused
    r = fusebook("summary", "--virt", "--chip", "esp32", "--efuse-file", efuse, "--factory-mac", "24:0a:c4:00:00:01")
    assert r.code == 2 and "already has factory MAC 24:0a:c4:12:34:56" in r.err
    # and serve-virtual takes the option too
    with serve("esp32c3", None, "--factory-mac", "7c:df:a1:00:00:07") as url:
        r = fusebook("summary", "MAC", "--port", url, "--before", "no-reset", "--format", "json")
    assert r.json["fields"][0]["value"] == "7c:df:a1:00:00:07"
    # --factory-mac without --virt is a usage error
    assert fusebook("summary", "--port", "socket://127.0.0.1:1", "--factory-mac", "7c:df:a1:00:00:07").code == 2


UNIQUE = ("fusebook: 1\nname: u\nchip: esp32c3\nunique: [CUSTOM_MAC]\n"
          "steps:\n  - burn_custom_mac: '02:00:00:00:00:05'\n")


def test_zero_mac_chips_are_never_the_same_unit(tmp_path: Path) -> None:
    r_path = tmp_path / "u.yaml"
    r_path.write_text(UNIQUE)
    ledger = tmp_path / "ledger.sqlite"
    blank = tmp_path / "blank.bin"
    blank.write_bytes(bytes(load_chip("esp32c3").mem_size))  # an espefuse-style blank chip, MAC 0
    other = tmp_path / "other.bin"
    other.write_bytes(bytes(load_chip("esp32c3").mem_size))
    r = fusebook("apply", r_path, "--virt", "--chip", "esp32c3", "--efuse-file", blank, "--yes",
                 "--ledger", ledger, "--format", "json")
    assert r.code == 0, r.err
    assert any("has no identity" in w["message"] for w in r.json["warnings"])
    # a second, different blank chip with the same per-unit value is a conflict, not "the same unit"
    r = fusebook("apply", r_path, "--virt", "--chip", "esp32c3", "--efuse-file", other, "--yes",
                 "--ledger", ledger)
    assert r.code == 3 and "already burned on chip 00:00:00:00:00:00" in r.err, r.err
    # chips with distinct default MACs: the same per-unit value is caught as well
    fresh_a, fresh_b = tmp_path / "fa.bin", tmp_path / "fb.bin"
    ledger2 = tmp_path / "l2.sqlite"
    assert fusebook("apply", r_path, "--virt", "--chip", "esp32c3", "--efuse-file", fresh_a, "--yes",
                    "--ledger", ledger2).code == 0
    r = fusebook("apply", r_path, "--virt", "--chip", "esp32c3", "--efuse-file", fresh_b, "--yes",
                 "--ledger", ledger2)
    assert r.code == 3 and default_factory_mac(fresh_a) in r.err
