"""The recipe format, version 1, as pydantic models (and from them, the JSON Schema).

The models describe a recipe *as written*: unknown keys are refused, every value is of
its kind or a template (see `types`). What the models do not hold is where things came
from; the loader attaches that (`Recipe.sources`) so errors and rendered steps carry
file:line:column, including for steps pulled in by `include:`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from fusebook.chips.loader import chip_names
from fusebook.errors import FusebookError, did_you_mean
from fusebook.recipe.cases import CaseSpec
from fusebook.recipe.sources import RecipeSources
from fusebook.recipe.types import (
    NAMES_ONLY,
    Expression,
    Identifier,
    Name,
    StrictModel,
    Text,
    no_entries,
    no_items,
)
from fusebook.steps import STEPS
from fusebook.steps.base import StepBase, kebab

#: Recipe names: what the ledger and plans call the recipe.
RECIPE_NAME = r"^[a-z0-9_-]+$"

#: Input formats and the file extensions that imply them.
INPUT_FORMATS = ("json", "yaml", "csv", "binary", "hex")
FORMAT_BY_EXTENSION = {
    ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".csv": "csv",
    ".bin": "binary", ".key": "binary", ".der": "binary", ".pem": "binary", ".dat": "binary",
    ".hex": "hex",
}


# -- chips -------------------------------------------------------------------------------
def _chip_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PydanticCustomError("fusebook", "expected a chip name such as esp32c3")
    key = value.strip().lower().replace("-", "")
    known = chip_names()
    if key not in known:
        hint = did_you_mean(key, list(known)) or "known chips: " + ", ".join(known)
        raise PydanticCustomError("fusebook", "unknown chip '{chip}' ({hint})",
                                  {"chip": value, "hint": hint})
    return key


@dataclass(frozen=True)
class _ChipNames:
    """One chip name or a non-empty list of them, normalised to espefuse's spelling."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        def check(value: Any) -> Any:
            if isinstance(value, list):
                if not value:
                    raise PydanticCustomError("fusebook", "name at least one chip")
                return [_chip_name(v) for v in value]
            return _chip_name(value)

        return core_schema.no_info_plain_validator_function(check)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        one = {"type": "string", "enum": list(chip_names())}
        return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1}]}


ChipNames = Annotated[str | list[str], _ChipNames()]


# -- inputs, assertions ------------------------------------------------------------------
class InputSpec(StrictModel):
    """A named data file, read once and offered to templates as `inputs.NAME`."""

    file: str = Field(description="path relative to the recipe file")
    format: Literal["json", "yaml", "csv", "binary", "hex"] | None = Field(
        None, description="default: from the file's extension (.hex: hex text read as bytes)")
    key: str | None = Field(
        None, description="CSV only: the column whose value keys each row (as a string)")
    secret: bool = Field(False, description="never print the values; binary inputs become key bytes")

    @model_validator(mode="after")
    def _format_known(self) -> InputSpec:
        fmt = self.resolved_format
        if fmt is None:
            raise PydanticCustomError(
                "fusebook", "cannot tell the format of '{file}' from its extension; add "
                "`format: json|yaml|csv|binary|hex`", {"file": self.file})
        if self.key is not None and fmt != "csv":
            raise PydanticCustomError("fusebook", "`key:` applies to CSV inputs only")
        return self

    @property
    def resolved_format(self) -> str | None:
        return self.format or format_of(self.file)


def format_of(path: str) -> str | None:
    """The input format a file name implies (None if its extension says nothing)."""
    return FORMAT_BY_EXTENSION.get(PurePath(path).suffix.lower())


class Assertion(StrictModel):
    """A condition that must hold (`require`: on the chip before; `ensure`: after)."""

    that: Expression = Field(description="a Jinja expression, e.g. efuses.DIS_USB_JTAG == 1")
    message: Text | None = Field(None, description="shown when the condition does not hold")


# -- steps -------------------------------------------------------------------------------
# Each step kind's model lives with the rest of that kind in fusebook.steps.
STEP_MODELS: dict[str, type[StepBase]] = {k.name: k.model for k in STEPS.values()}
STEP_KINDS: tuple[str, ...] = tuple(STEP_MODELS)
#: espefuse v5's command names for the steps (`burn-efuse`), each mapped to its step
STEP_ALIASES: dict[str, str] = {kebab(k): k for k in STEP_KINDS if kebab(k) != k}
STEP_COMMON_KEYS: tuple[str, ...] = ("name", "when")


def step_kind(value: Any) -> str | None:
    """Which step a mapping (or step model) is: its one step key, else None."""
    if isinstance(value, StepBase):
        return value.kind
    if isinstance(value, dict):
        found = [STEP_ALIASES.get(k, k) for k in value if k in STEP_MODELS or k in STEP_ALIASES]
        return found[0] if len(found) == 1 else None
    return None


if TYPE_CHECKING:
    Step = StepBase
else:
    Step = Annotated[
        Union[tuple(Annotated[m, Tag(k)] for k, m in STEP_MODELS.items())],  # noqa: UP007
        Discriminator(step_kind),
    ]


# -- files -------------------------------------------------------------------------------
class IncludedFile(StrictModel):
    """A recipe fragment pulled in by `include:`: steps, with defaults for its own vars."""

    description: str = ""
    vars: dict[Identifier, Any] = Field(
        default_factory=no_entries, description="defaults; the include's `vars:` and the recipe's vars override them",
        json_schema_extra=NAMES_ONLY)
    require: list[Assertion] = Field(default_factory=no_items)
    ensure: list[Assertion] = Field(default_factory=no_items)
    steps: list[Step]


class Recipe(StrictModel):
    """A fusebook recipe, format version 1."""

    model_config = ConfigDict(
        extra="forbid", frozen=True,
        json_schema_extra={"title": "fusebook recipe", "description": "A fusebook recipe (format version 1)"},
    )

    fusebook: Literal[1] = Field(description="recipe format version")
    name: str = Field(pattern=RECIPE_NAME, description="lower-case letters, digits, - and _")
    description: str = ""
    chip: ChipNames = Field(description="the chip (or chips) the recipe is for")
    inputs: dict[Identifier, InputSpec] = Field(default_factory=no_entries, json_schema_extra=NAMES_ONLY)
    vars: dict[Identifier, Any] = Field(
        default_factory=no_entries, description="named values; `--set NAME=VALUE` overrides them",
        json_schema_extra=NAMES_ONLY)
    unique: list[Name] = Field(
        default_factory=no_items, description="fields whose burned values must differ between units")
    require: list[Assertion] = Field(default_factory=no_items, description="must hold on the chip before")
    ensure: list[Assertion] = Field(
        default_factory=no_items, description="must hold on the predicted image and on the chip after")
    steps: list[Step]
    extend_efuse_table: str | None = Field(
        None, description="an ESP-IDF custom eFuse table (CSV), relative to the recipe")
    indices: str | None = Field(
        None, description="the unit indices: `apply --index auto` allocates from them, `check` walks them; "
        "e.g. 1-5000 or 1-100,200-300",
        json_schema_extra={"pattern": r"^\s*[0-9]+(\s*-\s*[0-9]+)?(\s*,\s*[0-9]+(\s*-\s*[0-9]+)?)*\s*$"})
    tests: list[CaseSpec] = Field(
        default_factory=no_items, description="test cases run by `fusebook test` (see recipe-test.schema.json)")

    _sources: RecipeSources | None = PrivateAttr(default=None)

    @field_validator("indices")
    @classmethod
    def _indices_parse(cls, value: str | None) -> str | None:
        if value is not None:
            from fusebook.indices import parse_range

            try:
                parse_range(value, "")
            except FusebookError as e:
                raise PydanticCustomError("fusebook", "{message}", {"message": e.message}) from None
        return value

    @property
    def chips(self) -> tuple[str, ...]:
        return tuple(self.chip) if isinstance(self.chip, list) else (self.chip,)

    @property
    def sources(self) -> RecipeSources:
        """Where each step and assertion came from (set by `fusebook.recipe.loader.load_recipe`)."""
        if self._sources is None:
            raise ValueError("this recipe was not loaded with fusebook.recipe.loader.load_recipe")
        return self._sources
