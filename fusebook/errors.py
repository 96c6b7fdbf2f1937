"""Error classes of fusebook, each bound to one exit code of the contract.

Every error a user can cause carries where it came from (a `SourceLocation` into a
recipe or an input file) and a hint that says what to do, so the command line can print
`recipe.yaml:12:5: error: ... (hint)` and exit with the right code, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fusebook.commit import ApplyResult


@dataclass(frozen=True)
class SourceLocation:
    """A place in a file: 1-based line and column, as editors count them."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "column": self.column}


class FusebookError(Exception):
    """Base of all errors fusebook reports to a user; `exit_code` is the contract's."""

    exit_code = 1
    kind = "error"
    #: What the burn had done when this error ended it (set by `commit`): which blocks are
    #: programmed and verified, which one was in flight. None for an error outside a burn.
    progress: ApplyResult | None = None

    def __init__(
        self,
        message: str,
        *,
        location: SourceLocation | None = None,
        hint: str | None = None,
        related: tuple[SourceLocation, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint
        self.related = related

    def render(self) -> str:
        """One line as compilers print it, then related places and the hint."""
        prefix = f"{self.location}: " if self.location else ""
        text = f"{prefix}error: {self.message}"
        for place in self.related:
            text += f"\n{place}: note: also here"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "exit_code": self.exit_code,
            "message": self.message,
            "location": self.location.to_json() if self.location else None,
            "related": [r.to_json() for r in self.related],
            "hint": self.hint,
        }


class InputError(FusebookError):
    """Invalid input: usage, recipe, input files, templates, values that cannot fit (exit 2)."""

    exit_code = 2
    kind = "invalid-input"


class PlanError(FusebookError):
    """The plan is not possible on this chip: conflicts, protections, coding, require/ensure (exit 3)."""

    exit_code = 3
    kind = "plan-impossible"


class LinkError(FusebookError):
    """The link to the chip failed: port, protocol, timeouts, detection (exit 4)."""

    exit_code = 4
    kind = "link-error"


class BurnError(FusebookError):
    """Programming or verification failed, or an `ensure` failed on the chip read back (exit 5)."""

    exit_code = 5
    kind = "burn-failed"


class Aborted(FusebookError):
    """Nothing was sent to the chip: not confirmed at the prompt, or stopped before the
    first program command (exit 130)."""

    exit_code = 130
    kind = "aborted"


class Stopped(FusebookError):
    """A stop (a signal) ended a burn between two programs: the chip is partially burned.

    Exit 4, the contract's "link or device" class: the unit is left in a known state (every
    block either as before or programmed and verified) and a re-run completes it.
    """

    exit_code = 4
    kind = "stopped"


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """A hint naming the closest known spelling, for unknown field, step or block names."""
    import difflib

    upper = {c.upper(): c for c in choices}
    close = difflib.get_close_matches(word.upper(), list(upper), n=1, cutoff=0.6)
    return f"did you mean {upper[close[0]]}?" if close else None
