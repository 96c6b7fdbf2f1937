"""What every step kind is made of, and the context each of its parts works in.

A step kind (`StepKind`) holds, in one place, everything fusebook knows of one recipe step:
- `model`: the step as written in a recipe (a frozen pydantic model, which the recipe
  schema is generated from);
- `check`: its checks against one chip without a unit (`fusebook validate`), in a
  `StepCheck` that knows where each part of the step is written;
- `prepare`: the rendered step's files read in (a key, a PEM turned into its digest);
- `value`: the rendered step as a frozen, typed value (`BurnKey(block, purpose, data,
  read_protect, write_protect, ...)`), made by `value.of(operation)`;
- `requests`: its translation into bit requests against one chip image, in a
  `PlanContext`, with warnings and the reasons it has nothing to do (pyinfra's operations
  work the same way: yield what is needed, or say why nothing is).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from fusebook.chips.models import BlockDef, ChipDef
from fusebook.efuse import codecs
from fusebook.efuse.image import EfuseImage
from fusebook.errors import FusebookError, InputError, SourceLocation
from fusebook.plan.requests import Operation, PlanContext, located, step_error
from fusebook.recipe.sources import StepSource
from fusebook.recipe.types import Expression, StrictModel, Text, is_template
from fusebook.secret import Secret

if TYPE_CHECKING:
    from fusebook.recipe.yamlfile import NodePath


# -- the step as written -------------------------------------------------------------------
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


class StepBase(StrictModel):
    """What every step may carry besides its one step key.

    The key may be spelled as espefuse v5's command (`burn-efuse:`); it is taken as the
    snake-case step (see `fusebook.recipe.models.STEP_ALIASES`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, json_schema_extra=_kebab_in_schema)
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


class ExactlyOneSource(StrictModel):
    """Arguments that take their bytes from `file:` or `data:`, never both."""

    @model_validator(mode="after")
    def _one_source(self) -> Any:
        has_file = getattr(self, "file", None) is not None
        has_data = getattr(self, "data", None) is not None
        if has_file == has_data:
            raise PydanticCustomError("fusebook", "give exactly one of `file:` or `data:`")
        return self


# -- checks without a unit -------------------------------------------------------------------
class StepCheck:
    """One step's literal names and values, checked against one chip (`fusebook validate`).

    Problems are collected, not raised, each at the line and column of the part of the
    step it is about.
    """

    def __init__(self, step: StepBase, src: StepSource, chip: ChipDef, problems: list[FusebookError],
                 multi_chip: bool, image: EfuseImage | None = None) -> None:
        self.step, self.src, self.chip, self.problems = step, src, chip, problems
        self.multi_chip = multi_chip
        self.image = image  # the chip read (or a snapshot): its coding scheme decides what fits
        self.base = (*src.path, step.kind)

    def at(self, *path: str | int, key: bool = False) -> SourceLocation:
        full: NodePath = (*self.base, *path)
        return self.src.smap.key_location(full) if key else self.src.smap.location(full)

    def fail(self, message: str, location: SourceLocation, hint: str | None = None) -> None:
        self.problems.append(InputError(message, location=location, hint=hint))

    def run(self, fn: Callable[[], Any], location: SourceLocation, *, name_check: bool = False) -> Any:
        try:
            return fn()
        except InputError as e:
            hint = e.hint
            if name_check and self.multi_chip:
                skip = f"leave the step out there with `when: \"chip.name != '{self.chip.name}'\"`"
                hint = f"{hint} (or {skip})" if hint else skip
            self.fail(e.message, location, hint)
            return None

    def block(self, value: Any, *path: str) -> BlockDef | None:
        if is_template(value):
            return None
        if isinstance(value, int):
            if value >= len(self.chip.blocks):
                self.fail(f"{self.chip.name} has no block {value}", self.at(*path))
                return None
            return self.chip.blocks[value]
        found: BlockDef | None = self.run(lambda: self.chip.block(value), self.at(*path), name_check=True)
        return found

    def file(self, value: Any, *path: str) -> None:
        if value is None or is_template(value):
            return
        target = FsPath(self.src.smap.file).parent / value
        if not target.is_file():
            self.fail(f"file {value} does not exist (looked at {target})", self.at(*path))


# -- files, for the rendered step ------------------------------------------------------------
class StepFiles(Protocol):
    """Where a step's `file:` is read from (a loaded recipe), and what was worked out of it."""

    def read_file(self, name: str, location: SourceLocation | None) -> bytes: ...

    def derived_key(self, what: str, chip: str, material: bytes, compute: Callable[[], Any]) -> Any: ...


def read_file_arg(args: Any, files: StepFiles, origin: SourceLocation | None, *, secret: bool) -> Any:
    """`args` with its `file:` replaced by the file's bytes (a `Secret` if `secret`)."""
    if not isinstance(args, dict):
        return args
    args = dict(args)
    if args.get("file") is not None and not isinstance(args["file"], (bytes, Secret)):
        raw = files.read_file(str(args["file"]), origin)
        args["file"] = Secret(raw) if secret else raw
    return args


def material(value: Any) -> bytes:
    """The bytes of a `file:` or `data:` value as read (a Secret, text, or bytes)."""
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, str):
        return value.encode()
    return bytes(value or b"")


# -- the rendered step's bytes ---------------------------------------------------------------
def step_data(op: Operation, data: Any, file: Any, what: str) -> bytes:
    """The bytes a step burns: its `data:` (hex) or its `file:` as read."""
    if data is not None:
        value = data
    elif file is not None:
        value = file
        if not isinstance(value, (bytes, Secret)):
            raise step_error(op, f"{what} file {value!r} was not loaded")
    else:
        raise step_error(op, f"{what} needs `data:` (hex) or `file:`")
    try:
        return codecs.parse_hex_bytes(value, what)
    except InputError as e:
        raise located(op, e) from None


# -- the kind ----------------------------------------------------------------------------------
def _no_checks(check: StepCheck, value: Any) -> None:
    """A step with nothing to check without a unit."""


def _as_rendered(args: Any, files: StepFiles, chip: ChipDef, origin: SourceLocation | None) -> Any:
    """A step whose rendered arguments are what it plans with."""
    return args


def _not_planned(ctx: PlanContext, op: Operation) -> None:
    raise step_error(op, f"unknown step {op.kind!r}")


@dataclass(frozen=True)
class StepKind:
    """One recipe step kind: its model, its checks, and its translation into requests."""

    name: str
    model: type[StepBase]
    #: the model of the step's value when it is a mapping (`burn_key: {...}`), else None
    args_model: type[StrictModel] | None = None
    check: Callable[[StepCheck, Any], None] = _no_checks
    prepare: Callable[[Any, StepFiles, ChipDef, SourceLocation | None], Any] = _as_rendered
    requests: Callable[[PlanContext, Operation], None] = _not_planned
    #: the rendered step as a frozen value (`of(operation)`), for a planned step
    value: type | None = None
    #: False for a step the loader expands (include): it never reaches the planner
    planned: bool = True
    #: arguments that hold key material even when written as plain hex (shown as fingerprints)
    key_args: tuple[str, ...] = ()
