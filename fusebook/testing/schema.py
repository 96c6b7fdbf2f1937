"""The recipe test JSON Schema, generated from the models (checked in as schemas/recipe-test.schema.json).

Regenerate the checked-in file with `fusebook schema --test > schemas/recipe-test.schema.json`
(or `make schema`); a test keeps it current.
"""

from __future__ import annotations

from typing import Any

from fusebook.recipe.cases import CaseFile, CaseSpec
from fusebook.recipe.schema import as_text, document_schema

SCHEMA_ID = "https://fusebook.invalid/schemas/recipe-test.schema.json"


def recipe_test_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a test file; `$defs/CaseSpec` is one case of a recipe's `tests:`."""
    return document_schema(CaseFile, CaseSpec, SCHEMA_ID)


def schema_text() -> str:
    """The schema as the checked-in file holds it: indented, keys sorted, final newline."""
    return as_text(recipe_test_json_schema())


if __name__ == "__main__":
    import sys

    sys.stdout.write(schema_text())
