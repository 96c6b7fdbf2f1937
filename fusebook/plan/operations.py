"""Rendered recipe steps turned into bit requests, each by its own step kind.

`step_requests` hands every `Operation` to its kind in `fusebook.steps` (which says what
bits it needs, or why it needs none), then applies the rules that hold across steps
(fields that must never all be set together).
"""

from __future__ import annotations

from fusebook.chips.models import ChipDef
from fusebook.efuse.image import EfuseImage
from fusebook.errors import PlanError
from fusebook.plan.requests import Operation, PlanContext, Request, StepRequests, step_error
from fusebook.steps import STEPS

__all__ = ["Operation", "Request", "StepRequests", "step_requests"]


def step_requests(chip: ChipDef, image: EfuseImage, ops: list[Operation]) -> StepRequests:
    """All requests of `ops` against `image` (errors carry the step's location)."""
    ctx = PlanContext(chip, image)
    for op in ops:
        kind = STEPS.get(op.kind)
        if kind is None or not kind.planned:
            raise step_error(op, f"unknown step {op.kind!r}")
        kind.requests(ctx, op)
    _check_incompatible(chip, image, ctx.out)
    return ctx.out


def _check_incompatible(chip: ChipDef, image: EfuseImage, asked_for: StepRequests) -> None:
    """Chip quirk: refuse plans that would set every field of an incompatible group."""
    for group in chip.incompatible:
        asked: dict[str, Request] = {}
        for name in group:
            f = chip.field(name)
            if f.gather(image.blocks[f.block]):
                continue
            req = next((r for r in asked_for.requests
                        if r.block == f.block and r.value & f.mask), None)
            if req is None:
                break
            asked[name] = req
        else:
            if asked:
                first = next(iter(asked.values()))
                raise PlanError(
                    f"{' and '.join(group)} cannot all be set on {chip.description} "
                    "(the ROM bootloader fails with them together)",
                    location=first.origin.location,
                    hint="burn only one of them",
                )
