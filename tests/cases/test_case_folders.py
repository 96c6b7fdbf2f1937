"""Every case folder under tests/cases/<chip>/<case>/ run through the command line.

A folder holds `recipe.yaml` (and any file it names), optionally a start image
(`start.json`, a fusebook snapshot, or `start.efuse`, an espefuse efuse file; none means a
new virtual chip) and `expected.yaml`; tests/cases/README.md describes the format. Each
case runs `fusebook apply recipe.yaml --virt --chip CHIP --efuse-file F --yes --no-ledger`
on a copy of the start image and checks what `expected.yaml` says (with `espefuse:`, also
against espefuse: its burn, its reading, its controller emulator; or its refusal).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import espefuse
import pytest
from esptool import FatalError
from ruamel.yaml import YAML

from fusebook.chips.loader import load_chip
from fusebook.chips.models import ChipDef
from fusebook.efuse.view import ImageValues
from fusebook.snapshot.formats import from_efuse_file, load_snapshot, to_efuse_file
from fusebook.virtual.chip import open_virtual

from ..differential.espefuse_emulator_bus import (
    apply_on_emulator,
    emulator,
    esptool_update_reg,
    window_differences,
)
from ..differential.espefuse_oracle import espefuse_blocks, espefuse_fields
from ..differential.espefuse_tables import memoised_tables
from ..e2e.conftest import Run, fusebook

HERE = Path(__file__).parent
CASES = sorted(p.parent for p in HERE.glob("*/*/expected.yaml"))
#: The keys expected.yaml may hold (a typo must fail, not pass silently).
KEYS = {"exit", "error", "fields", "espefuse"}
#: Field classes espefuse shows converted to physical units.
_CONVERTED = {"vref", "adc_tp", "t_sensor", "spipin", "wafer", "pkg", "psram_cap"}


@pytest.fixture(scope="module", autouse=True)
def _fast_espefuse_tables() -> Iterator[None]:
    yield from memoised_tables()


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def start_image(case: Path, chip: str, dest: Path) -> None:
    """The case's start image as an efuse file at `dest` (a new virtual chip if none)."""
    if (case / "start.efuse").exists():
        shutil.copyfile(case / "start.efuse", dest)
    elif (case / "start.json").exists():
        to_efuse_file(load_snapshot(str(case / "start.json"), chip), dest)
    else:
        open_virtual(load_chip(chip), dest).save()


def espefuse_cli(chip: str, efuse_file: Path, commands: list[list[Any]], cwd: Path) -> None:
    """Run espefuse's command line in process: `commands` chained in one invocation.

    espefuse registers its batch-burn callback on its (module-level) command group each
    time it runs; it is reset first so one run's callback does not run again in the next.
    """
    argv = ["--virt", "--chip", chip, "--path-efuse-file", str(efuse_file), "--do-not-confirm"]
    for command in commands:
        argv += [str(a) for a in command]
    espefuse.cli._result_callback = None
    here = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            espefuse.main(argv)
    finally:
        os.chdir(here)


def _chip(name: str, efuse_file: Path) -> ChipDef:
    """The chip table for the revision the file's chip has, as a session picks it."""
    return load_chip(name, from_efuse_file(efuse_file, load_chip(name)).revision)


def _same_reading(chip_name: str, efuse_file: Path) -> int:
    """fusebook reads `efuse_file` to the field values espefuse shows; how many compared."""
    chip = _chip(chip_name, efuse_file)
    view = ImageValues(from_efuse_file(efuse_file, chip))
    compared = 0
    for name, expected in espefuse_fields(chip_name, efuse_file).items():
        if not chip.has_field(name) or chip.field(name).klass in _CONVERTED:
            continue
        f = chip.field(name)
        got = view.value(name)
        if f.klass == "mac":
            expected = str(expected).split(" ")[0].lower()
        elif f.type == "bytes":
            expected = str(expected).replace(" ", "")
        assert got == expected, f"{name}: fusebook {got!r}, espefuse {expected!r}"
        compared += 1
    return compared


def _refused(r: Run, expected: dict[str, Any], work: Path, chip: str, ours: Path, theirs: Path,
             before: bytes) -> None:
    """A refusal: nothing burned, the message located; espefuse refuses the same burn."""
    assert ours.read_bytes() == before, "a refused apply changed the chip"
    located = {m[0] for m in re.findall(r"([\w.-]+\.yaml):(\d+):", r.err)}
    assert located & {p.name for p in work.iterdir()} - {"expected.yaml"}, f"no FILE:LINE of the case's in {r.err}"
    if "espefuse" in expected:
        with pytest.raises((FatalError, SystemExit, KeyError, AssertionError)):
            espefuse_cli(chip, theirs, expected["espefuse"], work)
        assert theirs.read_bytes() == before, "espefuse burned what it refused"


def _burned_like_espefuse(commands: list[list[Any]], work: Path, chip: str, ours: Path, theirs: Path,
                          before: bytes) -> None:
    """espefuse's burn of `commands` leaves the blocks fusebook's did, and fusebook reads its
    file as espefuse does; fusebook's Controller on espefuse's own emulator burns the same."""
    with esptool_update_reg():
        espefuse_cli(chip, theirs, commands, work)
    assert espefuse_blocks(chip, ours) == espefuse_blocks(chip, theirs)
    assert _same_reading(chip, theirs) >= min(35, len(_chip(chip, theirs).fields) // 2)
    emulated = theirs.with_name("emulated.efuse")
    emulated.write_bytes(before)
    _, bus = apply_on_emulator(chip, emulated, work / "recipe.yaml")
    assert window_differences(bus.emu, emulator(chip, theirs)) == []


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_case(case: Path, tmp_path: Path) -> None:
    expected = _yaml(case / "expected.yaml") or {}
    assert set(expected) <= KEYS, f"unknown keys in expected.yaml: {set(expected) - KEYS}"
    chip = case.parent.name  # the recipe's own `chip:` must agree, or the apply refuses
    work = tmp_path / "case"
    shutil.copytree(case, work)
    ours, theirs = tmp_path / "chip.efuse", tmp_path / "espefuse.efuse"
    start_image(case, chip, ours)
    before = ours.read_bytes()
    theirs.write_bytes(before)

    argv = ["apply", str(work / "recipe.yaml"), "--virt", "--chip", chip, "--efuse-file", str(ours),
            "--yes", "--no-ledger"]
    r = fusebook(*argv)
    assert "Traceback" not in r.err
    assert r.code == expected.get("exit", 0), r.err
    for fragment in expected.get("error", []):
        assert fragment in r.err, r.err
    if r.code:
        _refused(r, expected, work, chip, ours, theirs, before)
        return

    view = ImageValues(from_efuse_file(ours, _chip(chip, ours)))
    for name, value in (expected.get("fields") or {}).items():
        assert view.value(name) == value, name
    if "espefuse" in expected:
        _burned_like_espefuse(expected["espefuse"], work, chip, ours, theirs, before)

    # re-applying the finished recipe burns nothing
    after = ours.read_bytes()
    again = fusebook(*argv, "--format", "json")
    assert again.code == 0, again.err
    assert again.json["outcome"] == "nothing-to-do"
    assert ours.read_bytes() == after
