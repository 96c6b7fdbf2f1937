"""The recipe JSON Schema, generated from the models (and checked in as schemas/recipe.schema.json).

Editors use it to complete and check recipes as they are typed (e.g. with a
`# yaml-language-server: $schema=...` comment). Fragments pulled in by `include:` are
described by `$defs/IncludedFile` in the same document. Regenerate the checked-in file
with `python -m fusebook.recipe.schema > schemas/recipe.schema.json` (or `make schema`).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from fusebook.recipe.models import IncludedFile, Recipe

SCHEMA_ID = "https://fusebook.invalid/schemas/recipe.schema.json"


def document_schema(top: type[BaseModel], also: type[BaseModel], schema_id: str) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) whose root is `top`, with `also` (a part a file may
    hold on its own: a fragment, one test case) under `$defs`."""
    _, combined = models_json_schema([(top, "validation"), (also, "validation")],
                                     ref_template="#/$defs/{model}")
    defs = combined["$defs"]
    root = dict(defs.pop(top.__name__))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id, **root, "$defs": defs}


def as_text(schema: dict[str, Any]) -> str:
    """A schema as the checked-in files hold it: indented, keys sorted, final newline."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def recipe_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a recipe file; `$defs/IncludedFile` is a fragment."""
    return document_schema(Recipe, IncludedFile, SCHEMA_ID)


def schema_text() -> str:
    """The schema as the checked-in file holds it: indented, keys sorted, final newline."""
    return as_text(recipe_json_schema())


if __name__ == "__main__":
    import sys

    sys.stdout.write(schema_text())
