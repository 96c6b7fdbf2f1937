"""The two ways the ledger says no, each mapped to an exit code of the contract.

A ledger that cannot be opened or written is a problem with the `--ledger PATH|URL` the
user gave (exit 2): a damaged or foreign file, an unreachable server, a refused login. A
per-unit value already recorded on another chip, or an index the ledger cannot give, is a
plan that must not go ahead (exit 3).
"""

from __future__ import annotations

from fusebook.errors import InputError, PlanError
from fusebook.ledger.record import Conflict


class LedgerError(InputError):
    """The ledger cannot be used: not a ledger, too new, damaged, locked, unwritable, unreachable."""


class DuplicateUnitValue(PlanError):
    """A per-unit (`unique`) value is already recorded for a different chip."""

    def __init__(self, conflicts: tuple[Conflict, ...]) -> None:
        first = conflicts[0]
        more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
        super().__init__(
            str(first) + more,
            hint="per-unit values must be unique: check --index and the inputs",
        )
        self.conflicts = conflicts


class IndexRefused(PlanError):
    """`--index auto` cannot give this unit an index: already burned, range used up, no identity.

    `index` is the unit's index when it has one (an already burned unit), else None.
    """

    def __init__(self, message: str, *, index: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.index = index
