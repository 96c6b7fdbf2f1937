"""The recipe format, version 1, as pydantic models (and from them, the JSON Schema).

The models describe a recipe *as written*: unknown keys are refused, every value is of
its kind or a template (see `types`). What the models do not hold is where things came
from; the loader attaches that (`Recipe.sources`) so errors and rendered steps carry
file:line:column, including for steps pulled in by `include:`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
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
    BLOCK,
    BOOL,
    DATA,
    EFUSE_VALUE,
    EXPRESSION,
    INT,
    MAC,
    NAME,
    TEXT,
    VOLTAGE,
    OrTemplate,
)

#: Recipe names: what the ledger and plans call the recipe.
RECIPE_NAME = r"^[a-z0-9_-]+$"
#: Names of inputs and vars: usable as `inputs.NAME` / `vars.NAME` in templates.
IDENTIFIER = r"^[A-Za-z][A-Za-z0-9_]*$"

#: Input formats and the file extensions that imply them.
INPUT_FORMATS = ("json", "yaml", "csv", "binary", "hex")
FORMAT_BY_EXTENSION = {
    ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".csv": "csv",
    ".bin": "binary", ".key": "binary", ".der": "binary", ".pem": "binary", ".dat": "binary",
    ".hex": "hex",
}


#: JSON Schema for mappings keyed by identifiers: only the `patternProperties` are allowed.
_NAMES_ONLY: dict[str, Any] = {"additionalProperties": False}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Identifier = Annotated[str, Field(pattern=IDENTIFIER)]
Int = Annotated[int | str, INT]
Bool = Annotated[bool | str, BOOL]
Text = Annotated[str, TEXT]
Name = Annotated[str, NAME]
BlockRef = Annotated[str | int, BLOCK]
EfuseValue = Annotated[int | bool | str, EFUSE_VALUE]
HexData = Annotated[str, DATA]
Expression = Annotated[str | bool, EXPRESSION]


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
class InputSpec(_Strict):
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


class Assertion(_Strict):
    """A condition that must hold (`require`: on the chip before; `ensure`: after)."""

    that: Expression = Field(description="a Jinja expression, e.g. efuses.DIS_USB_JTAG == 1")
    message: Text | None = Field(None, description="shown when the condition does not hold")


# -- steps -------------------------------------------------------------------------------
def kebab(kind: str) -> str:
    """espefuse v5's spelling of a step (its command name): `burn-efuse` for `burn_efuse`."""
    return kind.replace("_", "-")


def _kebab_in_schema(schema: dict[str, Any], model: type) -> None:
    """A step's JSON Schema takes its key in either spelling, exactly one of them."""
    kind = getattr(model, "kind", "")
    props = schema.get("properties", {})
    if kind not in props or kebab(kind) == kind:
        return
    props[kebab(kind)] = props[kind]
    schema["required"] = [r for r in schema.get("required", []) if r != kind]
    if not schema["required"]:
        del schema["required"]
    schema["oneOf"] = [{"required": [kind]}, {"required": [kebab(kind)]}]


class StepBase(_Strict):
    """What every step may carry besides its one step key.

    The key may be spelled as espefuse v5's command (`burn-efuse:`); it is taken as the
    snake-case step (see `STEP_ALIASES`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_kebab_in_schema)
    kind: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _snake_case_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.kind and kebab(cls.kind) in data and cls.kind not in data:
            return {cls.kind if k == kebab(cls.kind) else k: v for k, v in data.items()}
        return data
    name: Text | None = Field(None, description="a label shown in plans and logs")
    when: Expression | None = Field(None, description="the step applies only if this holds")

    @property
    def value(self) -> Any:
        return getattr(self, self.kind)


class _ExactlyOneSource(_Strict):
    @model_validator(mode="after")
    def _one_source(self) -> Any:
        has_file = getattr(self, "file", None) is not None
        has_data = getattr(self, "data", None) is not None
        if has_file == has_data:
            raise PydanticCustomError("fusebook", "give exactly one of `file:` or `data:`")
        return self


class BurnKeyArgs(_ExactlyOneSource):
    block: BlockRef
    purpose: Name | None = Field(None, description="key purpose (not on ESP32)")
    file: Text | None = Field(None, description="key file, relative to this recipe file")
    data: HexData | None = None
    read_protect: Bool | None = Field(None, description="default: as espefuse for the purpose")
    write_protect: Bool | None = Field(None, description="default: true")


class BurnKeyDigestArgs(_Strict):
    block: BlockRef
    purpose: Name | None = Field(None, description="a SECURE_BOOT_DIGEST purpose (not on ESP32)")
    file: Text = Field(description="public key PEM, relative to this recipe file")


class BurnBlockDataArgs(_ExactlyOneSource):
    block: BlockRef
    offset: Int | None = Field(None, description="byte offset into the block (default 0)")
    file: Text | None = None
    data: HexData | None = None


class BurnBitArgs(_Strict):
    block: BlockRef
    bits: Annotated[list[Int] | str, OrTemplate(list[Int])]


def _non_empty(value: Any) -> Any:
    if isinstance(value, dict) and not value:
        raise PydanticCustomError("fusebook", "name at least one field")
    return value


class BurnEfuseStep(StepBase):
    kind: ClassVar[str] = "burn_efuse"
    burn_efuse: Annotated[dict[Name, EfuseValue] | str, OrTemplate(dict[Name, EfuseValue])] = Field(
        description="field name (or alias): value")

    @model_validator(mode="after")
    def _some(self) -> BurnEfuseStep:
        _non_empty(self.burn_efuse)
        return self


class BurnCustomMacStep(StepBase):
    kind: ClassVar[str] = "burn_custom_mac"
    burn_custom_mac: Annotated[str, MAC]


class BurnKeyStep(StepBase):
    kind: ClassVar[str] = "burn_key"
    burn_key: Annotated[BurnKeyArgs | str, OrTemplate(BurnKeyArgs)]


class BurnKeyDigestStep(StepBase):
    kind: ClassVar[str] = "burn_key_digest"
    burn_key_digest: Annotated[BurnKeyDigestArgs | str, OrTemplate(BurnKeyDigestArgs)]


class BurnBlockDataStep(StepBase):
    kind: ClassVar[str] = "burn_block_data"
    burn_block_data: Annotated[BurnBlockDataArgs | str, OrTemplate(BurnBlockDataArgs)]


class BurnBitStep(StepBase):
    kind: ClassVar[str] = "burn_bit"
    burn_bit: Annotated[BurnBitArgs | str, OrTemplate(BurnBitArgs)]


NameList = Annotated[list[Name] | str, OrTemplate(list[Name], single=True)]


class WriteProtectStep(StepBase):
    kind: ClassVar[str] = "write_protect_efuse"
    write_protect_efuse: NameList = Field(description="fields or blocks whose write-disable bit to burn")


class ReadProtectStep(StepBase):
    kind: ClassVar[str] = "read_protect_efuse"
    read_protect_efuse: NameList = Field(description="fields or blocks whose read-disable bits to burn")


class SetFlashVoltageStep(StepBase):
    kind: ClassVar[str] = "set_flash_voltage"
    set_flash_voltage: Annotated[str, VOLTAGE]


class IncludeArgs(_Strict):
    file: str = Field(description="a recipe fragment, relative to this file, inside the recipe's directory")
    vars: dict[Identifier, Any] = Field(
        default_factory=dict, description="values for the vars the fragment declares",
        json_schema_extra=_NAMES_ONLY)


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


STEP_MODELS: dict[str, type[StepBase]] = {
    m.kind: m
    for m in (
        BurnEfuseStep, BurnCustomMacStep, BurnKeyStep, BurnKeyDigestStep, BurnBlockDataStep,
        BurnBitStep, WriteProtectStep, ReadProtectStep, SetFlashVoltageStep, IncludeStep,
    )
}
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


Step = Annotated[
    Annotated[BurnEfuseStep, Tag("burn_efuse")]
    | Annotated[BurnCustomMacStep, Tag("burn_custom_mac")]
    | Annotated[BurnKeyStep, Tag("burn_key")]
    | Annotated[BurnKeyDigestStep, Tag("burn_key_digest")]
    | Annotated[BurnBlockDataStep, Tag("burn_block_data")]
    | Annotated[BurnBitStep, Tag("burn_bit")]
    | Annotated[WriteProtectStep, Tag("write_protect_efuse")]
    | Annotated[ReadProtectStep, Tag("read_protect_efuse")]
    | Annotated[SetFlashVoltageStep, Tag("set_flash_voltage")]
    | Annotated[IncludeStep, Tag("include")],
    Discriminator(step_kind),
]


# -- files -------------------------------------------------------------------------------
class IncludedFile(_Strict):
    """A recipe fragment pulled in by `include:`: steps, with defaults for its own vars."""

    description: str = ""
    vars: dict[Identifier, Any] = Field(
        default_factory=dict, description="defaults; the include's `vars:` and the recipe's vars override them",
        json_schema_extra=_NAMES_ONLY)
    require: list[Assertion] = Field(default_factory=list)
    ensure: list[Assertion] = Field(default_factory=list)
    steps: list[Step]


class Recipe(_Strict):
    """A fusebook recipe, format version 1."""

    model_config = ConfigDict(
        extra="forbid", frozen=True,
        json_schema_extra={"title": "fusebook recipe", "description": "A fusebook recipe (format version 1)"},
    )

    fusebook: Literal[1] = Field(description="recipe format version")
    name: str = Field(pattern=RECIPE_NAME, description="lower-case letters, digits, - and _")
    description: str = ""
    chip: ChipNames = Field(description="the chip (or chips) the recipe is for")
    inputs: dict[Identifier, InputSpec] = Field(default_factory=dict, json_schema_extra=_NAMES_ONLY)
    vars: dict[Identifier, Any] = Field(
        default_factory=dict, description="named values; `--set NAME=VALUE` overrides them",
        json_schema_extra=_NAMES_ONLY)
    unique: list[Name] = Field(
        default_factory=list, description="fields whose burned values must differ between units")
    require: list[Assertion] = Field(default_factory=list, description="must hold on the chip before")
    ensure: list[Assertion] = Field(
        default_factory=list, description="must hold on the predicted image and on the chip after")
    steps: list[Step]
    extend_efuse_table: str | None = Field(
        None, description="an ESP-IDF custom eFuse table (CSV), relative to the recipe")
    indices: str | None = Field(
        None, description="the unit indices: `apply --index auto` allocates from them, `check` walks them; "
        "e.g. 1-5000 or 1-100,200-300",
        json_schema_extra={"pattern": r"^\s*[0-9]+(\s*-\s*[0-9]+)?(\s*,\s*[0-9]+(\s*-\s*[0-9]+)?)*\s*$"})
    tests: list[CaseSpec] = Field(
        default_factory=list, description="test cases run by `fusebook test` (see recipe-test.schema.json)")

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
