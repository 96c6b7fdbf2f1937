"""Acceptance form: `fusebook apply --virt --chip C --efuse-file F --yes` against espefuse's
own virtual controller from the same starting file; both files read back by espefuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ..api_burn import same_start
from ..differential.cases import CASES, Case
from ..differential.espefuse_oracle import espefuse_blocks, espefuse_burn
from .conftest import fusebook


def write_recipe(path: Path, case: Case) -> Path:
    recipe = {"fusebook": 1, "name": case.id, "chip": case.chip, "steps": case.steps}
    with open(path, "w") as f:
        YAML().dump(recipe, f)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_apply_matches_espefuse(case: Case, tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "recipe.yaml", case)
    ours, theirs = tmp_path / "ours.efuse", tmp_path / "theirs.efuse"
    same_start(case.chip, ours, theirs)
    r = fusebook("apply", recipe, "--virt", "--chip", case.chip, "--efuse-file", ours, "--yes",
                 "--no-ledger")
    assert r.code == 0, r.err
    espefuse_burn(case.chip, theirs, case.espefuse)
    assert espefuse_blocks(case.chip, ours) == espefuse_blocks(case.chip, theirs)
    # re-applying the finished recipe burns nothing
    before = ours.read_bytes()
    r = fusebook("apply", recipe, "--virt", "--chip", case.chip, "--efuse-file", ours, "--yes",
                 "--no-ledger", "--format", "json")
    assert r.code == 0, r.err
    assert r.json["outcome"] == "nothing-to-do"
    assert ours.read_bytes() == before


def test_fusebook_reads_what_espefuse_burned(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.efuse"
    espefuse_burn("esp32c3", theirs, lambda e: (e.burn_custom_mac(b"\x02\x11\x22\x33\x44\x55"),
                                                e.burn_efuse({"SECURE_VERSION": "5"})))
    r = fusebook("summary", "--snapshot", theirs, "--chip", "esp32c3", "--format", "json")
    values = {f["name"]: f["value"] for f in r.json["fields"]}
    assert values["CUSTOM_MAC"] == "02:11:22:33:44:55"
    assert values["SECURE_VERSION"] == 5
