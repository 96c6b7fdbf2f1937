"""`fusebook check`: every failure of a batch reported, duplicates caught, CI formats."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from .conftest import fusebook

RECIPE = """\
fusebook: 1
name: batch
chip: esp32c3
inputs:
  macs: {file: macs.json}
unique: [CUSTOM_MAC]
steps:
  - burn_custom_mac: "{{ inputs.macs[index|string] }}"
  - burn_efuse: {SECURE_VERSION: "{{ 1 if index % 50 else 70000 }}"}
"""


def batch(tmp_path: Path, n: int, duplicates: dict[int, int]) -> Path:
    macs = {str(i): "02:00:00:00:" + ":".join(f"{b:02x}" for b in i.to_bytes(2, "big")) for i in range(1, n + 1)}
    for i, same_as in duplicates.items():
        macs[str(i)] = macs[str(same_as)]
    (tmp_path / "macs.json").write_text(json.dumps(macs))
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    return tmp_path / "recipe.yaml"


def test_all_failures_and_duplicates_are_reported(tmp_path: Path) -> None:
    recipe = batch(tmp_path, 300, {120: 7, 250: 7, 33: 34})
    junit = tmp_path / "junit.xml"
    r = fusebook("check", recipe, "--indices", "1-300", "--format", "json", "--junit", junit)
    assert r.code == 2, r.err  # SECURE_VERSION 70000 does not fit: invalid input wins
    body = r.json
    failed = sorted(f["index"] for f in body["failures"])
    assert failed == [50, 100, 150, 200, 250, 300]
    assert all("recipe.yaml:9" in (f["location"] or "") for f in body["failures"])
    dups = {tuple(d["indices"]) for d in body["duplicates"]}
    assert (7, 120) in dups and (33, 34) in dups  # 250 failed to plan, so it is not counted
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "300"
    failing = {tc.get("name") for tc in suite.iter("testcase") if tc.find("failure") is not None}
    assert {"index 50", "index 7", "index 120", "index 33", "index 34"} <= failing
    text = fusebook("check", recipe, "--indices", "1-300")
    assert "index 50: " in text.out and "duplicate CUSTOM_MAC" in text.out


def test_duplicates_alone_exit_3_and_a_clean_batch_exits_0(tmp_path: Path) -> None:
    recipe = batch(tmp_path, 120, {99: 98})
    r = fusebook("check", recipe, "--indices", "1-49,51-99", "--format", "json")
    assert r.code == 3 and r.json["failed"] == 0 and r.json["duplicates"]
    r = fusebook("check", recipe, "--indices", "1-49,51-98", "--format", "json")
    assert r.code == 0 and r.json["planned"] == 97


def test_bad_index_ranges_are_usage_errors(tmp_path: Path) -> None:
    recipe = batch(tmp_path, 10, {})
    for spec in ("5-1", "a-b", ""):
        assert fusebook("check", recipe, "--indices", spec).code == 2
