"""The planner: from bit requests and a chip image to an ordered, checked burn plan.

Rules (SPEC §2, "Planner rules"): bits only go 0 → 1; what is already burned is a no-op;
two steps wanting different values of the same bits is an error naming both; write and
read protection and the coding scheme are checked here, never discovered at burn time;
blocks are written from the highest to BLOCK0, and BLOCK0's locking fields go in a final,
separate program, as espefuse does.
"""

from __future__ import annotations

from fusebook.chips.models import BlockDef, ChipDef
from fusebook.efuse import codecs, coding
from fusebook.efuse.image import CODING_34, CODING_NONE, CODING_REPEAT, CODING_RS, EfuseImage
from fusebook.errors import PlanError
from fusebook.plan.block_errors import refuse_damaged_blocks
from fusebook.plan.model import BlockWrite, BurnPlan, FieldChange, PlanWarning
from fusebook.plan.requests import Request, StepRequests
from fusebook.secret import Secret


def _describe(chip: ChipDef, r: Request, block_value: int) -> object:
    """A request's bits in the user's words (a field value, or hex for block data)."""
    if r.secret:
        return "<secret>" if block_value & r.mask else "empty"
    if chip.has_field(r.name) and chip.field(r.name).block == r.block and chip.field(r.name).mask == r.mask:
        f = chip.field(r.name)
        return codecs.decode_value(chip, f, f.gather(block_value))
    lo = (r.mask & -r.mask).bit_length() - 1
    width = (r.mask >> lo).bit_length()
    nbytes = (width + 7) // 8
    return ((block_value & r.mask) >> lo).to_bytes(nbytes, "little").hex()


def _protects(chip: ChipDef, kind: str, bit: int) -> str:
    """What one WR_DIS / RD_DIS bit protects, in the words of the chip data: its blocks, else
    its fields (the first few)."""
    if kind == "WR_DIS":
        blocks = [b.name for b in chip.blocks if b.wr_dis == bit]
        fields = [f.name for f in chip.fields if f.wr_dis == bit and f.name != "WR_DIS"]
    else:
        blocks = [b.name for b in chip.blocks if bit in b.rd_dis]
        fields = [f.name for f in chip.fields if bit in f.rd_dis]
    names = blocks or fields
    if not names:
        return "nothing named"
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _changes_of(chip: ChipDef, r: Request, current: int, fingerprints: dict[str, str]) -> list[FieldChange]:
    """How a request reads in a plan: a protection bit by its number and what it protects
    (`WR_DIS bit 23 (BLOCK_KEY0)`), block data with its byte offsets, a key by the one
    fingerprint the plan, its JSON and the ledger all show, anything else field by field."""
    f = chip.field(r.name) if r.name in ("WR_DIS", "RD_DIS") and chip.has_field(r.name) else None
    if f is not None and f.block == r.block and not r.mask & ~f.mask:
        new = f.gather(r.value & ~current & r.mask)
        return [FieldChange(r.name, r.block, 0, 1, r.origin, detail=f"bit {bit} ({_protects(chip, r.name, bit)})")
                for bit in range(f.bits) if (new >> bit) & 1]
    before, after = _describe(chip, r, current), _describe(chip, r, current | r.value)
    detail = None
    if r.secret and r.name in fingerprints:
        after = f"key {fingerprints[r.name]}"
    if chip.has_block(r.name) and r.mask != (1 << (32 * chip.block(r.name).words)) - 1:
        lo = (r.mask & -r.mask).bit_length() - 1
        width = (r.mask >> lo).bit_length()
        if lo % 8 == 0 and width % 8 == 0:
            detail = f"bytes {lo // 8}..{(lo + width) // 8 - 1}"
    return [FieldChange(r.name, r.block, before, after, r.origin, r.secret, detail)]


def _conflict(a: Request, b: Request, why: str) -> PlanError:
    related = tuple(x for x in (b.origin.location,) if x is not None)
    return PlanError(
        f"steps '{a.origin.step}' and '{b.origin.step}' {why}",
        location=a.origin.location,
        related=related,
        hint="keep one of them, or guard them with `when:` so only one applies",
    )


def _check_conflicts(reqs: list[Request]) -> None:
    exact = [r for r in reqs if r.exact]
    for i, a in enumerate(exact):
        for b in exact[i + 1 :]:
            overlap = a.mask & b.mask
            if overlap and (a.value ^ b.value) & overlap:
                raise _conflict(a, b, f"ask for different values of {a.name}")
    for r in reqs:
        if r.exact:
            continue
        for e in exact:
            if r.value & e.mask & ~e.value:
                raise _conflict(e, r, f"disagree: {r.name} sets bits that {e.name} wants at 0")


def _guard_ok(image: EfuseImage, chip: ChipDef, guard: str) -> bool:
    if chip.has_field(guard):
        return image.field_writeable(chip.field(guard))
    return image.block_writeable(chip.block(guard))


def _guard_readable(image: EfuseImage, chip: ChipDef, guard: str) -> bool:
    if chip.has_field(guard):
        return image.field_readable(chip.field(guard))
    return image.block_readable(chip.block(guard))


def _words_for(image: EfuseImage, blk: BlockDef, bits: int, final: int) -> tuple[int, ...]:
    """The coded words a program command of `blk` needs to set `bits` (final content `final`)."""
    scheme = image.coding(blk)
    nbytes = blk.words * 4
    if scheme == CODING_RS:
        return coding.rs_encode(final.to_bytes(nbytes, "little"))
    if scheme == CODING_34:
        data = bytearray(24)
        full = final.to_bytes(nbytes, "little")[:24]
        new = bits.to_bytes(nbytes, "little")[:24]
        for g in range(0, 24, coding.GROUP_34):
            if any(new[g : g + coding.GROUP_34]):
                data[g : g + coding.GROUP_34] = full[g : g + coding.GROUP_34]
        return coding.encode_34(bytes(data))
    return coding.plain_words(bits.to_bytes(nbytes, "little"), blk.words)


def _check_coding(image: EfuseImage, blk: BlockDef, new: int, reqs: list[Request]) -> None:
    scheme = image.coding(blk)
    current = image.blocks[blk.id]
    first = next((r for r in reqs if r.value & new), reqs[0])
    if scheme == CODING_RS and current:
        raise PlanError(
            f"{blk.name} is Reed-Solomon coded and already written: it cannot take more bits "
            f"(step '{first.origin.step}' asks for {first.name})",
            location=first.origin.location,
            hint="an RS-coded block is programmed once; write everything it needs in one plan",
        )
    if scheme == CODING_REPEAT:
        raise PlanError(f"{blk.name}: the REPEAT coding scheme is not supported",
                        location=first.origin.location)
    if scheme == CODING_34:
        size = image.data_bytes(blk) * 8
        past = next((r for r in reqs if (r.value & new) >> size), None)
        if past is not None:  # a last line of defence: no program can set these bits
            raise PlanError(
                f"{blk.name} uses 3/4 coding, which holds {size} data bits (0..{size - 1}): step "
                f"'{past.origin.step}' asks for bits above them ({past.name})",
                location=past.origin.location,
                hint=f"keep the block's data below bit {size}",
            )
        cur = current.to_bytes(blk.words * 4, "little")
        nb = new.to_bytes(blk.words * 4, "little")
        for g in range(0, 24, coding.GROUP_34):
            if any(nb[g : g + coding.GROUP_34]) and any(cur[g : g + coding.GROUP_34]):
                raise PlanError(
                    f"{blk.name} uses 3/4 coding and bytes {g}..{g + 5} are already written: "
                    f"they cannot take more bits (step '{first.origin.step}')",
                    location=first.origin.location,
                    hint="3/4 coding programs each 6-byte group once",
                )


def _write_protected_bits(image: EfuseImage, blk: BlockDef) -> int:
    """The bits of `blk` that a program command leaves alone, as the silicon does.

    A burned block write-disable bit freezes the whole block; in a block without one
    (BLOCK0), each field with its own write-disable bit is frozen on its own.
    """
    if not image.block_writeable(blk):
        return (1 << (32 * blk.words)) - 1
    wr = image.wr_dis
    mask = 0
    for f in image.chip.fields_in_block(blk.id):
        if f.wr_dis is not None and (wr >> f.wr_dis) & 1:
            mask |= f.mask
    return mask


def _read_protected_bits(image: EfuseImage, blk: BlockDef) -> int:
    """The bits of `blk` that read as 0 whatever they hold (the rules of `EfuseImage.as_read`)."""
    rd = image.rd_dis
    if not rd:
        return 0
    everything = (1 << (32 * blk.words)) - 1
    if len(blk.rd_dis) > 1:
        width = blk.words * 32 // len(blk.rd_dis)
        return sum(((1 << width) - 1) << (k * width) for k, b in enumerate(blk.rd_dis) if (rd >> b) & 1)
    if blk.rd_dis and (rd >> blk.rd_dis[0]) & 1:
        return everything
    mask = 0
    for f in image.chip.fields_in_block(blk.id):
        if f.rd_dis and any((rd >> b) & 1 for b in f.rd_dis):
            mask |= f.mask
    return mask


def _protection_of(chip: ChipDef, blk: BlockDef, bits: int, which: str) -> str:
    """Which field or block, and which WR_DIS/RD_DIS bit, protects `bits` of `blk`."""
    for f in chip.fields_in_block(blk.id):
        if f.mask & bits:
            protect = f.wr_dis if which == "WR_DIS" else f.rd_dis
            if which == "WR_DIS" and blk.wr_dis is not None:
                protect = blk.wr_dis if protect is None else protect
            if protect not in (None, ()):
                return f"{f.name} ({which} bit {protect if isinstance(protect, int) else '/'.join(map(str, protect))})"
    own = blk.wr_dis if which == "WR_DIS" else "/".join(map(str, blk.rd_dis))
    return f"{blk.name} ({which} bit {own})"


def _check_protected(image: EfuseImage, blk: BlockDef, r: Request, new: int) -> None:
    """Refuse bits that land in a write- or read-protected part of `blk`, whatever the step.

    The silicon ignores a write-protected bit, and a read-protected one reads as 0: the
    burn could then neither take nor be verified, and its coding (RS, 3/4) would be
    computed over a content that is not what the chip holds.
    """
    chip = image.chip
    frozen = new & _write_protected_bits(image, blk)
    if frozen:
        raise PlanError(
            f"step '{r.origin.step}' asks for bits of {blk.name} that are write-protected by "
            f"{_protection_of(chip, blk, frozen, 'WR_DIS')}; the chip would ignore them",
            location=r.origin.location,
            hint="write protection is permanent; this unit cannot take the change",
        )
    hidden = _read_protected_bits(image, blk)
    if new & hidden:
        raise PlanError(
            f"step '{r.origin.step}' asks for bits of {blk.name} that are read-protected by "
            f"{_protection_of(chip, blk, new & hidden, 'RD_DIS')}: their content cannot be compared, "
            "so burning them may damage what is there",
            location=r.origin.location,
            hint="read protection is permanent; a read-protected key or data cannot be changed",
        )
    if hidden and image.coding(blk) != CODING_NONE:
        raise PlanError(
            f"part of {blk.name} is read-protected ({_protection_of(chip, blk, hidden, 'RD_DIS')}), so "
            f"its {coding_name(image, blk.id)} coding cannot be computed: step '{r.origin.step}' "
            "cannot add bits to it",
            location=r.origin.location,
            hint="a coded block is programmed whole; write everything it needs before read-protecting",
        )


def _rd_bits_of(chip: ChipDef, guard: str) -> tuple[int, ...]:
    if chip.has_field(guard):
        f = chip.field(guard)
        return f.rd_dis or chip.blocks[f.block].rd_dis
    return chip.block(guard).rd_dis


def _unverifiable(chip: ChipDef, image: EfuseImage, asked: StepRequests) -> list[Request]:
    """Requests into read-protected data that the same recipe read-protects: skipped.

    Their content cannot be compared, but a recipe that burns data and then read-protects
    it must re-apply as a no-op; a read-protected target the recipe does not protect
    itself is someone else's data and stays an error.
    """
    rd_requested = 0
    rd_field = chip.field("RD_DIS")
    for r in asked.requests:
        if r.name == "RD_DIS":
            rd_requested |= (r.value >> rd_field.start) & ((1 << rd_field.bits) - 1)
    kept = []
    for r in asked.requests:
        if r.guard and r.name != "RD_DIS" and not _guard_readable(image, chip, r.guard):
            bits = _rd_bits_of(chip, r.guard)
            if bits and all((rd_requested >> b) & 1 for b in bits):
                asked.warnings.append(
                    PlanWarning(
                        f"{r.name} is already read-protected: skipped, content unverifiable",
                        r.origin,
                    )
                )
                asked.skipped.append(r.name)
                continue
        kept.append(r)
    return kept


def _check_coding_scheme_change(
    image: EfuseImage, by_block: dict[int, list[Request]], new_bits: dict[int, int]
) -> None:
    """Refuse block data planned with a coding scheme that is unknown or about to change.

    On the ESP32, CODING_SCHEME (in BLOCK0, burned last) decides how BLOCK1-3 are coded:
    data planned in the same run would be encoded for the old scheme and then read under
    the new one. And a read-protected CODING_SCHEME reads as 0, whatever it holds.
    """
    chip = image.chip
    coded = [b for b in chip.blocks if b.coding == "esp32" and new_bits.get(b.id)]
    if not coded or not chip.has_field("CODING_SCHEME"):
        return
    scheme = chip.field("CODING_SCHEME")
    data = next(r for r in by_block[coded[0].id] if r.value & new_bits[coded[0].id])
    if not image.field_readable(scheme):
        raise PlanError(
            f"CODING_SCHEME is read-protected, so the coding of {coded[0].name} is unknown: "
            f"step '{data.origin.step}' cannot be encoded for it",
            location=data.origin.location,
            hint="this unit's BLOCK1-3 cannot be planned safely",
        )
    change = next((r for r in by_block.get(scheme.block, ())
                   if r.value & new_bits.get(scheme.block, 0) & scheme.mask), None)
    if change is None:
        return
    raise PlanError(
        f"step '{change.origin.step}' changes CODING_SCHEME and step '{data.origin.step}' writes "
        f"{coded[0].name} in the same run: the data would be coded for the old scheme",
        location=change.origin.location,
        related=tuple(x for x in (data.origin.location,) if x is not None),
        hint="burn CODING_SCHEME in a run of its own first, then plan the block data against the chip",
    )


def build_plan(chip: ChipDef, image: EfuseImage, asked: StepRequests) -> BurnPlan:
    """The plan that takes `image` to what `asked` asks for, or a PlanError saying why not."""
    refuse_damaged_blocks(chip, image, asked.requests)
    by_block: dict[int, list[Request]] = {}
    for r in _unverifiable(chip, image, asked) if image.rd_dis else asked.requests:
        by_block.setdefault(r.block, []).append(r)

    new_bits: dict[int, int] = {}
    staged: dict[int, int] = {}
    changes: list[FieldChange] = []
    for block_id, reqs in by_block.items():
        _check_conflicts(reqs)
        current = image.blocks[block_id]
        want = 0
        for r in reqs:
            want |= r.value
            if r.exact and current & r.mask & ~r.value:
                raise PlanError(
                    f"{r.name}: eFuse bits cannot go from 1 to 0 (on the chip: "
                    f"{_describe(chip, r, current)}, wanted: {_describe(chip, r, r.value)})",
                    location=r.origin.location,
                    hint="this chip already holds another value; it cannot be changed",
                )
        new = want & ~current
        if not new:
            continue
        for r in reqs:
            if not (r.value & ~current & r.mask):
                continue
            if r.guard and not _guard_ok(image, chip, r.guard):
                raise PlanError(
                    f"{r.name} is write-protected on this chip; step '{r.origin.step}' cannot burn it",
                    location=r.origin.location,
                    hint="write protection is permanent; this unit cannot take the change",
                )
            if r.guard and not _guard_readable(image, chip, r.guard):
                raise PlanError(
                    f"{r.name} is read-protected: its content cannot be compared, so burning it "
                    "may damage what is there",
                    location=r.origin.location,
                    hint="read protection is permanent; a read-protected key or data cannot be changed",
                )
            _check_protected(image, chip.blocks[block_id], r, r.value & ~current & r.mask)
            staged[block_id] = staged.get(block_id, 0) | (r.value & r.mask)
            for change in _changes_of(chip, r, current, asked.key_fingerprints):
                if change.label() not in {c.label() for c in changes if c.block == block_id}:
                    changes.append(change)
        _check_coding(image, chip.blocks[block_id], new, reqs)
        new_bits[block_id] = new

    _check_coding_scheme_change(image, by_block, new_bits)

    writes: list[BlockWrite] = []
    progress = list(image.blocks)
    lock_mask = 0
    for name in chip.postponed:
        if chip.has_field(name):
            lock_mask |= chip.field(name).mask
    for blk in reversed(chip.blocks):
        bits = new_bits.get(blk.id, 0)
        if not bits:
            continue
        secret = any(r.secret and r.value & bits for r in by_block[blk.id])
        phases = [("data", bits & ~lock_mask), ("lock", bits & lock_mask)] if blk.id == 0 else [("data", bits)]
        for phase, pbits in phases:
            if not pbits:
                continue
            final = progress[blk.id] | pbits
            fingerprint = None
            if secret:  # the key's own fingerprint, as the changes and the ledger show it
                fingerprint = asked.key_fingerprints.get(blk.name) or Secret(
                    final.to_bytes(blk.words * 4, "little")).fingerprint
            writes.append(BlockWrite(
                blk.id, blk.name, _words_for(image, blk, pbits, final),
                pbits, final, phase, secret, fingerprint,
            ))
            progress[blk.id] = final

    after = image.with_blocks(tuple(progress)).as_read()
    return BurnPlan(
        chip=chip.name,
        revision=image.revision,
        before=image,
        after=after,
        changes=tuple(changes),
        writes=tuple(writes),
        warnings=tuple(asked.warnings),
        skipped=tuple(asked.skipped),
        key_fingerprints=dict(asked.key_fingerprints),
        staged=staged,
    )


def coding_name(image: EfuseImage, block: int) -> str:
    """The coding scheme `image`'s chip applies to `block` now, as espefuse names it."""
    return {CODING_NONE: "NONE", CODING_34: "3/4", CODING_RS: "RS", CODING_REPEAT: "REPEAT"}[
        image.coding(block)
    ]
