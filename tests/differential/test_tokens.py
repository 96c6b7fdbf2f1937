"""espefuse's tokens, from both tools, for every chip.

- EFSW: for every burn case (tests/differential/cases_all.py, starting states included),
  fusebook's staged-write token of the plan equals what espefuse prints with
  `--show-token` before it burns the same steps;
- EFSR: after the burn, fusebook's token of the chip equals `espefuse dump --format token`.

One test per chip runs all of that chip's cases, so espefuse's tables load once per chip.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from espefuse import init_commands

from fusebook import api
from fusebook.chips.models import ChipDef
from fusebook.drivers.controller import controller_for
from fusebook.virtual.chip import VirtualChip

from ..api_burn import write_recipe
from .cases_all import ALL_CHIPS, ChipCase, espefuse_actions, key_bytes
from .espefuse_tables import memoised_tables
from .test_all_chips import CASES, chip_for, prepare

_SHOWN = re.compile(r"eFuse token for burning:\s*\n(EFSW:\S+)")


@pytest.fixture(scope="module", autouse=True)
def _fast_espefuse_tables() -> Iterator[None]:
    yield from memoised_tables()


def _espefuse_shown_token(case, path: Path) -> str:
    """Burn the case with espefuse, `--show-token` on; the EFSW token it printed."""
    chip = chip_for(case.chip, path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), init_commands(
        chip=case.chip, virt=True, virt_efuse_file=str(path), do_not_confirm=True
    ) as cmds:
        cmds.use_batch_mode()
        espefuse_actions(chip, case.steps)(cmds)
        cmds.efuses.show_token = True  # what the --show-token option sets
        cmds.burn_all()
    found = _SHOWN.search(out.getvalue())
    assert found, out.getvalue()[-2000:]
    return found.group(1)


def _espefuse_dump_token(chip_name: str, path: Path) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), init_commands(chip=chip_name, virt=True,
                                                        virt_efuse_file=str(path)) as cmds:
        cmds.dump(format="token")
    return next(line for line in out.getvalue().splitlines() if line.startswith("EFSR:"))


def _like_espefuse(chip: ChipDef) -> dict[str, int]:
    """The revision registers as espefuse's emulator answers them: every bit set.

    Its ESP32 always reports APB_CTL_DATE bit 31 (v3 silicon), so a v3 eFuse pattern reads
    as v3 there; fusebook's virtual chip answers what it is given.
    """
    return {r.register: r.mask << r.shift for r in chip.revision_registers}


@pytest.mark.parametrize("chip_name", ALL_CHIPS)
def test_tokens_equal_espefuse(chip_name: str, tmp_path: Path) -> None:
    cases = [c for c in CASES if c.chip == chip_name]
    assert cases
    for n, case in enumerate(cases):
        ours, theirs = tmp_path / f"{n}-fusebook.bin", tmp_path / f"{n}-espefuse.bin"
        prepare(case, ours, theirs)
        loaded = api.load_recipe(write_recipe(tmp_path / f"{n}-recipe", case.chip, case.steps))
        with api.connect(api.ConnectOptions(virt=True, chip=case.chip, efuse_file=ours)) as session:
            plan = api.plan(loaded, session.read_image()).plan
        assert plan.writes, case.id

        assert api.efsw_token(plan, allow_secrets=True) == _espefuse_shown_token(case, theirs), case.id

        after = chip_for(case.chip, theirs)
        read = controller_for(VirtualChip(after, theirs, identity=_like_espefuse(after)), after).read_image()
        assert api.efsr_token(read) == _espefuse_dump_token(case.chip, theirs), case.id


def _espefuse_burns(chip_name: str, path: Path, steps: list[dict]) -> None:
    """Burn `steps` into the espefuse file `path` in one batch of their own."""
    with contextlib.redirect_stdout(io.StringIO()), init_commands(
        chip=chip_name, virt=True, virt_efuse_file=str(path), do_not_confirm=True
    ) as cmds:
        cmds.use_batch_mode()
        espefuse_actions(chip_for(chip_name, path), steps)(cmds)
        cmds.burn_all()


@pytest.mark.parametrize("setup", [[{"burn_efuse": {"CODING_SCHEME": 1}}], []], ids=["3/4", "none"])
def test_block_data_already_burned_is_staged_again_as_espefuse_stages_it(
    setup: list[dict], tmp_path: Path
) -> None:
    """ESP32 BLOCK3's bytes 6..11 are burned, then bytes 6..17 starting with the same 6.

    Under 3/4 coding espefuse says it leaves the burned 6-byte group out, yet the token it
    prints still holds it: both tools stage the whole value.
    """
    burned, more = key_bytes(7, 6), key_bytes(8, 6)
    ours, theirs = tmp_path / "fusebook.bin", tmp_path / "espefuse.bin"
    prepare(ChipCase("start", "esp32", []), ours, theirs)
    for steps in (setup, [{"burn_block_data": {"block": "BLOCK3", "offset": 6, "data": burned.hex()}}]):
        if steps:
            _espefuse_burns("esp32", theirs, steps)
    shutil.copy(theirs, ours)
    case = ChipCase("again", "esp32", [
        {"burn_block_data": {"block": "BLOCK3", "offset": 6, "data": (burned + more).hex()}}])
    loaded = api.load_recipe(write_recipe(tmp_path / "recipe", "esp32", case.steps))
    with api.connect(api.ConnectOptions(virt=True, chip="esp32", efuse_file=ours)) as session:
        plan = api.plan(loaded, session.read_image()).plan
    assert plan.writes

    assert api.efsw_token(plan) == _espefuse_shown_token(case, theirs)
