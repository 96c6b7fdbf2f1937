"""Run one recipe against one chip and say what happened, in terms a test can check.

The outcome of a case is what `fusebook plan` or `fusebook apply` would end with: the exit
class and its message, the plan (field changes, warnings, skipped blocks), the chip after,
and each `ensure` assertion's verdict. Running goes through fusebook.api exactly as the
command line does; only the chip is an in-memory virtual one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from fusebook import api
from fusebook.efuse.image import EfuseImage
from fusebook.errors import FusebookError, PlanError
from fusebook.plan.model import BurnPlan


@dataclass(frozen=True)
class EnsureResult:
    """One `ensure` assertion on the chip after: its expression, verdict and message."""

    that: str
    holds: bool
    message: str | None = None
    location: str | None = None

    def describe(self) -> str:
        return self.that + (f" ({self.message})" if self.message else "")


@dataclass(frozen=True)
class Outcome:
    """What a recipe did to a chip, or why it did nothing."""

    exit_code: int
    error: FusebookError | None = None
    plan: BurnPlan | None = None
    after: EfuseImage | None = None
    ensure: tuple[EnsureResult, ...] | None = None

    @property
    def message(self) -> str | None:
        return self.error.message if self.error is not None else None

    @property
    def changes(self) -> dict[str, tuple[Any, Any]]:
        """Field -> (before, after) as the plan shows them (`<secret>` for key material)."""
        if self.plan is None:
            return {}
        out = {}
        for c in self.plan.changes:
            j = c.to_json()
            out[j["field"]] = (j["before"], j["after"])
        return out

    @property
    def warnings(self) -> list[str]:
        return [w.message for w in self.plan.warnings] if self.plan is not None else []

    @property
    def skipped(self) -> list[str]:
        return list(self.plan.skipped) if self.plan is not None else []

    @property
    def ensure_failures(self) -> list[str]:
        return [e.describe() for e in self.ensure or () if not e.holds]


def ensure_results(loaded: api.LoadedRecipe, image: EfuseImage, index: int | None,
                   burn: BurnPlan | None) -> tuple[EnsureResult, ...]:
    """Each `ensure` of the recipe judged on `image` (the chip after, or its prediction)."""
    from fusebook.recipe.render import check_assertions

    ctx = api._context(loaded, loaded.with_extension(image), index, burn)
    out = []
    for a in loaded.compiled.ensure:
        try:
            failed = check_assertions([a], ctx)
        except FusebookError as e:
            out.append(EnsureResult(a.text, False, f"cannot be evaluated: {e.message}", str(a.origin)))
            continue
        msg = failed[0].message if failed else None
        out.append(EnsureResult(a.text, not failed, msg, str(a.origin)))
    return tuple(out)


def _without_ensure(loaded: api.LoadedRecipe) -> api.LoadedRecipe:
    return dataclasses.replace(loaded, compiled=dataclasses.replace(loaded.compiled, ensure=()))


def _refused(loaded: api.LoadedRecipe, image: EfuseImage, index: int | None, e: FusebookError) -> Outcome:
    """A plan refused: if `ensure` refused it, plan without it to say which assertions fail."""
    if isinstance(e, PlanError) and e.message.startswith("ensure:"):
        try:
            burn = api.plan(_without_ensure(loaded), image, index).plan
        except FusebookError:
            return Outcome(e.exit_code, e)
        return Outcome(e.exit_code, e, burn, burn.after, ensure_results(loaded, burn.after, index, burn))
    return Outcome(e.exit_code, e)


def run_recipe(loaded: api.LoadedRecipe, session: api.Session, index: int | None = None, *,
               mode: str = "apply") -> Outcome:
    """Plan (and with mode "apply", burn and read back) `loaded` on `session`'s chip."""
    image = session.read_image()
    try:
        result = api.plan(loaded, image, index)
    except FusebookError as e:
        return _refused(loaded, image, index, e)
    burn = result.plan
    if mode == "plan":
        return Outcome(0, None, burn, burn.after, ensure_results(loaded, burn.after, index, burn))
    try:
        done = api.apply(loaded, session, index)
    except FusebookError as e:
        after = session.read_image()
        return Outcome(e.exit_code, e, burn, after, ensure_results(loaded, after, index, burn))
    return Outcome(0, None, done.plan, done.after, ensure_results(loaded, done.after, index, done.plan))
