"""`burn_key_digest`: the secure boot v2 digest of a public key, burned as a key."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field

from fusebook.chips.models import ChipDef
from fusebook.errors import InputError, PlanError, SourceLocation
from fusebook.plan.requests import Operation, PlanContext, step_error
from fusebook.recipe.types import BlockRef, Name, OrTemplate, StrictModel, Text
from fusebook.steps import burn_key
from fusebook.steps.base import StepBase, StepCheck, StepFiles, StepKind, material, read_file_arg


class BurnKeyDigestArgs(StrictModel):
    block: BlockRef
    purpose: Name | None = Field(None, description="a SECURE_BOOT_DIGEST purpose (not on ESP32)")
    file: Text = Field(description="public key PEM, relative to this recipe file")


class BurnKeyDigestStep(StepBase):
    kind: ClassVar[str] = "burn_key_digest"
    burn_key_digest: Annotated[BurnKeyDigestArgs | str, OrTemplate(BurnKeyDigestArgs)]


def check(c: StepCheck, args: Any) -> None:
    if isinstance(args, str):
        return
    c.block(args.block, "block")
    burn_key.check_purpose(c, args, digest=True)
    c.file(args.file, "file")


def prepare(args: Any, files: StepFiles, chip: ChipDef, origin: SourceLocation | None) -> Any:
    """The PEM read in and its digest worked out (once per key and chip, however many units)."""
    args = read_file_arg(args, files, origin, secret=True)
    if not isinstance(args, dict):
        return args
    from fusebook.keys.digest import secure_boot_v2_key

    pem = args.get("file") if args.get("file") is not None else args.get("data")
    if pem is None:
        raise InputError("burn_key_digest needs `file:` (a key PEM)", location=origin)
    pem_bytes = material(pem)
    key = files.derived_key("burn_key_digest", chip.name, pem_bytes, lambda: secure_boot_v2_key(
        pem_bytes, chip=chip.name, location=origin))
    args["digest"] = key.digest
    if key.caveat:
        args["caveat"] = key.caveat
    return args


def requests(ctx: PlanContext, op: Operation) -> None:
    chip = ctx.chip
    args = dict(op.args) if isinstance(op.args, dict) else {}
    if "digest" not in args:
        raise step_error(op, "the key's digest was not computed")
    args["data"] = args["digest"]
    if args.get("caveat"):
        ctx.warn(op, str(args["caveat"]))
    fixed = chip.digest_block  # a chip without key purposes: the digest has its own block
    if fixed is not None:
        if ctx.image.coding(chip.block(fixed.block)) == fixed.refused_coding:
            raise step_error(op, f"burn_key_digest needs the NONE coding scheme on {chip.description}",
                             cls=PlanError)
        args.setdefault("block", fixed.block)
        args["read_protect"] = False
        burn_key.requests(ctx, Operation("burn_key", args, op.label or op.kind, op.location))
        return
    if not args.get("purpose") and chip.purposes_by_target:
        # Chip quirk (ESP32-C2): one digest purpose, one place for it.
        args["purpose"] = next(kp.name for kp in chip.key_purposes if kp.digest)
    if not args.get("purpose"):
        raise step_error(op, "burn_key_digest needs `purpose:` (SECURE_BOOT_DIGEST0/1/2)")
    kp = burn_key.purpose_of(ctx, op, args["purpose"])
    if not kp.digest:
        raise step_error(op, f"{kp.name} is not a secure boot digest purpose")
    burn_key.requests(ctx, Operation("burn_key", args, op.label or op.kind, op.location))


KIND = StepKind("burn_key_digest", BurnKeyDigestStep, args_model=BurnKeyDigestArgs, check=check,
                prepare=prepare, requests=requests)
