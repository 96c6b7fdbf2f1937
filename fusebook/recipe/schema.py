"""The recipe JSON Schema, generated from the models (and checked in as schemas/recipe.schema.json).

Editors use it to complete and check recipes as they are typed (e.g. with a
`# yaml-language-server: $schema=...` comment). Fragments pulled in by `include:` are
described by `$defs/IncludedFile` in the same document. Regenerate the checked-in file
with `python -m fusebook.recipe.schema > schemas/recipe.schema.json` (or `make schema`).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import models_json_schema

from fusebook.recipe.models import IncludedFile, Recipe

SCHEMA_ID = "https://fusebook.invalid/schemas/recipe.schema.json"


def recipe_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a recipe file; `$defs/IncludedFile` is a fragment."""
    _, combined = models_json_schema([(Recipe, "validation"), (IncludedFile, "validation")],
                                     ref_template="#/$defs/{model}")
    defs = combined["$defs"]
    top = dict(defs.pop("Recipe"))
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **top,
        "$defs": defs,
    }
    return schema


def schema_text() -> str:
    """The schema as the checked-in file holds it: indented, keys sorted, final newline."""
    return json.dumps(recipe_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(schema_text())
