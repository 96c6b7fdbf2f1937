"""`write_protect_efuse`: the write-disable bit of fields or blocks, as espefuse's command."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from pydantic import Field

from fusebook.plan.requests import Operation, PlanContext, step_error
from fusebook.recipe.types import NameList, is_template
from fusebook.steps.base import StepBase, StepCheck, StepKind


class WriteProtectStep(StepBase):
    kind: ClassVar[str] = "write_protect_efuse"
    write_protect_efuse: NameList = Field(description="fields or blocks whose write-disable bit to burn")


def check_protection(c: StepCheck, names: Any, write: bool) -> None:
    """Each literal name is a field or block with a write- (or read-) disable bit on the chip."""
    if isinstance(names, str):
        return
    for i, name in enumerate(names):
        if is_template(name):
            continue
        if c.chip.has_field(name):
            f = c.chip.field(name)
            bits: Any = f.wr_dis if write else f.rd_dis
        elif c.chip.has_block(name):
            b = c.chip.block(name)
            bits = b.wr_dis if write else b.rd_dis
        else:
            c.run(partial(c.chip.field, name), c.at(i), name_check=True)
            continue
        if bits is None or bits == ():
            c.fail(f"{name} has no {'write' if write else 'read'}-disable bit on {c.chip.name}", c.at(i))


@dataclass(frozen=True)
class ProtectEfuse:
    """A rendered write_protect_efuse or read_protect_efuse: the fields or blocks it names."""

    names: tuple[str, ...]

    @classmethod
    def of(cls, op: Operation) -> ProtectEfuse:
        names = op.args
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not names:
            raise step_error(op, f"{op.kind} takes a list of field or block names")
        return cls(tuple(str(n) for n in names))


def check(c: StepCheck, names: Any) -> None:
    check_protection(c, names, write=True)


def requests(ctx: PlanContext, op: Operation) -> None:
    chip = ctx.chip
    for name in ProtectEfuse.of(op).names:
        wr, _, canonical = ctx.protection_bits(op, name)
        if wr is None:
            raise step_error(op, f"{canonical} has no write-disable bit")
        sharing = sorted(
            {f.name for f in chip.fields if f.wr_dis == wr} | {b.name for b in chip.blocks if b.wr_dis == wr}
        )
        if len(sharing) > 1:
            ctx.warn(op, f"WR_DIS bit {wr} protects {canonical} together with: "
                         + ", ".join(n for n in sharing if n != canonical))
        ctx.wr_dis(op, wr)


KIND = StepKind("write_protect_efuse", WriteProtectStep, check=check, requests=requests, value=ProtectEfuse)
