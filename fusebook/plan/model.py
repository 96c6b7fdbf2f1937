"""The burn plan: a value that says exactly what will be burned, in which order.

A `BurnPlan` is computed purely from (operations, image); it is printed, saved as JSON,
diffed, and committed as is: the dry run *is* the plan that will be burned. Key material
stays inside `BlockWrite.words` in memory only; every serialised form shows a fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from fusebook.efuse.image import EfuseImage
from fusebook.errors import SourceLocation


@dataclass(frozen=True, slots=True)
class Origin:
    """Which recipe step asked for something: its label and file:line:col."""

    step: str
    location: SourceLocation | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.step}" if self.location else self.step

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "location": str(self.location) if self.location else None}


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field before → after, and the step that asked for it."""

    field: str
    block: int
    before: Any
    after: Any
    origin: Origin | None = None
    secret: bool = False
    #: Which part of the field, for a reader: "bit 23 (BLOCK_KEY0)" of WR_DIS, "bytes 4..8" of a block.
    detail: str | None = None

    def label(self) -> str:
        return f"{self.field} {self.detail}" if self.detail else self.field

    def to_json(self) -> dict[str, Any]:
        before, after = self.before, self.after
        if self.secret:  # only the planner's safe words: <secret>, empty, key sha256:...
            before = before if before in ("<secret>", "empty") else "<secret>"
            after = after if isinstance(after, str) and after.startswith("key sha256:") else "<secret>"
        return {
            "field": self.field,
            "detail": self.detail,
            "block": self.block,
            "before": before,
            "after": after,
            "origin": self.origin.to_json() if self.origin else None,
        }


@dataclass(frozen=True, slots=True)
class BlockWrite:
    """One program command: the coded words loaded into the write registers of `block`.

    `phase` is "data" for ordinary writes and "lock" for the final BLOCK0 program that
    carries the bits which lock things (WR_DIS, RD_DIS, download disables, ...).
    `words` are the coded words the program command loads, as the planner encoded them;
    `expected` is the block's data as it must read back right after this program.
    """

    block: int
    block_name: str
    words: tuple[int, ...] = field(repr=False)
    new_bits: int
    expected: int
    phase: str = "data"
    secret: bool = False
    fingerprint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "block": self.block,
            "block_name": self.block_name,
            "phase": self.phase,
            "words": None if self.secret else [f"0x{w:08x}" for w in self.words],
            "redacted": self.secret,
            "fingerprint": self.fingerprint,
            "bits_set": self.new_bits.bit_count(),
        }


@dataclass(frozen=True, slots=True)
class PlanWarning:
    message: str
    origin: Origin | None = None

    def __str__(self) -> str:
        return f"{self.origin.location}: warning: {self.message}" if self.origin and self.origin.location else f"warning: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "origin": self.origin.to_json() if self.origin else None}


@dataclass(frozen=True)
class BurnPlan:
    """Everything `apply` will do to one chip, computed from its image."""

    chip: str
    revision: int
    before: EfuseImage
    after: EfuseImage
    changes: tuple[FieldChange, ...]
    writes: tuple[BlockWrite, ...]
    warnings: tuple[PlanWarning, ...] = ()
    skipped: tuple[str, ...] = ()
    key_fingerprints: dict[str, str] = field(default_factory=dict)
    #: per block id, the bits burned from secret data (keys, secret inputs), known only in
    #: memory: what records and the predicted image's values must redact (not serialised)
    secret_bits: dict[int, int] = field(default_factory=dict, compare=False)
    #: per block id, every bit the steps that change something ask for, already burned ones
    #: included: what espefuse stages in its write registers for the same burn (its EFSW token)
    staged: dict[int, int] = field(default_factory=dict, compare=False)

    @property
    def empty(self) -> bool:
        return not self.writes

    @property
    def snapshot_digest(self) -> str:
        return self.before.digest()

    def to_json(self) -> dict[str, Any]:
        body = {
            "chip": self.chip,
            "revision": self.revision,
            "snapshot_digest": self.snapshot_digest,
            "changes": [c.to_json() for c in self.changes],
            "writes": [w.to_json() for w in self.writes],
            "warnings": [w.to_json() for w in self.warnings],
            "skipped": list(self.skipped),
            "key_fingerprints": dict(self.key_fingerprints),
        }
        body["digest"] = plan_digest(body)
        return body


def plan_digest(body: dict[str, Any]) -> str:
    """SHA-256 of a plan's JSON body (without its own digest): what `apply PLAN` re-checks."""
    data = {k: v for k, v in body.items() if k != "digest"}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
