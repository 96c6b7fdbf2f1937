"""The checked-in JSON Schema matches the models, and every example recipe matches the schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from fusebook.errors import InputError
from fusebook.recipe.loader import load_recipe
from fusebook.recipe.models import STEP_KINDS
from fusebook.recipe.schema import recipe_json_schema, schema_text

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schemas" / "recipe.schema.json"
RECIPES = sorted(p for p in (ROOT / "recipes").rglob("*.yaml") if not p.name.endswith(".test.yaml"))


def test_the_checked_in_schema_is_generated_from_the_models() -> None:
    assert SCHEMA_FILE.read_text() == schema_text(), (
        "schemas/recipe.schema.json is out of date: "
        "run `python -m fusebook.recipe.schema > schemas/recipe.schema.json`")


def test_the_schema_is_valid_draft_2020_12_and_names_every_step() -> None:
    schema = recipe_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    steps = schema["properties"]["steps"]["items"]["oneOf"]
    refs = {s["$ref"].rsplit("/", 1)[1] for s in steps}
    kinds = set()
    for name in refs:
        step = schema["$defs"][name]
        # a step key in either spelling (burn_efuse or espefuse's burn-efuse), exactly one
        spellings = [r["required"] for r in step["oneOf"]] if "oneOf" in step else [step["required"]]
        kinds |= {s[0] for s in spellings if "-" not in s[0]}
    assert kinds == set(STEP_KINDS)


def test_the_schema_takes_espefuse_step_names_once() -> None:
    v = validator(fragment=False)
    base = {"fusebook": 1, "name": "k", "chip": "esp32c3"}
    for steps in ([{"burn-efuse": {"DIS_USB_JTAG": 1}}], [{"write-protect-efuse": ["DIS_USB_JTAG"]}],
                  [{"burn-key": {"block": "BLOCK_KEY0", "purpose": "HMAC_UP", "file": "k.bin"}}]):
        assert not list(v.iter_errors({**base, "steps": steps})), steps
    both = [{"burn-efuse": {"DIS_USB_JTAG": 1}, "burn_efuse": {"DIS_USB_JTAG": 1}}]
    assert list(v.iter_errors({**base, "steps": both}))


def validator(fragment: bool) -> jsonschema.Draft202012Validator:
    schema = recipe_json_schema()
    if fragment:
        schema = {"$defs": schema["$defs"], "$ref": "#/$defs/IncludedFile"}
    return jsonschema.Draft202012Validator(schema)


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


@pytest.mark.parametrize("path", RECIPES, ids=[p.relative_to(ROOT).as_posix() for p in RECIPES])
def test_every_example_recipe_matches_the_schema(path: Path) -> None:
    data = load(path)
    errors = [e.message for e in validator(fragment="fusebook" not in data).iter_errors(data)]
    assert errors == []


@pytest.mark.parametrize(
    "doc,ok",
    [
        ({"steps": [{"burn_efuse": {"DIS_USB_JTAG": 1}}]}, True),
        ({"steps": [{"burn_block_data": {"block": "BLOCK3", "offset": "{{ vars.o }}", "data": "00"}}]}, True),
        ({"steps": [{"burn_key": "{{ vars.key_step }}"}]}, True),
        ({"steps": [{"write_protect_efuse": "DIS_USB_JTAG"}]}, True),
        ({"steps": [{"include": "common/x.yaml", "when": "vars.x"}]}, True),
        ({"steps": [{"burn_efuses": {"DIS_USB_JTAG": 1}}]}, False),
        ({"steps": [{"burn_efuse": {"A": 1}, "burn_bit": {"block": 3, "bits": [1]}}]}, False),
        ({"steps": [{"burn_block_data": {"block": "BLOCK3", "offset": "eight", "data": "00"}}]}, False),
        ({"steps": [{"burn_key": {"block": "BLOCK_KEY0", "purpose": "USER", "data": "00", "x": 1}}]}, False),
        ({"steps": [{"set_flash_voltage": "2.5V"}]}, False),
        ({"steps": [], "chip": "esp32c33"}, False),
        ({"steps": [], "fusebook": 2}, False),
        ({"steps": [], "vars": {"bad-name": 1}}, False),
    ],
)
def test_the_schema_agrees_with_the_loader_on_samples(tmp_path: Path, doc: dict[str, Any], ok: bool) -> None:
    full = {"fusebook": 1, "name": "t", "chip": "esp32c3", "vars": {"x": True}, **doc}
    assert validator(fragment=False).is_valid(full) is ok
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "x.yaml").write_text("steps: []\n")
    path = tmp_path / "recipe.yaml"
    path.write_text(json.dumps(full))  # JSON is YAML
    if ok:
        load_recipe(path)
    else:
        with pytest.raises(InputError):
            load_recipe(path)
