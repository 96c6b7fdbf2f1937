"""fusebook's pytest plugin (entry point `pytest11: fusebook`): recipe tests in Python.

Installed with fusebook, it offers four fixtures, each a factory:

- `virtual_chip(chip, fields={...}, snapshot=...)`: an in-memory virtual chip (an
  `api.Session`) that starts blank, from a snapshot file or EFSR token, with a few fields
  burned on top; closed after the test.
- `load_recipe(path, set={...}, inputs={...})`: a recipe loaded as `fusebook plan` loads
  it; a relative path is taken from the test file's folder.
- `plan_recipe(recipe, chip, index=None)` and `apply_recipe(recipe, chip, index=None)`:
  the recipe planned (or burned and read back) on the chip, as an `Outcome` (exit code,
  error, plan, the chip after, each `ensure`'s verdict). A refusal is an outcome, not an
  exception, so a test can assert on it.

The assertion helpers (`assert_changes`, `assert_refused`, ...) are in
`fusebook.testing.assertions`; their failures print a field diff.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from fusebook import api
from fusebook.testing.outcome import Outcome, run_recipe
from fusebook.testing.start import start_image, virtual_session


@pytest.fixture
def virtual_chip() -> Iterator[Callable[..., api.Session]]:
    """A factory of in-memory virtual chips: `virtual_chip("esp32c3", fields={"DIS_PAD_JTAG": 1})`."""
    opened: list[api.Session] = []

    def make(chip: str | None = None, *, fields: Mapping[str, Any] | None = None, snapshot: str = "blank",
             factory_mac: str | None = None) -> api.Session:
        session = virtual_session(start_image(chip, snapshot, fields), mac=factory_mac)
        opened.append(session)
        return session

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def load_recipe(request: pytest.FixtureRequest) -> Callable[..., api.LoadedRecipe]:
    """A recipe loader: `load_recipe("recipes/x.yaml", set={"secure_version": 2})`."""
    here = Path(str(request.path)).parent

    def load(path: str | Path, *, set: Mapping[str, Any] | None = None,
             inputs: Mapping[str, str | Path] | None = None) -> api.LoadedRecipe:
        p = Path(path)
        if not p.is_absolute():
            p = here / p
        set_vars = {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in (set or {}).items()}
        overrides = {k: str(v if Path(v).is_absolute() else here / v) for k, v in (inputs or {}).items()}
        return api.load_recipe(p, input_overrides=overrides, set_vars=set_vars)

    return load


@pytest.fixture
def plan_recipe() -> Callable[..., Outcome]:
    """Plan a loaded recipe on a virtual chip: `plan_recipe(recipe, chip, index=7)`."""

    def plan(recipe: api.LoadedRecipe, chip: api.Session, index: int | None = None) -> Outcome:
        return run_recipe(recipe, chip, index, mode="plan")

    return plan


@pytest.fixture
def apply_recipe() -> Callable[..., Outcome]:
    """Burn a loaded recipe into a virtual chip and read it back: `apply_recipe(recipe, chip, index=7)`."""

    def apply(recipe: api.LoadedRecipe, chip: api.Session, index: int | None = None) -> Outcome:
        return run_recipe(recipe, chip, index, mode="apply")

    return apply
