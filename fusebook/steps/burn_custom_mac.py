"""`burn_custom_mac`: the user MAC, with whatever the chip's ROM needs beside it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from fusebook.efuse import codecs
from fusebook.errors import InputError, PlanError
from fusebook.plan.requests import Operation, PlanContext, located, step_error
from fusebook.recipe.types import MAC, is_template
from fusebook.steps.base import StepBase, StepCheck, StepKind


class BurnCustomMacStep(StepBase):
    kind: ClassVar[str] = "burn_custom_mac"
    burn_custom_mac: Annotated[str, MAC]


def check(c: StepCheck, value: Any) -> None:
    if not c.chip.has_field("CUSTOM_MAC"):
        c.fail(f"{c.chip.name} has no custom MAC field", c.at())
    elif not is_template(value):
        c.run(lambda: codecs.parse_mac(value), c.at())


@dataclass(frozen=True)
class BurnCustomMac:
    """A rendered burn_custom_mac: the MAC as written (checked when it is turned into bits)."""

    mac: str

    @classmethod
    def of(cls, op: Operation) -> BurnCustomMac:
        return cls(op.args)


def requests(ctx: PlanContext, op: Operation) -> None:
    chip = ctx.chip
    step = BurnCustomMac.of(op)
    if not chip.has_field("CUSTOM_MAC"):
        raise step_error(op, f"{chip.description} has no custom MAC field")
    f = chip.field("CUSTOM_MAC")
    try:
        data = codecs.parse_mac(step.mac)
        raw = codecs.mac_bytes_to_raw(f, data)
    except InputError as e:
        raise located(op, e) from None
    ctx.set_field(op, f, raw)
    beside = chip.custom_mac  # what the chip's ROM needs along with the MAC (chip data)
    if beside.used is not None:
        ctx.set_field(op, chip.field(beside.used), 1)
    if beside.version is not None:
        version, wanted = chip.field(beside.version), beside.version_value
        current = ctx.image.raw(version)
        if current == 0:
            ctx.set_field(op, version, wanted)
        elif current != wanted:
            raise step_error(op, f"{version.name} is {current}; a custom MAC needs 0 or {wanted}", cls=PlanError)
    if beside.crc is not None:
        ctx.set_field(op, chip.field(beside.crc), codecs.crc8_custom_mac(data))


KIND = StepKind("burn_custom_mac", BurnCustomMacStep, check=check, requests=requests, value=BurnCustomMac)
