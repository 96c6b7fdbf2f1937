"""`burn_efuse`: fields (or their aliases) set to values, as espefuse's burn-efuse."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, ClassVar

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from fusebook.chips.models import FieldDef
from fusebook.efuse import codecs
from fusebook.errors import InputError, PlanError, SourceLocation
from fusebook.plan.requests import Operation, PlanContext, located, step_error
from fusebook.recipe.types import EfuseValue, Name, OrTemplate, is_template
from fusebook.secret import Secret
from fusebook.steps.base import StepBase, StepCheck, StepKind


class BurnEfuseStep(StepBase):
    kind: ClassVar[str] = "burn_efuse"
    burn_efuse: Annotated[dict[Name, EfuseValue] | str, OrTemplate(dict[Name, EfuseValue])] = Field(
        description="field name (or alias): value")

    @model_validator(mode="after")
    def _some(self) -> BurnEfuseStep:
        if isinstance(self.burn_efuse, dict) and not self.burn_efuse:
            raise PydanticCustomError("fusebook", "name at least one field")
        return self


def check(c: StepCheck, value: Any) -> None:
    if not isinstance(value, dict):
        return
    for name, v in value.items():
        if is_template(name):
            continue
        f = c.run(partial(c.chip.field, name), c.at(name, key=True), name_check=True)
        if f is None:
            continue
        if not f.burnable:
            c.fail(f"{f.name} is computed or read-only on {c.chip.name} and cannot be burned",
                   c.at(name, key=True))
        elif c.image is not None and not _fits(c, f, v):
            size = c.image.data_bytes(f.block) * 8
            blk = c.chip.blocks[f.block].name
            c.problems.append(PlanError(
                f"{f.name} (bits {f.start}..{f.mask.bit_length() - 1} of {blk}) does not fit this chip: "
                f"under its coding scheme {blk} holds {size} data bits (0..{size - 1})",
                location=c.at(name, key=True),
                hint=f"move {f.name} below bit {size} in the custom eFuse table"))
        elif not is_template(v):
            c.run(partial(codecs.encode_value, c.chip, f, v), c.at(name))


def _fits(c: StepCheck, f: FieldDef, value: Any) -> bool:
    """Whether `value` for `f` lies in the data its block holds on the chip read.

    A templated value may be anything: only a field wholly past the data is sure not to fit.
    """
    assert c.image is not None  # only called with a chip read
    if is_template(value):
        return c.image.bits_fit(f.block, 1 << f.start)
    try:
        return c.image.bits_fit(f.block, f.spread(codecs.encode_value(c.chip, f, value)))
    except InputError:
        return True  # the value's own problem is reported next


@dataclass(frozen=True)
class BurnEfuse:
    """A rendered burn_efuse: (field name or alias, value) in the order written, and where
    each name is written (to name both places when two of them are the same field)."""

    values: tuple[tuple[str, Any], ...]
    key_locations: Mapping[Any, SourceLocation]

    @classmethod
    def of(cls, op: Operation) -> BurnEfuse:
        if not isinstance(op.args, dict) or not op.args:
            raise step_error(op, "burn_efuse takes a mapping of field names to values")
        return cls(tuple(op.args.items()), getattr(op.args, "key_locations", {}))


def requests(ctx: PlanContext, op: Operation) -> None:
    step = BurnEfuse.of(op)
    at = step.key_locations
    seen: dict[str, tuple[Any, int]] = {}
    for name, value in step.values:
        f = ctx.field(op, name)
        if not f.burnable:
            raise step_error(op, f"{f.name} is computed or read-only and cannot be burned")
        try:
            raw = codecs.encode_value(ctx.chip, f, value)
        except InputError as e:
            raise located(op, e) from None
        if raw == 0:
            raise step_error(
                op,
                f"burning {f.name} to 0 changes nothing (eFuse bits only go 0 -> 1)",
                hint="leave the field out, or skip the step with `when:`",
            )
        if f.name in seen:
            first, first_raw = seen[f.name]
            if first_raw == raw:
                continue
            # a field and its alias (or a templated name) in one mapping: which value is meant?
            raise PlanError(
                f"{op.origin.step}: {first} and {name} are both {f.name}, with different values",
                location=at.get(first, op.location),
                related=tuple(x for x in (at.get(name, op.location),) if x is not None),
                hint="keep one of them",
            )
        seen[f.name] = (name, raw)
        if f.klass == "keypurpose":
            ctx.check_purpose_allowed(op, f, raw)
        ctx.set_field(op, f, raw, secret=isinstance(value, Secret))


KIND = StepKind("burn_efuse", BurnEfuseStep, check=check, requests=requests, value=BurnEfuse)
