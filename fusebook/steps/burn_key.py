"""`burn_key`: a key into a key block, with its purpose and protections, as espefuse's burn-key.

Three shapes of chip take keys: the ESP32 (the block name says what a key is for), the
ESP32-C2 (the purpose names where in BLOCK_KEY0 the key goes), and every other chip (a
KEY_PURPOSE_n field per key block). Purposes whose key fills two blocks (XTS_AES_256_KEY,
ECDSA_KEY_P384) take the given block and the next free one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import Field

from fusebook.chips.models import BlockDef, ChipDef, FieldDef, KeyPurpose
from fusebook.errors import InputError, PlanError, SourceLocation
from fusebook.plan.requests import KeyAsk, Operation, PlanContext, Request, located, step_error
from fusebook.recipe.types import BlockRef, Bool, HexData, Name, OrTemplate, Text, is_template
from fusebook.secret import Secret
from fusebook.steps.base import (
    ExactlyOneSource,
    StepBase,
    StepCheck,
    StepFiles,
    StepKind,
    material,
    read_file_arg,
    step_data,
)


class BurnKeyArgs(ExactlyOneSource):
    block: BlockRef
    purpose: Name | None = Field(None, description="key purpose (not on ESP32)")
    file: Text | None = Field(None, description="key file, relative to this recipe file")
    data: HexData | None = None
    read_protect: Bool | None = Field(None, description="default: as espefuse for the purpose")
    write_protect: Bool | None = Field(None, description="default: true")


class BurnKeyStep(StepBase):
    kind: ClassVar[str] = "burn_key"
    burn_key: Annotated[BurnKeyArgs | str, OrTemplate(BurnKeyArgs)]


# -- checks ------------------------------------------------------------------------------------
def check_purpose(c: StepCheck, args: Any, digest: bool) -> None:
    """The step's `purpose:` against the chip's key purposes (a digest step: a digest one)."""
    purpose = args.purpose
    chip = c.chip
    if not chip.key_purposes:
        if purpose is not None:
            blocks = ", ".join(n for b in chip.blocks[1:] for n in (b.aliases or (b.name,)))
            c.fail(f"{chip.name} key blocks have no purpose; the block name says what a key is for",
                   c.at("purpose"), hint=f"leave out `purpose:` (blocks: {blocks})")
        return
    if purpose is None:
        names = [kp.name for kp in chip.key_purposes if kp.digest or not digest]
        c.fail(f"on {chip.name} this step needs `purpose:`", c.at(), hint="purposes: " + ", ".join(names))
    elif not is_template(purpose):
        kp = c.run(lambda: chip.key_purpose(purpose), c.at("purpose"))
        if kp is not None and digest and not kp.digest:
            c.fail(f"{kp.name} is not a secure boot digest purpose", c.at("purpose"))


def check(c: StepCheck, args: Any) -> None:
    if isinstance(args, str):
        return
    c.block(args.block, "block")
    check_purpose(c, args, digest=False)
    c.file(args.file, "file")


# -- files -------------------------------------------------------------------------------------
def prepare(args: Any, files: StepFiles, chip: ChipDef, origin: SourceLocation | None) -> Any:
    """The key file read in (as a secret); an ECDSA purpose's PEM turned into its scalar."""
    args = read_file_arg(args, files, origin, secret=True)
    if isinstance(args, dict) and "ECDSA" in str(args.get("purpose", "")):
        return _ecdsa_key(args, files, chip, origin)
    return args


def _ecdsa_key(args: dict[str, Any], files: StepFiles, chip: ChipDef,
               origin: SourceLocation | None) -> dict[str, Any]:
    """ECDSA purposes take a private key PEM; burn its scalar, padded as espefuse does."""
    from fusebook.keys.ecdsa import ecdsa_key_block_data, ecdsa_private_key_bytes
    from fusebook.keys.files import GENERATE_ECDSA_KEY_HINT, refuse_placeholder

    raw = material(args.get("file") if args.get("file") is not None else args.get("data"))
    if b"-----BEGIN" not in raw:
        return args  # raw key bytes: burned as given
    key = files.derived_key("ecdsa", chip.name, raw, lambda: ecdsa_private_key_bytes(raw))
    refuse_placeholder(key.reveal(), "the ECDSA private key", origin, hint=GENERATE_ECDSA_KEY_HINT)
    blocks = ecdsa_key_block_data(
        key, str(args.get("purpose")), chip_purposes=[kp.name for kp in chip.key_purposes],
        location=origin,
    )
    out = dict(args)
    out["data"] = Secret(b"".join(b.data.reveal() for b in blocks))
    out.pop("file", None)
    return out


# -- requests ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BurnKey:
    """A rendered burn_key, or the key a burn_key_digest burns.

    `data` is the key as rendered (hex text, bytes or a `Secret`), else `file` as read; the
    protections are None where the recipe leaves them to espefuse's defaults. `digest` is
    set for a secure boot digest worked out from a public key: a key nobody typed.
    """

    block: str | int | None
    purpose: str | None
    data: Any = None
    file: Any = None
    read_protect: bool | None = None
    write_protect: bool | None = None
    digest: bytes | None = None

    @classmethod
    def of(cls, op: Operation) -> BurnKey:
        args = op.args if isinstance(op.args, dict) else {}
        return cls(args.get("block"), args.get("purpose"), args.get("data"), args.get("file"),
                   args.get("read_protect"), args.get("write_protect"))

    def key_bytes(self, op: Operation) -> bytes:
        return step_data(op, self.data, self.file, "burn_key")

    def protections(self, read_default: bool) -> tuple[bool, bool]:
        """(read_protect, write_protect) asked for: the recipe's, else the defaults."""
        read = read_default if self.read_protect is None else bool(self.read_protect)
        return read, True if self.write_protect is None else bool(self.write_protect)


def requests(ctx: PlanContext, op: Operation) -> None:
    burn(ctx, op, BurnKey.of(op))


def burn(ctx: PlanContext, op: Operation, key: BurnKey) -> None:
    """The requests that put `key` where it goes on this chip (errors name step `op`)."""
    chip = ctx.chip
    if chip.key_block_names:
        _burn_key_by_block_name(ctx, op, key)
        return
    if chip.purposes_by_target:
        _burn_key_by_target(ctx, op, key)
        return
    blk = ctx.block(op, key.block)
    if not blk.key_purpose_field:
        keys = ", ".join(b.name for b in chip.key_blocks)
        raise step_error(op, f"{blk.name} is not a key block", hint=f"key blocks: {keys}")
    if not key.purpose:
        raise step_error(op, "burn_key needs `purpose:`")
    purpose = str(key.purpose)
    data = key.key_bytes(op)
    kfield = chip.block_field(blk)
    nbytes = (kfield.bits // 8) if kfield else blk.words * 4
    halves = split_of(chip, purpose)
    if halves is not None:
        first, second = halves
        if len(data) != 2 * nbytes:
            raise step_error(op, f"{purpose} takes {2 * nbytes} bytes of key, got {len(data)}")
        half = (first, data[:nbytes], *_protections(purpose_of(ctx, op, first), key))
        if ctx.key_claims.get(blk.name, (None, op))[0] == half:
            return  # the same key as an earlier step: its two blocks are planned already
        kp2 = purpose_of(ctx, op, second)
        stored = data[nbytes:][::-1] if kp2.reverse else data[nbytes:]
        other = _holding(ctx, second) or _next_free_key_block(ctx, op, blk, int.from_bytes(stored, "little"))
        _one_key(ctx, op, blk, first, data[:nbytes], key)
        _one_key(ctx, op, other, second, data[nbytes:], key)
        return
    if len(data) != nbytes:
        raise step_error(op, f"{blk.name} takes a {nbytes}-byte key, got {len(data)} bytes",
                         hint=_size_hint(data, nbytes))
    _one_key(ctx, op, blk, purpose, data, key)


def split_of(chip: ChipDef, purpose: str) -> tuple[str, str] | None:
    """The purposes of the halves of a two-block key purpose (chip data), else None."""
    return next((kp.split for kp in chip.key_purposes if kp.name == purpose and kp.split), None)


def _refuse_placeholder(op: Operation, key: BurnKey, data: bytes, where: str) -> None:
    """A key given as `data:` or `file:` whose bytes are all equal is a placeholder (docs/keys.md).

    A secure-boot digest computed from a public key PEM is not a key the user typed,
    so it is not checked.
    """
    if key.digest is not None:
        return
    from fusebook.keys.files import refuse_placeholder

    try:
        refuse_placeholder(data, f"the key for {where}", op.location)
    except InputError as e:
        raise step_error(op, e.message, hint=e.hint) from None


def _claim(ctx: PlanContext, op: Operation, where: str, ask: KeyAsk) -> bool:
    """Record that `op` burns key `ask` (purpose, bytes, protections) into `where`.

    True if an earlier step asks for exactly the same (this one adds nothing). Any
    difference is a conflict naming both steps: protection requests are or-ed bits, so
    without this one step's `read_protect: false` would silently lose to another's default.
    """
    earlier = ctx.key_claims.get(where)
    if earlier is None:
        ctx.key_claims[where] = (ask, op)
        return False
    theirs, other = earlier
    if theirs == ask:
        return True
    what = [n for n, a, b in zip(("purpose", "key", "read_protect", "write_protect"), theirs, ask,
                                 strict=True) if a != b]
    raise PlanError(
        f"steps '{other.origin.step}' and '{op.origin.step}' both burn a key into {where}, "
        f"with a different {' and '.join(what)}",
        location=other.location,
        related=tuple(x for x in (op.location,) if x is not None),
        hint="keep one of them, or guard them with `when:` so only one applies",
    )


def _protections(kp: KeyPurpose, key: BurnKey) -> tuple[bool, bool]:
    """(read_protect, write_protect) a key step asks for, defaults as espefuse."""
    read, write = key.protections(read_default=True)
    return kp.read_protect and read, write


def purpose_of(ctx: PlanContext, op: Operation, name: Any) -> KeyPurpose:
    try:
        return ctx.chip.key_purpose(str(name))
    except InputError as e:
        raise located(op, e) from None


def _holding(ctx: PlanContext, purpose: str) -> BlockDef | None:
    """The key block already holding `purpose`, so a re-run finds its earlier half."""
    value = ctx.chip.key_purpose(purpose).value
    for b in ctx.chip.key_blocks:
        if b.id not in ctx.key_blocks_used and ctx.raw(b.key_purpose_field or "") == value:
            return b
    return None


def _next_free_key_block(ctx: PlanContext, op: Operation, blk: BlockDef, stored: int) -> BlockDef:
    """The block for a two-block key's second half.

    Blocks are programmed highest first, so a burn stopped after the second half's data
    (and before BLOCK0's purposes) leaves it in a block with no purpose yet: a re-run
    must find it there, not take the next empty block.
    """
    image = ctx.image
    keys = list(ctx.chip.key_blocks)
    start = keys.index(blk)
    candidates = []
    for cand in keys[start + 1 :] + keys[:start]:
        if cand.id in ctx.key_blocks_used or cand.id == blk.id:
            continue
        pf = ctx.chip.field(cand.key_purpose_field or "")
        if (
            image.block_readable(cand)
            and image.block_writeable(cand)
            and ctx.raw(pf.name) == 0
            and image.field_writeable(pf)
        ):
            candidates.append(cand)
    for content in (stored, 0):
        for cand in candidates:
            if image.blocks[cand.id] == content:
                return cand
    raise step_error(op, "this key takes two free key blocks; only one is free", cls=PlanError)


def _one_key(ctx: PlanContext, op: Operation, blk: BlockDef, purpose: str, data: bytes, key: BurnKey) -> None:
    chip, image = ctx.chip, ctx.image
    kp = purpose_of(ctx, op, purpose)
    if kp.value < 0:
        raise step_error(op, f"{purpose} is not a purpose a key block can hold")
    pf = chip.field(blk.key_purpose_field or "")
    ctx.check_purpose_allowed(op, pf, kp.value)
    _refuse_placeholder(op, key, data, blk.name)
    read_protect, write_protect = _protections(kp, key)
    if _claim(ctx, op, blk.name, (kp.name, data, read_protect, write_protect)):
        return
    secret = Secret(data)
    ctx.out.key_fingerprints[blk.name] = secret.fingerprint
    ctx.key_blocks_used.add(blk.id)
    if kp.reverse:
        data = data[::-1]

    current_purpose = ctx.raw(pf.name)
    if not image.block_readable(blk):
        # Content cannot be compared: accept only if everything visible matches.
        if current_purpose == kp.value and (not write_protect or not image.block_writeable(blk)):
            ctx.out.skipped.append(blk.name)
            ctx.warn(op, f"{blk.name} is already burned with purpose {kp.name} and is read-protected: "
                         "skipped, content unverifiable")
            return
        raise step_error(
            op,
            f"{blk.name} is read-protected and holds purpose "
            f"{chip.key_purpose_name(current_purpose)} (wanted {kp.name}) or other protections",
            hint="a read-protected key block can never be changed; use another block",
            cls=PlanError,
        )
    ctx.out.requests.append(
        Request(blk.id, (1 << (8 * len(data))) - 1, int.from_bytes(data, "little"), True,
                blk.name, op.origin, not kp.digest, guard=blk.name)  # a digest is public
    )
    if current_purpose != kp.value:
        if not image.field_writeable(pf):
            raise step_error(
                op,
                f"{pf.name} is write-protected and holds "
                f"{chip.key_purpose_name(current_purpose)}; cannot set {kp.name}",
                cls=PlanError,
            )
        ctx.set_field(op, pf, kp.value)
        lock_purpose = True
    else:
        lock_purpose = image.field_writeable(pf)
    if lock_purpose and pf.wr_dis is not None:
        ctx.wr_dis(op, pf.wr_dis)
    _purpose_extras(ctx, op, kp)
    _protect(ctx, op, blk, read_protect, write_protect)


def _protect(ctx: PlanContext, op: Operation, part: BlockDef | FieldDef, read_protect: bool,
             write_protect: bool) -> None:
    """The read- and write-disable bits of where a key went (a block, or ESP32-C2's half)."""
    if read_protect and part.rd_dis:
        ctx.rd_dis(op, part.rd_dis)
    if write_protect and part.wr_dis is not None:
        ctx.wr_dis(op, part.wr_dis)


def _purpose_extras(ctx: PlanContext, op: Operation, kp: KeyPurpose) -> None:
    """Fields a key purpose burns along with its key (chip data `sets`)."""
    for name, value in kp.sets.items():
        if ctx.chip.has_field(name):
            ctx.set_field(op, ctx.chip.field(name), value)


def _burn_key_by_target(ctx: PlanContext, op: Operation, key: BurnKey) -> None:
    """Chip quirk (ESP32-C2): no KEY_PURPOSE fields; the purpose names where the key goes.

    XTS_AES_128_KEY takes all of BLOCK_KEY0 (and burns XTS_KEY_LENGTH_256),
    XTS_AES_128_KEY_DERIVED_FROM_128_EFUSE_BITS its low 128 bits, SECURE_BOOT_DIGEST its
    high 128 bits (the first 16 bytes of a 32-byte digest), as espefuse does.
    """
    chip, image = ctx.chip, ctx.image
    if not key.purpose:
        names = ", ".join(kp.name for kp in chip.key_purposes)
        raise step_error(op, "burn_key needs `purpose:`", hint=f"one of: {names}")
    kp = purpose_of(ctx, op, key.purpose)
    if not kp.target:
        raise step_error(op, f"{kp.name} is not a purpose a key can be burned with")
    target = chip.field(kp.target)
    if key.block is not None:
        blk = ctx.block(op, key.block)
        if blk.id != target.block:
            raise step_error(op, f"{kp.name} keys go to {chip.blocks[target.block].name}, not {blk.name}")
    data = key.key_bytes(op)
    nbytes = target.bits // 8
    if kp.digest_bytes and len(data) == 32 and nbytes == kp.digest_bytes:
        data = data[: kp.digest_bytes]
    if len(data) != nbytes:
        raise step_error(op, f"{kp.name} takes a {nbytes}-byte key, got {len(data)} bytes",
                         hint=_size_hint(data, nbytes))
    _refuse_placeholder(op, key, data, target.name)
    read_protect, write_protect = _protections(kp, key)
    if _claim(ctx, op, target.name, (kp.name, data, read_protect, write_protect)):
        return
    ctx.out.key_fingerprints[target.name] = Secret(data).fingerprint
    if kp.reverse:
        data = data[::-1]
    if not image.field_readable(target):
        rd_on = all((image.rd_dis >> b) & 1 for b in target.rd_dis)
        if read_protect and rd_on and (not write_protect or not image.field_writeable(target)):
            ctx.out.skipped.append(target.name)
            ctx.warn(op, f"{target.name} is already read-protected: skipped, content unverifiable")
            return
        raise step_error(op, f"{target.name} is read-protected; its content cannot be changed", cls=PlanError)
    ctx.out.requests.append(
        Request(target.block, target.mask, target.spread(int.from_bytes(data, "little")), True,
                target.name, op.origin, not kp.digest, guard=target.name)  # a digest is public
    )
    _purpose_extras(ctx, op, kp)
    _protect(ctx, op, target, read_protect, write_protect)


def _burn_key_by_block_name(ctx: PlanContext, op: Operation, key: BurnKey) -> None:
    """Chip quirk (ESP32): no key purposes; the name the block is called by says what the key
    is for (`flash_encryption`, `secure_boot_v1`: byte-reversed and read-protected)."""
    chip, image = ctx.chip, ctx.image
    name = "" if key.block is None else str(key.block)
    blk = ctx.block(op, name)
    if blk.id == 0:
        keys = ", ".join(b.name for b in chip.blocks if b.id != 0)
        raise step_error(op, f"{blk.name} is not a key block", hint=f"key blocks: {keys}")
    data = key.key_bytes(op)
    nbytes = image.data_bytes(blk)
    if len(data) != nbytes:
        raise step_error(op, f"{blk.name} takes a {nbytes}-byte key, got {len(data)} bytes",
                         hint=_size_hint(data, nbytes))
    _refuse_placeholder(op, key, data, blk.name)
    use = chip.key_block_names.get(name)
    read_protect, write_protect = key.protections(read_default=use is not None and use.read_protect)
    if _claim(ctx, op, blk.name, (name, data, read_protect, write_protect)):
        return
    secret = Secret(data)
    ctx.out.key_fingerprints[blk.name] = secret.fingerprint
    if use is not None and use.reverse:
        data = data[::-1]
    if not image.block_readable(blk):
        if not write_protect or not image.block_writeable(blk):
            ctx.out.skipped.append(blk.name)
            ctx.warn(op, f"{blk.name} is already read-protected: skipped, content unverifiable")
            return
        raise step_error(op, f"{blk.name} is read-protected; its content cannot be changed", cls=PlanError)
    ctx.out.requests.append(
        Request(blk.id, (1 << (8 * len(data))) - 1, int.from_bytes(data, "little"), True,
                blk.name, op.origin, key.digest is None, guard=blk.name)  # a digest is public
    )
    _protect(ctx, op, blk, read_protect, write_protect)


def _size_hint(data: bytes, nbytes: int) -> str:
    from fusebook.keys.files import size_hint

    return size_hint(data, (nbytes,))


KIND = StepKind("burn_key", BurnKeyStep, args_model=BurnKeyArgs, check=check, prepare=prepare,
                requests=requests, key_args=("data",), value=BurnKey)
