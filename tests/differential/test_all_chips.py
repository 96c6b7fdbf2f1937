"""Every chip: the same burn through espefuse's virtual controller and through fusebook's
public API (a recipe file, load_recipe, connect, apply) must leave identical blocks; fusebook must
read the espefuse-burned file to the field values espefuse shows; and re-applying the
burn must plan nothing.

espefuse's table parsing is memoised (tests/differential/espefuse_tables.py) so the ~150
cases stay within the time budget.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from espefuse import init_commands

from fusebook.chips.loader import load_chip
from fusebook.chips.models import ChipDef
from fusebook.efuse import codecs
from fusebook.efuse.image import CODING_RS, EfuseImage
from fusebook.efuse.view import ImageValues
from fusebook.plan.model import BurnPlan
from fusebook.snapshot.formats import from_efuse_file

from ..api_burn import burn_steps
from .cases_all import (
    ALL_CHIPS,
    EXTRA_CASES,
    ChipCase,
    cases_for,
    espefuse_actions,
)
from .espefuse_tables import memoised_tables

CASES = [c for name in ALL_CHIPS for c in cases_for(name)] + EXTRA_CASES


@pytest.fixture(scope="module", autouse=True)
def _fast_espefuse_tables() -> Iterator[None]:
    yield from memoised_tables()


# -- the two tools ---------------------------------------------------------------------
def _quiet() -> contextlib.redirect_stdout[io.StringIO]:
    return contextlib.redirect_stdout(io.StringIO())


def prepare(case: ChipCase, ours: Path, theirs: Path) -> None:
    """Give both files the case's starting state (revision, setup burns)."""
    if case.revision:
        import importlib

        emu_mod = importlib.import_module(f"espefuse.efuse.{case.chip}.emulate_efuse_controller")
        with _quiet():
            emu = emu_mod.EmulateEfuseController(str(theirs))
            emu.set_chip_revision(case.revision)
            emu.save_to_file()
    if case.setup:
        with _quiet(), init_commands(chip=case.chip, virt=True, virt_efuse_file=str(theirs),
                                     do_not_confirm=True) as cmds:
            cmds.use_batch_mode()
            case.setup(cmds)
            cmds.burn_all()
    if not theirs.exists():
        # espefuse's new virtual chip (all-zero MAC): fusebook keeps a file's own MAC,
        # so both start blank, as the cases (user data in a C2's BLOCK2) expect
        with _quiet(), init_commands(chip=case.chip, virt=True, virt_efuse_file=str(theirs)):
            pass
    shutil.copy(theirs, ours)


def chip_for(name: str, path: Path) -> ChipDef:
    """The chip table for the file's revision, as a session picks it."""
    chip = load_chip(name)
    revision = from_efuse_file(path, chip).revision if path.exists() else 0
    return load_chip(name, revision)


def fusebook_burn(name: str, steps: list[dict[str, Any]], path: Path) -> BurnPlan:
    """The steps as a recipe applied through `fusebook.api`; PEM keys go in as files."""
    return burn_steps(name, steps, path)


def espefuse_burn_and_read(case: ChipCase, path: Path) -> dict[str, Any]:
    """Burn the case with espefuse; return every field value espefuse reads afterwards."""
    chip = chip_for(case.chip, path)
    with _quiet(), init_commands(chip=case.chip, virt=True, virt_efuse_file=str(path),
                                 do_not_confirm=True) as cmds:
        cmds.use_batch_mode()
        espefuse_actions(chip, case.steps)(cmds)
        cmds.burn_all()
    with _quiet(), init_commands(chip=case.chip, virt=True, virt_efuse_file=str(path)) as cmds:
        values = {}
        for e in cmds.efuses.efuses:
            try:
                values[e.name] = e.get()
            except Exception:  # computed fields that need a live chip
                continue
        return values


# -- comparing -------------------------------------------------------------------------
_CONVERTED = {"vref", "adc_tp", "t_sensor", "spipin", "wafer", "pkg", "psram_cap"}


def assert_same_values(image: EfuseImage, values: dict[str, Any]) -> int:
    """fusebook's reading of `image` equals espefuse's; returns how many fields compared."""
    chip = image.chip
    view = ImageValues(image)
    compared = 0
    for name, expected in values.items():
        if not chip.has_field(name):
            continue
        f = chip.field(name)
        if f.klass in _CONVERTED:
            continue  # espefuse shows these converted to physical units
        if f.parts:
            # combined fields: the chip data's parts, decoded as fusebook decodes values
            got = codecs.decode_value(chip, f, f.gather(image.blocks[f.block]))
        elif f.klass == "keyblock" and image.coding(f.block) != CODING_RS:
            # ESP32 3/4 coding: a key block holds 24 bytes
            got = image.block_bytes(f.block).hex()
        else:
            got = view.value(name)
        if f.klass == "mac":
            expected = str(expected).split(" ")[0].lower()
        elif f.type == "bytes":
            expected = str(expected).replace(" ", "")
        elif isinstance(expected, bool) or isinstance(got, bool):
            got, expected = bool(got), bool(expected)
        assert got == expected, f"{name}: fusebook {got!r}, espefuse {expected!r}"
        compared += 1
    return compared


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES]
)
def test_same_burn_as_espefuse(case: ChipCase, tmp_path: Path) -> None:
    ours, theirs = tmp_path / "fusebook.bin", tmp_path / "espefuse.bin"
    prepare(case, ours, theirs)

    plan = fusebook_burn(case.chip, case.steps, ours)
    assert plan.writes, "the case must burn something"
    values = espefuse_burn_and_read(case, theirs)

    chip = chip_for(case.chip, theirs)
    mine, reference = from_efuse_file(ours, chip), from_efuse_file(theirs, chip)
    for blk in chip.blocks:
        assert mine.words(blk.id) == reference.words(blk.id), (
            f"{blk.name}: fusebook {[hex(w) for w in mine.words(blk.id)]} "
            f"espefuse {[hex(w) for w in reference.words(blk.id)]}"
        )

    assert assert_same_values(reference, values) >= min(30, len(chip.fields) // 2)

    again = fusebook_burn(case.chip, case.steps, ours)
    assert again.writes == (), [w.block_name for w in again.writes]
