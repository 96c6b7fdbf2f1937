"""`set_flash_voltage`: the flash voltage regulator fields, as espefuse's set-flash-voltage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from fusebook.errors import PlanError
from fusebook.plan.requests import Operation, PlanContext, step_error
from fusebook.recipe.types import VOLTAGE, VOLTAGES
from fusebook.steps.base import StepBase, StepCheck, StepKind


class SetFlashVoltageStep(StepBase):
    kind: ClassVar[str] = "set_flash_voltage"
    set_flash_voltage: Annotated[str, VOLTAGE]


def check(c: StepCheck, value: Any) -> None:
    if c.chip.flash_voltage is None:
        c.fail(f"{c.chip.name} has no flash voltage regulator eFuses", c.at())


@dataclass(frozen=True)
class SetFlashVoltage:
    """A rendered set_flash_voltage: the voltage, in capitals."""

    voltage: str  # one of VOLTAGES

    @classmethod
    def of(cls, op: Operation) -> SetFlashVoltage:
        voltage = str(op.args).upper()
        if voltage not in VOLTAGES:
            raise step_error(op, f"flash voltage {op.args!r} is not one of {', '.join(VOLTAGES)}")
        return cls(voltage)


def requests(ctx: PlanContext, op: Operation) -> None:
    chip, image = ctx.chip, ctx.image
    voltage = SetFlashVoltage.of(op).voltage
    regulator = chip.flash_voltage
    if regulator is None:
        raise step_error(op, f"{chip.description} has no flash voltage regulator eFuses")
    force, reg, tieh = regulator.force, regulator.regulator, regulator.tieh
    if voltage == "OFF" and image.raw(reg):
        raise step_error(op, f"cannot turn the regulator OFF: {reg} is already burned", cls=PlanError)
    if voltage == "1.8V" and image.raw(tieh):
        raise step_error(op, f"cannot set 1.8V: {tieh} is already burned", cls=PlanError)
    ctx.set_field(op, chip.field(force), 1)
    if voltage != "OFF":
        ctx.set_field(op, chip.field(reg), 1)
    if voltage == "3.3V":
        ctx.set_field(op, chip.field(tieh), 1)


KIND = StepKind("set_flash_voltage", SetFlashVoltageStep, check=check, requests=requests, value=SetFlashVoltage)
