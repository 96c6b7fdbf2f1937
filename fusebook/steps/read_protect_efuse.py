"""`read_protect_efuse`: the read-disable bits of fields or blocks, refused where a key
must stay readable (a secure boot digest, a purpose that needs no read protection)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from fusebook.errors import PlanError
from fusebook.plan.requests import Operation, PlanContext, step_error
from fusebook.recipe.types import NameList
from fusebook.steps.base import StepBase, StepCheck, StepKind
from fusebook.steps.write_protect_efuse import ProtectEfuse, check_protection


class ReadProtectStep(StepBase):
    kind: ClassVar[str] = "read_protect_efuse"
    read_protect_efuse: NameList = Field(description="fields or blocks whose read-disable bits to burn")


def check(c: StepCheck, names: Any) -> None:
    check_protection(c, names, write=False)


def requests(ctx: PlanContext, op: Operation) -> None:
    chip = ctx.chip
    for name in ProtectEfuse.of(op).names:
        _, rd, canonical = ctx.protection_bits(op, name)
        if not rd:
            raise step_error(op, f"{canonical} has no read-disable bit")
        if chip.purposes_by_target:
            _check_target_stays_readable(ctx, op, canonical)
        if chip.has_block(name):
            blk = chip.block(name)
            if blk.key_purpose_field and chip.has_field(blk.key_purpose_field):
                raw = ctx.raw(blk.key_purpose_field)
                kp_name = chip.key_purpose_name(raw)
                kps = [k for k in chip.key_purposes if k.value == raw]
                if kps and not kps[0].read_protect:
                    raise step_error(op, f"{canonical} holds a {kp_name} key, which must stay readable",
                                     cls=PlanError)
            fixed = chip.digest_block  # a chip without key purposes: the digest has its own block
            if fixed is not None and blk.id == chip.block(fixed.block).id:
                if ctx.image.raw(fixed.enabled_by):
                    raise step_error(op, f"secure boot v2 is on: {blk.name} must stay readable", cls=PlanError)
                ctx.warn(op, f"if {blk.name} holds a secure boot v2 digest it must stay readable")
        ctx.rd_dis(op, rd)


def _check_target_stays_readable(ctx: PlanContext, op: Operation, name: str) -> None:
    """Chip quirk (ESP32-C2), as espefuse: a secure boot digest must stay readable.

    Read-protecting all of BLOCK_KEY0 is allowed only for a 256-bit flash key
    (XTS_KEY_LENGTH_256 set); once SECURE_BOOT_EN is set the digest half must stay
    readable as well.
    """
    chip = ctx.chip
    f = chip.field(name) if chip.has_field(name) else chip.block_field(chip.block(name))
    if f is None:
        return
    for kp in chip.key_purposes:
        if not kp.digest or not kp.target:
            continue
        digest = chip.field(kp.target)
        if digest.block != f.block or not digest.mask & f.mask:
            continue
        whole = next((k for k in chip.key_purposes if k.target == f.name and k.sets), None)
        if whole is not None and not all(ctx.requested_or_burned(n) for n in whole.sets):
            raise step_error(op, f"{f.name} holds the secure boot digest in {digest.name}, which must "
                                 "stay readable", cls=PlanError,
                             hint="read-protect only the half that holds a key")
        if chip.has_field("SECURE_BOOT_EN") and ctx.requested_or_burned("SECURE_BOOT_EN"):
            raise step_error(op, f"secure boot is on: {digest.name} must stay readable", cls=PlanError)


KIND = StepKind("read_protect_efuse", ReadProtectStep, check=check, requests=requests, value=ProtectEfuse)
