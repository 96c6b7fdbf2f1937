"""`burn_key_digest`: the secure boot v2 digest of a public key, burned as a key."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import Field

from fusebook.chips.models import ChipDef
from fusebook.errors import InputError, PlanError, SourceLocation
from fusebook.plan.requests import Operation, PlanContext, step_error
from fusebook.recipe.types import BlockRef, Name, OrTemplate, StrictModel, Text
from fusebook.steps.base import StepBase, StepCheck, StepFiles, StepKind, material, read_file_arg
from fusebook.steps.burn_key import BurnKey, burn, check_purpose, purpose_of


class BurnKeyDigestArgs(StrictModel):
    block: BlockRef
    purpose: Name | None = Field(None, description="a SECURE_BOOT_DIGEST purpose (not on ESP32)")
    file: Text = Field(description="public key PEM, relative to this recipe file")


class BurnKeyDigestStep(StepBase):
    kind: ClassVar[str] = "burn_key_digest"
    burn_key_digest: Annotated[BurnKeyDigestArgs | str, OrTemplate(BurnKeyDigestArgs)]


def _names_a_key_block(chip: ChipDef, block: Any) -> tuple[str, str] | None:
    """(message, hint) when `block` is a name for a key block on a chip whose digest has a
    block of its own (ESP32's `secure_boot_v1`): the key's byte reversal would burn the digest
    reversed, and the ROM would never match it."""
    fixed = chip.digest_block
    if fixed is None or str(block) not in chip.key_block_names:
        return None
    return (f"{block} names a block for a key, not for a secure boot v2 digest",
            f"write `block: {fixed.block}`")


def check(c: StepCheck, args: Any) -> None:
    if isinstance(args, str):
        return
    c.block(args.block, "block")
    refused = _names_a_key_block(c.chip, args.block) if args.block is not None else None
    if refused:
        c.fail(refused[0], c.at("block"), refused[1])
    check_purpose(c, args, digest=True)
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


@dataclass(frozen=True)
class BurnKeyDigest:
    """A rendered burn_key_digest, its digest worked out (`prepare`) from the public key."""

    block: str | int | None
    purpose: str | None
    digest: bytes
    #: a note on the key the digest is of (e.g. a key size the chip's ROM does not take)
    caveat: str | None = None
    read_protect: bool | None = None
    write_protect: bool | None = None

    @classmethod
    def of(cls, op: Operation) -> BurnKeyDigest:
        args = op.args if isinstance(op.args, dict) else {}
        if "digest" not in args:
            raise step_error(op, "the key's digest was not computed")
        return cls(args.get("block"), args.get("purpose"), args["digest"], args.get("caveat") or None,
                   args.get("read_protect"), args.get("write_protect"))


def requests(ctx: PlanContext, op: Operation) -> None:
    chip = ctx.chip
    step = BurnKeyDigest.of(op)
    if step.caveat:
        ctx.warn(op, str(step.caveat))
    key = BurnKey(step.block, step.purpose, data=step.digest, read_protect=step.read_protect,
                  write_protect=step.write_protect, digest=step.digest)
    fixed = chip.digest_block  # a chip without key purposes: the digest has its own block
    if fixed is not None:
        if ctx.image.coding(chip.block(fixed.block)) == fixed.refused_coding:
            raise step_error(op, f"burn_key_digest needs the NONE coding scheme on {chip.description}",
                             cls=PlanError)
        block = fixed.block if _absent(op, "block") else step.block
        refused = _names_a_key_block(chip, block)
        if refused:
            raise step_error(op, refused[0], hint=refused[1])
        burn(ctx, op, dataclasses.replace(key, block=block, read_protect=False))
        return
    if not step.purpose and chip.purposes_by_target:
        # Chip quirk (ESP32-C2): one digest purpose, one place for it.
        key = dataclasses.replace(key, purpose=next(kp.name for kp in chip.key_purposes if kp.digest))
    if not key.purpose:
        raise step_error(op, "burn_key_digest needs `purpose:` (SECURE_BOOT_DIGEST0/1/2)")
    kp = purpose_of(ctx, op, key.purpose)
    if not kp.digest:
        raise step_error(op, f"{kp.name} is not a secure boot digest purpose")
    burn(ctx, op, key)


def _absent(op: Operation, name: str) -> bool:
    return not isinstance(op.args, dict) or name not in op.args


KIND = StepKind("burn_key_digest", BurnKeyDigestStep, args_model=BurnKeyDigestArgs, check=check,
                prepare=prepare, requests=requests, value=BurnKeyDigest)
