"""`apply --index auto` through the command line and the API, against served virtual chips."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from fusebook import api
from fusebook.chips.loader import load_chip
from fusebook.errors import Aborted, InputError
from fusebook.ledger import Ledger
from fusebook.ledger.errors import IndexRefused
from fusebook.virtual.chip import VirtualChip, open_virtual
from fusebook.virtual.server import VirtualRomServer

from .conftest import fusebook

RECIPE = """\
fusebook: 1
name: auto-mac
chip: esp32c3
indices: "1-3"
unique: [CUSTOM_MAC]
steps:
  - burn_custom_mac: "02:00:00:00:00:{{ '%02x' % index }}"
"""
CHIP = load_chip("esp32c3")


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "auto.yaml"
    path.write_text(RECIPE)
    return path


@pytest.fixture
def units(tmp_path: Path) -> Iterator[list[VirtualRomServer]]:
    """Five served chips, factory MACs 7c:df:a1:00:00:01 .. 05."""
    with ExitStack() as stack:
        yield [stack.enter_context(VirtualRomServer(
            open_virtual(CHIP, tmp_path / f"u{n}.efuse", factory_mac=f"7c:df:a1:00:00:{n:02x}"), CHIP))
            for n in range(1, 6)]


def _apply(recipe: Path, server: VirtualRomServer, ledger: Path, *extra: str):
    return fusebook("apply", recipe, "--port", server.url, "--before", "no-reset", "--yes",
                    "--ledger", ledger, "--index", "auto", *extra, "--format", "json")


def test_units_are_numbered_in_turn_refused_when_done_and_when_the_range_is_used_up(
        recipe: Path, units: list[VirtualRomServer], tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    for n, server in enumerate(units[:3], start=1):
        r = _apply(recipe, server, ledger)
        assert r.code == 0, r.err
        assert (r.json["index"], r.json["outcome"]) == (n, "burned")
    summary = fusebook("summary", "CUSTOM_MAC", "--port", units[1].url, "--before", "no-reset",
                       "--format", "json").json
    assert summary["fields"][0]["value"] == "02:00:00:00:00:02"

    again = _apply(recipe, units[0], ledger)
    assert again.code == 3 and "already burned as index 1" in again.json["error"]["message"]
    full = _apply(recipe, units[3], ledger)
    assert full.code == 3 and "no index of 1-3 is left" in full.json["error"]["message"]
    more = _apply(recipe, units[3], ledger, "--indices", "10-20")
    assert (more.code, more.json["index"]) == (0, 10), more.out

    listed = fusebook("ledger", "list", "--allocations", "--ledger", ledger, "--format", "json")
    assert listed.code == 0
    assert [(a["index"], a["factory_mac"], a["state"]) for a in listed.json["allocations"]] == [
        (10, "7c:df:a1:00:00:04", "ok"), (3, "7c:df:a1:00:00:03", "ok"),
        (2, "7c:df:a1:00:00:02", "ok"), (1, "7c:df:a1:00:00:01", "ok")]
    text = fusebook("ledger", "list", "--allocations", "--ledger", ledger)
    assert "factory MAC" in text.out and "7c:df:a1:00:00:04" in text.out
    records = fusebook("ledger", "list", "--ledger", ledger, "--format", "json").json["records"]
    refusals = [r for r in records if r["outcome"] == "refused"]
    assert [(r["factory_mac"], r["index"], r["exit_code"]) for r in refusals] == [
        ("7c:df:a1:00:00:04", None, 3), ("7c:df:a1:00:00:01", 1, 3)]


def test_a_unit_that_did_not_finish_gets_its_index_back(recipe: Path, units: list[VirtualRomServer],
                                                         tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    with Ledger(ledger) as opened, api.connect(api.ConnectOptions(port=units[0].url, before="no-reset")) as s:
        with pytest.raises(Aborted):  # the operator said no at the prompt: allocated, nothing burned
            api.apply(api.load_recipe(recipe), s, api.AUTO_INDEX, ledger=opened, confirm=lambda plan: False)
    assert _apply(recipe, units[1], ledger).json["index"] == 2
    again = _apply(recipe, units[0], ledger)
    assert again.code == 0, again.out
    assert (again.json["index"], again.json["outcome"]) == (1, "burned")


def test_stations_on_one_postgresql_ledger_number_units_once(recipe: Path, units: list[VirtualRomServer],
                                                             postgres: Any) -> None:
    url = postgres.create_ledger()
    got = [_apply(recipe, server, url) for server in units[:2]]
    assert [(r.code, r.json["index"]) for r in got] == [(0, 1), (0, 2)], got[0].err
    again = _apply(recipe, units[1], url)
    assert again.code == 3 and "already burned as index 2" in again.json["error"]["message"]
    listed = fusebook("ledger", "list", "--allocations", "--ledger", url, "--format", "json").json
    assert [(a["index"], a["state"]) for a in listed["allocations"]] == [(2, "ok"), (1, "ok")]


def test_auto_needs_a_ledger_a_range_and_a_chip_with_an_identity(
        recipe: Path, units: list[VirtualRomServer], tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    r = fusebook("apply", recipe, "--port", units[0].url, "--before", "no-reset", "--yes", "--no-ledger",
                 "--index", "auto")
    assert r.code == 2 and "needs the ledger" in r.err and "hint:" in r.err
    bare = tmp_path / "bare.yaml"
    bare.write_text(RECIPE.replace('indices: "1-3"\n', ""))
    r = _apply(bare, units[0], ledger)
    assert r.code == 2 and "declares no `indices:`" in r.json["error"]["message"]
    assert "--indices" in r.json["error"]["hint"]
    r = _apply(bare, units[0], ledger, "--indices", "3-x")
    assert r.code == 2 and "'3-x' is not N or N-M" in r.json["error"]["message"]
    with VirtualRomServer(VirtualChip(CHIP), CHIP) as blank:  # factory MAC all zeros
        r = _apply(recipe, blank, ledger)
    assert r.code == 3 and "without an identity" in r.json["error"]["message"]
    with Ledger(ledger) as opened:
        assert opened.allocations() == []
    r = fusebook("plan", recipe, "--snapshot", "blank", "--chip", "esp32c3", "--index", "auto")
    assert r.code == 2


def test_the_api_allocates_and_reports_the_index(recipe: Path, units: list[VirtualRomServer],
                                                 tmp_path: Path) -> None:
    loaded = api.load_recipe(recipe)
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        with pytest.raises(InputError, match="needs the ledger"):
            api.apply(loaded, api.connect(api.ConnectOptions(port=units[0].url, before="no-reset")),
                      api.AUTO_INDEX)
        indices, heard = [], []
        for server in units[:2]:
            with api.connect(api.ConnectOptions(port=server.url, before="no-reset")) as session:
                outcome = api.apply(loaded, session, api.AUTO_INDEX, ledger=ledger, indices="7-9",
                                    on_index=heard.append)
            indices.append(outcome.index)
            assert outcome.burned and ledger.get(outcome.record_id or 0).index == outcome.index  # type: ignore[union-attr]
        assert indices == heard == [7, 8]
        with api.connect(api.ConnectOptions(port=units[0].url, before="no-reset")) as session:
            with pytest.raises(IndexRefused) as caught:
                api.apply(loaded, session, api.AUTO_INDEX, ledger=ledger, indices="7-9")
        assert caught.value.index == 7 and caught.value.exit_code == 3
        with api.connect(api.ConnectOptions(port=units[2].url, before="no-reset")) as session:
            fixed = api.apply(loaded, session, 3, ledger=ledger)
        assert fixed.index == 3 and ledger.allocations(chip_mac="7c:df:a1:00:00:03") == []


def test_check_walks_the_recipes_declared_range_by_default(recipe: Path, tmp_path: Path) -> None:
    r = fusebook("check", recipe, "--format", "json")
    assert r.code == 0, r.err
    assert (r.json["total"], r.json["planned"]) == (3, 3)
    bare = tmp_path / "bare.yaml"
    bare.write_text(RECIPE.replace('indices: "1-3"\n', ""))
    r = fusebook("check", bare)
    assert r.code == 2 and "--indices" in r.err


@pytest.mark.parametrize("spec, words", [("5-1", "runs backwards"), ("1-x", "is not N or N-M"), ("-3", "")])
def test_a_malformed_range_in_the_recipe_names_its_place(tmp_path: Path, spec: str, words: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(RECIPE.replace('"1-3"', f'"{spec}"'))
    r = fusebook("validate", bad)
    assert r.code == 2 and f"{bad}:4:10: error: `indices`:" in r.err and words in r.err


@pytest.mark.parametrize("command", ["plan", "render"])
def test_a_dry_run_refuses_auto_and_says_which_number_to_give(recipe: Path, command: str) -> None:
    """Only a burn allocates; a dry run with `--index auto` is told so, not "not an integer"."""
    r = fusebook(command, str(recipe), "--chip", "esp32c3", "--snapshot", "blank", "--index", "auto")
    assert r.code == 2
    assert "allocated by the ledger when a unit is burned (apply)" in r.err
    assert "--index 7" in r.err and "Traceback" not in r.err
    bad = fusebook(command, str(recipe), "--chip", "esp32c3", "--snapshot", "blank", "--index", "x")
    assert bad.code == 2 and "invalid integer value: 'x'" in bad.err
