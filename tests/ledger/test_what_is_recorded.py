"""docs/ledger.md says exactly which applies leave a record, and lists the CSV export's columns."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from fusebook.cli.main import main
from fusebook.ledger.export import CSV_COLUMNS
from fusebook.ledger.store import Ledger

DOC = Path(__file__).resolve().parents[2] / "docs" / "ledger.md"

RECIPE = """\
fusebook: 1
name: jtag-off
chip: esp32c3
{extra}steps:
  - burn_efuse: {{DIS_USB_JTAG: 1}}
"""


def _run(*argv: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main([str(a) for a in argv])


def _outcomes(ledger: Path) -> list[str]:
    if not ledger.exists():
        return []
    store = Ledger(str(ledger))
    try:
        return [r.outcome for r in store.list(limit=None)]
    finally:
        store.close()


def _apply(recipe: Path, efuse: Path, ledger: Path, *more: str) -> int:
    return _run("apply", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", efuse, "--yes",
                "--ledger", ledger, *more)


def test_the_csv_columns_listed_in_the_doc_are_the_export_columns() -> None:
    block = re.search(r"<!-- csv-columns -->(.*?)<!-- /csv-columns -->", DOC.read_text(), re.S)
    assert block is not None, "docs/ledger.md lost its csv-columns list"
    assert tuple(re.findall(r"`([a-z0-9_]+)`", block.group(1))) == CSV_COLUMNS


@pytest.fixture
def unit(tmp_path: Path) -> tuple[Path, Path, Path]:
    recipe = tmp_path / "jtag-off.yaml"
    recipe.write_text(RECIPE.format(extra=""))
    return recipe, tmp_path / "chip.bin", tmp_path / "ledger.sqlite"


def test_a_burn_a_rerun_and_a_unit_refused_are_recorded(tmp_path: Path, unit: tuple[Path, Path, Path]) -> None:
    recipe, efuse, ledger = unit
    assert _apply(recipe, efuse, ledger) == 0
    assert _apply(recipe, efuse, ledger) == 0
    refusing = tmp_path / "refusing.yaml"
    refusing.write_text(RECIPE.format(extra='require:\n  - that: "not efuses.DIS_USB_JTAG"\n'))
    assert _apply(refusing, efuse, ledger) == 3
    assert _outcomes(ledger) == ["refused", "nothing-to-do", "ok"]
    store = Ledger(str(ledger))
    try:
        refused = store.list(limit=1)[0]
    finally:
        store.close()
    assert refused.plan_json is None and refused.after_token is None and refused.before_token


def test_applies_that_end_before_planning_the_unit_leave_no_record(tmp_path: Path,
                                                                   unit: tuple[Path, Path, Path]) -> None:
    recipe, efuse, ledger = unit
    assert _apply(recipe, efuse, ledger, "--no-ledger") == 0
    assert not ledger.exists()
    unknown_key = tmp_path / "unknown-key.yaml"
    unknown_key.write_text(RECIPE.format(extra="bogus: 1\n"))
    assert _apply(unknown_key, efuse, ledger) == 2
    missing_input = tmp_path / "missing-input.yaml"
    missing_input.write_text(RECIPE.format(extra="inputs:\n  m: {file: nope.json}\n"))
    assert _apply(missing_input, efuse, ledger) == 2
    assert _apply(recipe, efuse, ledger, "--index", "auto") == 2  # no range to allocate from
    assert _outcomes(ledger) == []


def test_a_field_the_chip_does_not_have_is_a_refused_unit(tmp_path: Path, unit: tuple[Path, Path, Path]) -> None:
    _, efuse, ledger = unit
    bad = tmp_path / "bad.yaml"
    bad.write_text(RECIPE.format(extra="").replace("DIS_USB_JTAG", "NO_SUCH_FIELD"))
    assert _apply(bad, efuse, ledger) == 2
    assert _outcomes(ledger) == ["refused"]


def test_a_refused_saved_plan_leaves_no_record(tmp_path: Path, unit: tuple[Path, Path, Path]) -> None:
    recipe, efuse, ledger = unit
    plan = tmp_path / "plan.json"
    assert _run("plan", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", efuse, "-o", plan) == 0
    other = tmp_path / "other.yaml"
    other.write_text(RECIPE.format(extra="").replace("DIS_USB_JTAG", "DIS_PAD_JTAG").replace("jtag-off", "other"))
    assert _apply(other, efuse, ledger) == 0
    assert _apply(plan, efuse, ledger) == 3  # the chip changed since the plan was made
    assert _outcomes(ledger) == ["ok"]
