"""The command line without recipes: fields, summary, snapshot, usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import fusebook


@pytest.mark.parametrize("chip", ["esp32", "esp32c3", "esp32s3"])
def test_fields_lists_blocks_fields_and_purposes(chip: str) -> None:
    r = fusebook("fields", chip, "--format", "json")
    assert r.code == 0, r.err
    data = r.json
    assert data["chip"] == chip
    names = {f["name"] for f in data["fields"]}
    assert {"WR_DIS", "RD_DIS"} <= names
    assert data["blocks"][0]["name"] == "BLOCK0"
    text = fusebook("fields", chip)
    assert "Blocks" in text.out and "Fields" in text.out


def test_unknown_chip_is_exit_2_with_a_suggestion() -> None:
    r = fusebook("fields", "esp32c33")
    assert r.code == 2
    assert "did you mean esp32c3?" in r.err
    assert "Traceback" not in r.err


def test_usage_error_is_exit_2_without_traceback() -> None:
    r = fusebook("plan")
    assert r.code == 2 and "Traceback" not in r.err and "error:" in r.err


def test_snapshot_forms_round_trip(tmp_path: Path) -> None:
    f = tmp_path / "c3.efuse"
    snap = tmp_path / "snap.json"
    assert fusebook("snapshot", "--virt", "--chip", "esp32c3", "--efuse-file", f, "-o", snap).code == 0
    token = fusebook("snapshot", "--virt", "--chip", "esp32c3", "--as", "token", "--format", "json").json["token"]
    for spec in (str(snap), token, "blank"):
        r = fusebook("summary", "--snapshot", spec, "--chip", "esp32c3", "--format", "json")
        assert r.code == 0, r.err
        assert r.json["chip"] == "esp32c3"


def test_json_errors_carry_kind_and_exit_code() -> None:
    r = fusebook("summary", "--snapshot", "/nonexistent.json", "--format", "json")
    assert r.code == 2
    err = r.json["error"]
    assert err["exit_code"] == 2 and err["kind"] == "invalid-input"


def test_schema_command_prints_the_checked_in_schema() -> None:
    from .conftest import ROOT

    r = fusebook("schema")
    assert r.code == 0
    assert r.out == (ROOT / "schemas" / "recipe.schema.json").read_text()
