"""A ledger record says exactly what produced it: every file the plan read, and one digest over them.

The recipe, its includes, its inputs, its steps' key files (by fingerprint, never their
bytes) and its custom eFuse table are each listed with a digest; changing any one of them
changes the record's `recipe_sha256`. Runs against both stores.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from fusebook import api
from fusebook.ledger.store import Ledger
from fusebook.secret import Secret

KEY = bytes(range(0x40, 0x60))

RECIPE = """\
fusebook: 1
name: provenance
chip: esp32c3
extend_efuse_table: tables/custom.csv
inputs:
  macs: {file: macs.json}
steps:
  - include: common/jtag.yaml
  - burn_custom_mac: "{{ inputs.macs[index|string] }}"
  - burn_efuse: {USER_SERIAL: 5}
  - burn_key: {block: BLOCK_KEY0, purpose: XTS_AES_128_KEY, file: keys/fe.bin}
"""

FILES = {
    "common/jtag.yaml": "steps:\n  - burn_efuse: {DIS_PAD_JTAG: 1}\n",
    "macs.json": '{"1": "02:00:00:00:00:01"}',
    "tables/custom.csv": "USER_SERIAL, EFUSE_BLK3, 0, 32, unit serial\n",
}


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "fe.bin").write_bytes(KEY)
    return tmp_path / "recipe.yaml"


def _record(recipe: Path, target: str) -> Any:
    """Burn a new virtual chip with `recipe` and return its ledger record."""
    with Ledger(target) as ledger, api.connect(api.ConnectOptions(virt=True, chip="esp32c3")) as session:
        outcome = api.apply(api.load_recipe(recipe), session, 1, ledger=ledger)
        assert outcome.record_id is not None
        return ledger.get(outcome.record_id)


def test_the_record_lists_every_file_the_plan_read(tmp_path: Path, ledger_target: str) -> None:
    record = _record(_folder(tmp_path), ledger_target)
    listed = {f["path"]: f["digest"] for f in record.recipe_files}
    sha = {name: "sha256:" + hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
           for name in ("recipe.yaml", *FILES)}
    assert listed == {**sha, "keys/fe.bin": Secret(KEY).fingerprint}
    body = [dict(f) for f in record.recipe_files]
    assert record.recipe_sha256 == hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert record.to_json()["recipe_files"] == body


@pytest.mark.parametrize("changed", ["common/jtag.yaml", "macs.json", "keys/fe.bin", "tables/custom.csv"])
def test_changing_any_file_the_plan_read_changes_the_digest(tmp_path: Path, ledger_target: str,
                                                            changed: str) -> None:
    recipe = _folder(tmp_path)
    first = _record(recipe, ledger_target)
    edits = {
        "common/jtag.yaml": lambda p: p.write_text(p.read_text() + "# reviewed\n"),
        "macs.json": lambda p: p.write_text('{"1": "02:00:00:00:00:01", "2": "02:00:00:00:00:02"}'),
        "keys/fe.bin": lambda p: p.write_bytes(KEY[::-1]),
        "tables/custom.csv": lambda p: p.write_text(p.read_text() + "# reviewed\n"),
    }
    edits[changed](tmp_path / changed)
    second = _record(recipe, ledger_target)
    assert second.recipe_sha256 != first.recipe_sha256
    before = {f["path"]: f["digest"] for f in first.recipe_files}
    after = {f["path"]: f["digest"] for f in second.recipe_files}
    assert [p for p in before if before[p] != after[p]] == [changed]


def test_no_key_bytes_are_stored(tmp_path: Path) -> None:
    target = tmp_path / "ledger.sqlite"
    record = _record(_folder(tmp_path), str(target))
    stored = target.read_bytes() + (tmp_path / "ledger.sqlite-wal").read_bytes() \
        if (tmp_path / "ledger.sqlite-wal").exists() else target.read_bytes()
    assert KEY not in stored and KEY.hex().encode() not in stored
    assert hashlib.sha256(KEY).hexdigest().encode() not in stored  # the fingerprint is salted
    assert json.dumps(record.to_json()).find(KEY.hex()) == -1


def test_a_ledger_entry_that_is_not_a_digest_is_refused(ledger_target: str) -> None:
    from tests.ledger.units import unit

    with Ledger(ledger_target) as ledger:
        bad: list[Any] = [[{"path": "keys/fe.bin", "digest": KEY.hex()}],
                          [{"path": "k", "digest": "sha256:00", "data": "x"}], "recipe.yaml"]
        for files in bad:
            with pytest.raises((TypeError, ValueError)):
                ledger.begin(**unit(1), recipe_files=files)
        assert ledger.list() == []


def test_ledger_list_and_show_print_the_digest_and_the_files(tmp_path: Path, ledger_target: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from fusebook.cli.main import main

    record = _record(_folder(tmp_path), ledger_target)
    capsys.readouterr()
    assert main(["ledger", "list", "--ledger", ledger_target]) == 0
    listed = capsys.readouterr().out
    assert "recipe digest" in listed and record.recipe_sha256[:12] in listed
    assert main(["ledger", "show", str(record.id), "--ledger", ledger_target]) == 0
    shown = capsys.readouterr().out.splitlines()
    files = shown[shown.index("recipe_files:") + 1:][:len(record.recipe_files)]
    assert files == [f"  {f['path']}  {f['digest']}" for f in record.recipe_files]
    assert f"  keys/fe.bin  {Secret(KEY).fingerprint}" in files
    assert main(["ledger", "show", str(record.id), "--ledger", ledger_target, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["recipe_files"] == [dict(f) for f in record.recipe_files]
