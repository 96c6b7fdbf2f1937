"""fusebook's Controller drives espefuse's own eFuse controller emulator, for every chip.

A recipe goes the user's way (a recipe file, `fusebook.api.load_recipe`, a session,
`fusebook.api.apply`), but the session's Controller talks to espefuse's emulator through
tests/differential/espefuse_emulator_bus.py instead of fusebook's virtual chip. The
registers the emulator ends with (the eFuse words, the error registers, the programming
timings; not the scratch write registers) must equal those of espefuse's own burn of the
same steps (espefuse's batch API on a second emulator file). The emulator rejects write registers
whose RS or 3/4 check values are wrong, so a coding mistake fails here, not only a wrong
word.

The burns per chip: BLOCK0 fields (every plain bool, every plain uint at its maximum), the
custom MAC with user data at an offset, a second RS-coded data block with single bits,
keys of every purpose with their protections, a key left unprotected, later write and
read protection; and the chip-specific cases (the ESP32's 3/4 coding, the ESP32-C2's
split key block, revision-dependent tables).
"""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from espefuse import init_commands

from fusebook import api

from ..api_burn import write_recipe
from .cases_all import ALL_CHIPS, EXTRA_CASES, ChipCase, cases_for, espefuse_actions
from .espefuse_emulator_bus import apply_on_emulator, emulator, esptool_update_reg, window_differences
from .espefuse_tables import memoised_tables

#: Per chip: the generated cases kept here (the other key packings and flash voltages
#: exercise the planner, which tests/differential/test_all_chips.py covers).
_KINDS = ("block0-bools", "block0-uints", "mac-and-user-data", "block-data-and-bits", "keys-1",
          "key-unprotected", "protect")
CASES = [c for name in ALL_CHIPS for c in cases_for(name) if c.id.removeprefix(f"{name}-") in _KINDS]
CASES += EXTRA_CASES


@pytest.fixture(scope="module", autouse=True)
def _fast_espefuse_tables() -> Iterator[None]:
    yield from memoised_tables()


def _quiet() -> contextlib.redirect_stdout[io.StringIO]:
    return contextlib.redirect_stdout(io.StringIO())


def _start(case: ChipCase, path: Path) -> None:
    """The case's starting state in espefuse's file layout: revision, then setup burns."""
    emu = emulator(case.chip, path)
    if case.revision:
        with _quiet():
            emu.set_chip_revision(case.revision)
            emu.save_to_file()
    if case.setup:
        with _quiet(), esptool_update_reg(), init_commands(chip=case.chip, virt=True, virt_efuse_file=str(path),
                                     do_not_confirm=True) as cmds:
            cmds.use_batch_mode()
            case.setup(cmds)
            cmds.burn_all()


def _espefuse_burn(case: ChipCase, path: Path) -> None:
    chip = api.load_chip(case.chip, case.revision or 0)
    with _quiet(), esptool_update_reg(), init_commands(chip=case.chip, virt=True, virt_efuse_file=str(path),
                                                       do_not_confirm=True) as cmds:
        cmds.use_batch_mode()
        espefuse_actions(chip, case.steps)(cmds)
        cmds.burn_all()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_controller_burns_what_espefuse_burns(case: ChipCase, tmp_path: Path) -> None:
    ours, theirs = tmp_path / "fusebook.bin", tmp_path / "espefuse.bin"
    _start(case, theirs)
    shutil.copyfile(theirs, ours)

    outcome, bus = apply_on_emulator(case.chip, ours, write_recipe(tmp_path / "recipe", case.chip, case.steps))
    assert outcome.plan.writes, "the case must burn something"
    # one program command per planned block write: a clean emulator needs no retry
    assert len(bus.program_commands()) == len(outcome.plan.writes)

    _espefuse_burn(case, theirs)
    assert window_differences(bus.emu, emulator(case.chip, theirs)) == []
