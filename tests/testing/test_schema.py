"""The checked-in recipe test schema matches the models, and the example test files match it."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from fusebook.testing.schema import recipe_test_json_schema, schema_text

from ..e2e.conftest import fusebook

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schemas" / "recipe-test.schema.json"
TEST_FILES = sorted((ROOT / "recipes").rglob("*.test.yaml"))


def test_the_checked_in_schema_is_generated_from_the_models() -> None:
    assert SCHEMA_FILE.read_text() == schema_text(), (
        "schemas/recipe-test.schema.json is out of date: "
        "run `fusebook schema --test > schemas/recipe-test.schema.json` (or `make schema`)")


def test_the_schema_command_prints_it() -> None:
    r = fusebook("schema", "--test")
    assert r.code == 0 and r.out == SCHEMA_FILE.read_text()


def test_the_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(recipe_test_json_schema())


def test_there_are_example_test_files() -> None:
    assert len(TEST_FILES) >= 3


@pytest.mark.parametrize("path", TEST_FILES, ids=[p.name for p in TEST_FILES])
def test_every_example_test_file_matches_the_schema(path: Path) -> None:
    data = YAML(typ="safe").load(path.read_text())
    validator = jsonschema.Draft202012Validator(recipe_test_json_schema())
    assert [e.message for e in validator.iter_errors(data)] == []


@pytest.mark.parametrize("doc", [
    {"fusebook": 1, "cases": []},
    {"fusebook": 1, "cases": [{"id": "a", "expct": {}}]},
    {"fusebook": 1, "cases": [{"id": "a b"}]},
    {"fusebook": 1, "cases": [{"id": "a", "expect": {"exit": "fine"}}]},
    {"fusebook": 1, "cases": [{"id": "a", "mode": "burn"}]},
])
def test_the_schema_refuses_what_the_loader_refuses(tmp_path: Path, doc: dict) -> None:
    import json

    assert not jsonschema.Draft202012Validator(recipe_test_json_schema()).is_valid(doc)
    (tmp_path / "r.yaml").write_text((ROOT / "recipes" / "usb-jtag-lockdown.yaml").read_text())
    path = tmp_path / "r.test.yaml"
    path.write_text(json.dumps(doc))
    assert fusebook("test", path).code == 2


def test_the_recipe_schema_describes_a_recipes_own_tests() -> None:
    from fusebook.recipe.schema import recipe_json_schema

    schema = recipe_json_schema()
    assert schema["properties"]["tests"]["items"] == {"$ref": "#/$defs/CaseSpec"}
