"""Steps spelled as espefuse v5's commands (`burn-efuse:`) load as fusebook's steps, and
errors inside them still name the file, line and column where they are written."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusebook.errors import InputError
from fusebook.recipe.loader import load_recipe
from fusebook.recipe.models import STEP_ALIASES
from fusebook.steps.burn_efuse import BurnEfuseStep

HEAD = "fusebook: 1\nname: t\nchip: esp32c3\nsteps:\n"


def _write(tmp_path: Path, steps: str) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text(HEAD + steps)
    return p


def test_every_espefuse_command_name_is_a_step() -> None:
    assert STEP_ALIASES["burn-efuse"] == "burn_efuse"
    assert set(STEP_ALIASES) >= {"burn-custom-mac", "burn-key", "burn-key-digest", "burn-block-data",
                                 "burn-bit", "write-protect-efuse", "read-protect-efuse", "set-flash-voltage"}


def test_kebab_steps_load_as_the_same_steps(tmp_path: Path) -> None:
    kebab = load_recipe(_write(tmp_path, "  - burn-efuse: {DIS_USB_JTAG: 1}\n"
                                         "  - write-protect-efuse: [DIS_USB_JTAG]\n"))
    snake = load_recipe(_write(tmp_path, "  - burn_efuse: {DIS_USB_JTAG: 1}\n"
                                         "  - write_protect_efuse: [DIS_USB_JTAG]\n"))
    assert [s.kind for s in kebab.steps] == [s.kind for s in snake.steps]
    assert [s.value for s in kebab.steps] == [s.value for s in snake.steps]
    # the model takes either spelling on its own too
    assert BurnEfuseStep.model_validate({"burn-efuse": {"X": 1}}).value == {"X": 1}


def test_errors_inside_a_kebab_step_name_line_and_column(tmp_path: Path) -> None:
    p = _write(tmp_path, "  - burn-key:\n      block: BLOCK_KEY0\n      purpos: HMAC_UP\n      data: '00'\n")
    with pytest.raises(InputError) as e:
        load_recipe(p)
    assert (e.value.location.line, e.value.location.column) == (7, 7)
    assert "purpose" in (e.value.hint or "")


def test_both_spellings_in_one_step_are_refused(tmp_path: Path) -> None:
    p = _write(tmp_path, "  - burn-efuse: {DIS_USB_JTAG: 1}\n    burn_efuse: {DIS_USB_JTAG: 1}\n")
    with pytest.raises(InputError) as e:
        load_recipe(p)
    assert e.value.location.line == 5
