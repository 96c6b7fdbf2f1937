"""The recipe test JSON Schema, generated from the models (checked in as schemas/recipe-test.schema.json).

Regenerate the checked-in file with `fusebook schema --test > schemas/recipe-test.schema.json`
(or `make schema`); a test keeps it current.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import models_json_schema

from fusebook.recipe.cases import CaseFile, CaseSpec

SCHEMA_ID = "https://fusebook.invalid/schemas/recipe-test.schema.json"


def recipe_test_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a test file; `$defs/CaseSpec` is one case of a recipe's `tests:`."""
    _, combined = models_json_schema([(CaseFile, "validation"), (CaseSpec, "validation")],
                                     ref_template="#/$defs/{model}")
    defs = combined["$defs"]
    top = dict(defs.pop("CaseFile"))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **top, "$defs": defs}


def schema_text() -> str:
    """The schema as the checked-in file holds it: indented, keys sorted, final newline."""
    return json.dumps(recipe_test_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(schema_text())
