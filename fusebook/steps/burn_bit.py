"""`burn_bit`: single bits of a block, by number (or-ed in, as espefuse's burn-bit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from fusebook.plan.requests import Operation, PlanContext, step_error
from fusebook.recipe.types import BlockRef, Int, OrTemplate, StrictModel
from fusebook.steps.base import StepBase, StepCheck, StepKind


class BurnBitArgs(StrictModel):
    block: BlockRef
    bits: Annotated[list[Int] | str, OrTemplate(list[Int])]


class BurnBitStep(StepBase):
    kind: ClassVar[str] = "burn_bit"
    burn_bit: Annotated[BurnBitArgs | str, OrTemplate(BurnBitArgs)]


def check(c: StepCheck, args: Any) -> None:
    if isinstance(args, str):
        return
    blk = c.block(args.block, "block")
    if blk is None or isinstance(args.bits, str):
        return
    for i, bit in enumerate(args.bits):
        if isinstance(bit, int) and bit >= blk.words * 32:
            c.fail(f"bit {bit} is outside {blk.name} (0..{blk.words * 32 - 1})", c.at("bits", i))


@dataclass(frozen=True)
class BurnBit:
    """A rendered burn_bit: the block, and the bit numbers as rendered (checked against it)."""

    block: str | int | None
    bits: Any

    @classmethod
    def of(cls, op: Operation) -> BurnBit:
        args = op.args if isinstance(op.args, dict) else {}
        return cls(args.get("block"), args.get("bits"))


def requests(ctx: PlanContext, op: Operation) -> None:
    step = BurnBit.of(op)
    blk = ctx.block(op, step.block)
    bits = step.bits
    if not isinstance(bits, list) or not bits:
        raise step_error(op, "burn_bit needs `bits: [n, ...]`")
    size = ctx.image.data_bytes(blk) * 8
    v = 0
    for b in bits:
        if not isinstance(b, int) or isinstance(b, bool) or not 0 <= b < size:
            raise step_error(op, f"bit {b!r} is outside {blk.name} (0..{size - 1})")
        v |= 1 << b
    ctx.or_bits(op, blk.id, v, blk.name, guard=blk.name)


KIND = StepKind("burn_bit", BurnBitStep, args_model=BurnBitArgs, check=check, requests=requests, value=BurnBit)
