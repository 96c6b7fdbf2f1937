"""`include`: a recipe fragment's steps in place of this one (expanded when loading).

An include never reaches the planner: `fusebook.recipe.loader` replaces it by the
fragment's steps, each keeping its own file:line:column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from fusebook.recipe.types import NAMES_ONLY, Identifier, StrictModel, no_entries
from fusebook.steps.base import StepBase, StepKind


class IncludeArgs(StrictModel):
    file: str = Field(description="a recipe fragment, relative to this file, inside the recipe's directory")
    vars: dict[Identifier, Any] = Field(
        default_factory=no_entries, description="values for the vars the fragment declares",
        json_schema_extra=NAMES_ONLY)


@dataclass(frozen=True)
class _PathOrArgs:
    """`include: path` is short for `include: {file: path}`."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        inner = handler.generate_schema(IncludeArgs)

        def wrap(value: Any, validate: core_schema.ValidatorFunctionWrapHandler) -> Any:
            return validate({"file": value} if isinstance(value, str) else value)

        return core_schema.no_info_wrap_validator_function(wrap, inner)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [{"type": "string"}, handler(schema)]}


class IncludeStep(StepBase):
    kind: ClassVar[str] = "include"
    include: Annotated[IncludeArgs, _PathOrArgs()]


KIND = StepKind("include", IncludeStep, args_model=IncludeArgs, planned=False)
