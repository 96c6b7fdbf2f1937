"""Committing a burn plan through a controller: program, read back, verify, retry.

Each block write is programmed, the controller's read command refreshes the read
registers, the block's error flags are checked and its content compared with what the
plan predicts. A block that did not take is programmed again (at most three programs, as
espefuse does); a block holding a bit the plan did not ask for stops everything at once.
Whatever happens, the result says exactly which blocks are programmed and verified.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fusebook.drivers.controller import Controller
from fusebook.efuse.image import EfuseImage
from fusebook.errors import BurnError, FusebookError, LinkError
from fusebook.plan.model import BlockWrite, BurnPlan

MAX_PROGRAMS = 3

#: BLOCK0 fields after whose burn the ROM stops answering register reads (download mode
#: off, or secure download mode on): the burn cannot be read back, as with espefuse.
LOCKOUT_FIELDS = ("DIS_DOWNLOAD_MODE", "ENABLE_SECURITY_DOWNLOAD")


@dataclass
class ApplyResult:
    """What a commit did: verified writes, programs issued, and the image read back."""

    verified: list[BlockWrite] = field(default_factory=list)
    locked_out: bool = False  # the last program shut the download mode: no read-back
    programs: int = 0
    retries: int = 0
    in_flight: BlockWrite | None = None
    after: EfuseImage | None = None

    def report(self, plan: BurnPlan) -> str:
        done = [f"{w.block_name} ({w.phase})" for w in self.verified]
        pending = [
            f"{w.block_name} ({w.phase})"
            for w in plan.writes
            if w not in self.verified and w is not self.in_flight
        ]
        lines = ["programmed and verified: " + (", ".join(done) if done else "nothing")]
        if self.in_flight is not None:
            lines.append(
                f"in flight when it stopped: {self.in_flight.block_name} ({self.in_flight.phase}); "
                "its state is read again on the next run"
            )
        if pending:
            lines.append("not done: " + ", ".join(pending))
        return "\n".join(lines)


def _read_value(controller: Controller, write: BlockWrite) -> int:
    blk = controller.chip.blocks[write.block]
    value = 0
    for i, w in enumerate(controller.read_block_words(blk)):
        value |= w << (32 * i)
    return value


def _read_after(plan: BurnPlan, controller: Controller, readback: dict[int, int]) -> EfuseImage:
    """The chip after the burn, reading again only what the burn can have changed.

    Each written block was read back right after its program; blocks whose read
    protection the burn switched on are read once more (they must now read as zero).
    Everything else is unchanged since the complete pre-burn read.
    """
    blocks = list(plan.before.blocks)
    for block_id, value in readback.items():
        blocks[block_id] = value
    newly_hidden = [
        b for b in controller.chip.blocks
        if plan.before.block_readable(b) and not plan.after.block_readable(b)
        or any(
            f.rd_dis and plan.before.field_readable(f) and not plan.after.field_readable(f)
            for f in controller.chip.fields_in_block(b.id)
        )
    ]
    for b in newly_hidden:
        value = 0
        for i, w in enumerate(controller.read_block_words(b)):
            value |= w << (32 * i)
        blocks[b.id] = value
    return plan.before.with_blocks(tuple(blocks))


def _locks_out(controller: Controller, write: BlockWrite) -> bool:
    """True if this program burned a field that ends the ROM's register access."""
    if write.block != 0 or write.phase != "lock":
        return False
    chip = controller.chip
    return any(chip.has_field(n) and write.new_bits & chip.field(n).mask for n in LOCKOUT_FIELDS)


def commit(plan: BurnPlan, controller: Controller) -> ApplyResult:
    """Burn `plan` through `controller`; BurnError/LinkError carry the progress report."""
    result = ApplyResult()
    readback: dict[int, int] = {}
    try:
        for write in plan.writes:
            blk = controller.chip.blocks[write.block]
            result.in_flight = write
            for attempt in range(1, MAX_PROGRAMS + 1):
                controller.program_sent = False
                try:
                    controller.program(blk, write.words, clear=write.secret)
                    result.programs += 1
                    status = controller.block_status(write.block)
                    value = _read_value(controller, write)
                except LinkError:
                    if _locks_out(controller, write) and controller.program_sent:
                        # The chip took the program and then, as it must, stopped answering.
                        result.programs += 1
                        result.locked_out = True
                        result.in_flight = None
                        result.after = plan.after
                        return result
                    raise
                readback[write.block] = value
                if value & ~write.expected:
                    raise BurnError(
                        f"{write.block_name} holds bits the plan did not ask for after programming",
                        hint="stop this unit and inspect it with `fusebook summary`",
                    )
                if status.ok and value == write.expected:
                    break
                if attempt == MAX_PROGRAMS:
                    what = "error flags set" if not status.ok else "not all bits set"
                    raise BurnError(
                        f"{write.block_name}: {what} after {MAX_PROGRAMS} programs",
                        hint="the block may be damaged; `fusebook summary` shows its state",
                    )
                result.retries += 1
            result.verified.append(write)
            result.in_flight = None
        result.after = _read_after(plan, controller, readback)
    except FusebookError as e:
        e.message = f"{e.message}\n{result.report(plan)}"
        e.progress = result  # type: ignore[attr-defined]
        raise
    if result.after.blocks != plan.after.blocks:
        diff = [
            controller.chip.blocks[i].name
            for i, (a, b) in enumerate(zip(result.after.blocks, plan.after.blocks, strict=False))
            if a != b
        ]
        err = BurnError(
            "the chip read back differs from the plan in " + ", ".join(diff),
            hint="`fusebook summary` shows the chip as it is",
        )
        err.progress = result  # type: ignore[attr-defined]
        raise err
    return result


__all__ = ["MAX_PROGRAMS", "ApplyResult", "LinkError", "commit"]
