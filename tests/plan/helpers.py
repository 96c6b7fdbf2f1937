"""Small helpers to plan rendered steps against an image, as `apply` does."""

from __future__ import annotations

from typing import Any

from fusebook.chips.loader import load_chip
from fusebook.chips.models import ChipDef
from fusebook.efuse.image import EfuseImage
from fusebook.errors import InputError, SourceLocation
from fusebook.plan.model import BurnPlan
from fusebook.plan.operations import Operation, step_requests
from fusebook.plan.planner import build_plan


def ops(*steps: dict[str, Any]) -> list[Operation]:
    out = []
    for n, step in enumerate(steps, start=1):
        for kind, args in step.items():
            out.append(Operation(kind, args, kind, SourceLocation("r.yaml", n, 5)))
    return out


def plan(chip: ChipDef, image: EfuseImage, *steps: dict[str, Any]) -> BurnPlan:
    return build_plan(chip, image, step_requests(chip, image, ops(*steps)))


def burned(p: BurnPlan) -> EfuseImage:
    """The image after the plan, as the virtual chip would hold it."""
    return p.after


def refused_at_step(step: dict[str, Any], chip: ChipDef | None = None, image: EfuseImage | None = None,
                    cls: type[Exception] = InputError) -> Any:
    """The error planning the one step `step` raises (ESP32-C3 unless `chip`, a blank chip
    unless `image`), checked to be located at that step (r.yaml:1:5)."""
    import pytest

    chip = chip or load_chip("esp32c3")
    with pytest.raises(cls) as caught:
        plan(chip, image or EfuseImage.blank(chip), step)
    assert str(getattr(caught.value, "location", None)) == "r.yaml:1:5"
    return caught.value
