"""A burn cut by an exception fusebook does not own (Ctrl-C without a handler) is recorded by what was sent.

`commit` fills in the caller's progress as it goes, so `apply` knows, without the exception
carrying anything, whether a program had been sent: "partial" if so, "aborted" if not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fusebook import api
from fusebook.commit import ApplyResult, CommitEvent, commit
from fusebook.errors import BurnError, FusebookError
from fusebook.ledger.store import Ledger

RECIPE = """\
fusebook: 1
name: two-blocks
chip: esp32c3
steps:
  - burn_efuse: {DIS_USB_JTAG: 1}
  - burn_block_data: {block: BLOCK_USR_DATA, data: "0x0102"}
"""


def _cut_at(kind: str, tmp_path: Path) -> Ledger:
    recipe = tmp_path / "two.yaml"
    recipe.write_text(RECIPE)
    ledger = Ledger(str(tmp_path / "ledger.sqlite"))

    def on_event(event: CommitEvent) -> None:
        if event.kind == kind:
            raise KeyboardInterrupt

    with api.connect(api.ConnectOptions(virt=True, chip="esp32c3")) as session, pytest.raises(KeyboardInterrupt):
        api.apply(api.load_recipe(recipe), session, ledger=ledger, on_event=on_event)
    return ledger


def test_cut_after_a_verified_block_is_partial_and_says_what_is_done(tmp_path: Path) -> None:
    with _cut_at("verified", tmp_path) as ledger:
        (record,) = ledger.list()
    assert record.outcome == "partial"
    assert record.error is not None and "KeyboardInterrupt during the burn" in record.error
    assert "programmed and verified: BLOCK_USR_DATA (data)" in record.error
    assert "not done: BLOCK0 (data)" in record.error


def test_cut_before_the_first_program_is_aborted(tmp_path: Path) -> None:
    with _cut_at("start", tmp_path) as ledger:
        (record,) = ledger.list()
    assert record.outcome == "aborted"
    assert record.error is not None and "before the first program command" in record.error


def test_a_burn_error_carries_the_progress_as_a_typed_field() -> None:
    assert FusebookError("outside a burn").progress is None
    assert "progress" in FusebookError.__annotations__
    mine = ApplyResult()
    err = BurnError("x")
    err.progress = mine
    assert err.progress is mine
    assert commit.__kwdefaults__ is not None and "progress" in commit.__kwdefaults__
