"""What a step asks of a chip: bit requests, and the shared rules for making them.

An `Operation` is one rendered step (kind + concrete arguments + where it came from).
A step kind (`fusebook.steps`) turns it into `Request`s: "these bits of this block must
end up with these values" (exact) or "these bits must be set" (or-mode, for protection
bits and burn_bit), collected with warnings and no-op reasons in `StepRequests`.
`PlanContext` is what a step kind sees while doing so: the chip, the image as read, and
helpers that apply the rules every kind shares (a field's width, the coding scheme, the
WR_DIS/RD_DIS bits). Reading the image is allowed here; nothing is written: that is the
planner's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fusebook.chips.models import BlockDef, ChipDef, FieldDef
from fusebook.efuse.image import CODING_34, CODING_REPEAT, EfuseImage
from fusebook.errors import FusebookError, InputError, PlanError, SourceLocation
from fusebook.plan.model import Origin, PlanWarning


@dataclass(frozen=True)
class Operation:
    """One rendered recipe step."""

    kind: str
    args: Any
    label: str = ""
    location: SourceLocation | None = None

    @property
    def origin(self) -> Origin:
        return Origin(self.label or self.kind, self.location)


@dataclass(frozen=True, slots=True)
class Request:
    """Bits one step wants in one block."""

    block: int
    mask: int
    value: int
    exact: bool
    name: str
    origin: Origin
    secret: bool = False
    guard: str | None = None  # field or block whose write protection forbids this change


@dataclass
class StepRequests:
    """What the operations of one recipe ask of one chip, and what they need not do."""

    requests: list[Request] = field(default_factory=list)
    warnings: list[PlanWarning] = field(default_factory=list)
    #: blocks (or fields) a step leaves alone because they already hold what it asks
    skipped: list[str] = field(default_factory=list)
    key_fingerprints: dict[str, str] = field(default_factory=dict)


#: A key step's ask of one place: (purpose, key bytes, read_protect, write_protect).
KeyAsk = tuple[str, bytes, bool, bool]


def step_error(op: Operation, message: str, hint: str | None = None,
               cls: type[FusebookError] = InputError) -> FusebookError:
    """An error of step `op`, named and located as the step."""
    return cls(f"{op.origin.step}: {message}", location=op.location, hint=hint)


def located(op: Operation, e: InputError) -> InputError:
    """Attach the step's location to an error raised by a value codec."""
    if e.location is None:
        e.location = op.location
    return e


class PlanContext:
    """One chip, its image as read, and the requests the steps have made of it so far."""

    def __init__(self, chip: ChipDef, image: EfuseImage) -> None:
        self.chip = chip
        self.image = image
        self.out = StepRequests()
        self.key_blocks_used: set[int] = set()
        #: where a key goes -> what was asked of it, and by which step
        self.key_claims: dict[str, tuple[KeyAsk, Operation]] = {}

    # -- names ---------------------------------------------------------------------
    def field(self, op: Operation, name: str) -> FieldDef:
        try:
            return self.chip.field(str(name))
        except InputError as e:
            raise located(op, e) from None

    def block(self, op: Operation, name: Any) -> BlockDef:
        try:
            if isinstance(name, int) or (isinstance(name, str) and name.isdigit()):
                idx = int(name)
                if not 0 <= idx < len(self.chip.blocks):
                    raise InputError(f"{self.chip.name} has no block {idx}")
                return self.chip.blocks[idx]
            return self.chip.block(str(name))
        except InputError as e:
            raise located(op, e) from None

    def raw(self, name: str) -> int:
        """A field's raw value on the chip (fields split over several places included)."""
        f = self.chip.field(name)
        return f.gather(self.image.blocks[f.block])

    def protection_bits(self, op: Operation, name: str) -> tuple[int | None, tuple[int, ...], str]:
        """(WR_DIS bit, RD_DIS bits, canonical name) of a field or block called `name`."""
        if self.chip.has_field(name):
            f = self.chip.field(name)
            return f.wr_dis, f.rd_dis, f.name
        if self.chip.has_block(name):
            b = self.chip.block(name)
            return b.wr_dis, b.rd_dis, b.name
        self.field(op, name)  # raises with did-you-mean
        raise AssertionError

    # -- requests ------------------------------------------------------------------
    def set_field(self, op: Operation, f: FieldDef, raw: int, *, secret: bool = False) -> None:
        if raw < 0 or raw >> f.bits:
            # e.g. a 5-bit key purpose on an ESP32-P4 before v3.0, whose KEY_PURPOSE_n has 4 bits
            raise step_error(op, f"{f.name} has {f.bits} bits; it cannot hold {raw}",
                             hint="this value is not available on this chip (or chip revision)",
                             cls=PlanError)
        if f.name in ("WR_DIS", "RD_DIS"):
            self.or_bits(op, f.block, f.spread(raw), f.name, guard=f.name)
            return
        self._check_fits_coding(op, f, raw)
        self.out.requests.append(
            Request(f.block, f.mask, f.spread(raw), True, f.name, op.origin, secret, guard=f.name)
        )

    def _check_fits_coding(self, op: Operation, f: FieldDef, raw: int) -> None:
        """Refuse a value whose bits lie past its block's data under the chip's coding scheme.

        An ESP32 block under 3/4 coding holds 24 data bytes (bits 0..191) of its 32; a
        custom table can still name bits above them, which no program can set.
        """
        bits = f.spread(raw)
        if self.image.bits_fit(f.block, bits):
            return
        size = self.image.data_bytes(f.block) * 8
        blk = self.chip.blocks[f.block]
        scheme = {CODING_34: "3/4", CODING_REPEAT: "REPEAT"}.get(self.image.coding(blk), "its")
        raise step_error(
            op,
            f"{f.name} (bits {f.start}..{f.mask.bit_length() - 1} of {blk.name}) does not fit: under "
            f"{scheme} coding {blk.name} holds {size} data bits (0..{size - 1}), and the value sets "
            f"bit {bits.bit_length() - 1}",
            hint=f"move {f.name} below bit {size} in the custom eFuse table, or burn it on a chip "
                 "whose coding scheme holds the whole block",
            cls=PlanError,
        )

    def or_bits(self, op: Operation, block: int, bits: int, name: str, guard: str | None) -> None:
        if bits:
            self.out.requests.append(Request(block, bits, bits, False, name, op.origin, guard=guard))

    def wr_dis(self, op: Operation, bit: int) -> None:
        self.or_bits(op, 0, 1 << (self.chip.field("WR_DIS").start + bit), "WR_DIS", guard="WR_DIS")

    def rd_dis(self, op: Operation, bits: tuple[int, ...]) -> None:
        v = 0
        for b in bits:
            v |= 1 << b
        f = self.chip.field("RD_DIS")
        self.or_bits(op, 0, v << f.start, "RD_DIS", guard="RD_DIS")

    def check_purpose_allowed(self, op: Operation, f: FieldDef, raw: int) -> None:
        """Refuse a key purpose a silicon erratum forbids in this KEY_PURPOSE field."""
        name = self.chip.key_purpose_name(raw)
        if self.chip.purpose_forbidden(f.name, name):
            raise step_error(
                op,
                f"{f.name} cannot hold {name} on {self.chip.description} (a silicon erratum)",
                hint="use another key block",
                cls=PlanError,
            )

    def requested_or_burned(self, name: str) -> bool:
        """Whether field `name` is set on the chip, or asked for by an earlier step."""
        f = self.chip.field(name)
        if f.gather(self.image.blocks[f.block]):
            return True
        return any(r.block == f.block and r.value & f.mask for r in self.out.requests)

    def warn(self, op: Operation, message: str) -> None:
        self.out.warnings.append(PlanWarning(message, op.origin))
