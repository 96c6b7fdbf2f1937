"""Committing a burn plan through a controller: program, read back, verify, retry.

Each block write is programmed, the controller's read command refreshes the read
registers, the block's error flags are checked and its content compared with what the
plan predicts. A block that did not take is programmed again (at most three programs, as
espefuse does); a block holding a bit the plan did not ask for stops everything at once.
Whatever happens, the result says exactly which blocks are programmed and verified.

A burn is stopped cooperatively: whoever wants it to end (a signal handler, a station's
supervisor) sets a `StopRequest`, and `commit` honours it only between two block writes.
A program command, its wait for the controller and the block's read-back are never cut,
so the chip is always left with every block either as before or as planned and verified.
The core emits `CommitEvent`s and never prints: renderers live with the callers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from fusebook.drivers.controller import Controller
from fusebook.efuse.image import EfuseImage
from fusebook.errors import Aborted, BurnError, FusebookError, LinkError, Stopped
from fusebook.plan.model import BlockWrite, BurnPlan

MAX_PROGRAMS = 3


#: Where a burn stands, for whoever may ask it to stop: "before" nothing is being sent and
#: the caller may abandon at once; "burning" a stop waits for the block boundary; "after"
#: every block is verified, so a stop changes nothing.
Phase = Literal["before", "burning", "after"]


class StopRequest:
    """A request to end a burn at the next block boundary, shared by a burn and its stopper.

    `request` may be called from a signal handler or another thread: it only records the
    reason. The first reason wins; `count` tells a handler how often it was asked, so it
    can say that a second Ctrl-C still waits for the program in flight.
    """

    def __init__(self) -> None:
        self.phase: Phase = "before"
        self.reason: str | None = None
        self.count = 0

    def request(self, reason: str) -> int:
        """Ask the burn to stop; returns how many requests there have been, this one included."""
        if self.reason is None:
            self.reason = reason
        self.count += 1
        return self.count

    @property
    def requested(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True)
class CommitEvent:
    """Progress of a burn: "start", then per block "program" and "verified", then "done".

    `index` is the write's position in the plan (the plan's length for "start" and "done").
    """

    kind: Literal["start", "program", "verified", "done"]
    index: int
    total: int
    write: BlockWrite | None = None


@dataclass
class ApplyResult:
    """What a commit did: verified writes, programs issued, and the image read back."""

    verified: list[BlockWrite] = field(default_factory=list)
    locked_out: bool = False  # the last program shut the download mode: no read-back
    programs: int = 0
    retries: int = 0
    in_flight: BlockWrite | None = None
    after: EfuseImage | None = None
    stopped_by: str | None = None  # the stop request that ended the burn early

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
        elif self.stopped_by is not None:
            lines.append("in flight when it stopped: nothing (the program under way finished and was verified)")
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
    """True if this program burned a field that ends the ROM's register access at once.

    Those are the chip's link lock-out fields (download mode off, or secure download mode
    on, where the ROM re-reads them after every read command): the burn cannot be read
    back, as with espefuse.
    """
    if write.block != 0 or write.phase != "lock":
        return False
    chip = controller.chip
    return any(chip.has_field(n) and write.new_bits & chip.field(n).mask
               for n in chip.link.lockout_fields)


def _honour_stop(stop: StopRequest, result: ApplyResult) -> None:
    """Raise for a pending stop: Aborted if nothing was sent yet, else Stopped (partial)."""
    result.stopped_by = stop.reason
    if result.programs == 0:
        raise Aborted(
            f"stopped by {stop.reason} before the first program command: nothing was sent to the chip",
            hint="run the same apply again when ready",
        )
    raise Stopped(
        f"stopped by {stop.reason} during the burn: the chip is partially burned",
        hint="every block is either as before or programmed and verified; "
             "run the same apply again to complete the unit (nothing is burned twice)",
    )


def commit(
    plan: BurnPlan,
    controller: Controller,
    *,
    stop: StopRequest | None = None,
    on_event: Callable[[CommitEvent], None] | None = None,
    progress: ApplyResult | None = None,
) -> ApplyResult:
    """Burn `plan` through `controller`; BurnError/LinkError/Stopped carry the progress report.

    `stop` is checked before each block write and nowhere else; `on_event` hears progress.
    `progress` is the result to fill in as the burn goes (a new one if not given): a caller
    that must know what was sent when something other than a FusebookError cuts the burn
    (KeyboardInterrupt in a program without a handler) passes its own and reads it after.
    """
    result = progress if progress is not None else ApplyResult()
    readback: dict[int, int] = {}
    total = len(plan.writes)

    def emit(kind: Literal["start", "program", "verified", "done"], index: int,
             write: BlockWrite | None = None) -> None:
        if on_event is not None:
            on_event(CommitEvent(kind, index, total, write))

    if stop is not None:
        stop.phase = "burning"
    try:
        emit("start", total)
        for index, write in enumerate(plan.writes):
            if stop is not None and stop.requested:
                _honour_stop(stop, result)
            blk = controller.chip.blocks[write.block]
            result.in_flight = write
            emit("program", index, write)
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
                        if stop is not None:
                            stop.phase = "after"
                        emit("done", total)
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
            emit("verified", index, write)
        if stop is not None:
            stop.phase = "after"  # every block is verified: a stop from here on changes nothing
        emit("done", total)
        result.after = _read_after(plan, controller, readback)
    except FusebookError as e:
        e.message = f"{e.message}\n{result.report(plan)}"
        e.progress = result
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
        err.progress = result
        raise err
    return result


__all__ = ["MAX_PROGRAMS", "ApplyResult", "CommitEvent", "LinkError", "Phase", "StopRequest", "commit"]
