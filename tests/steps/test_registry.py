"""One registry of step kinds: every step of the recipe schema has exactly one implementation."""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
from pathlib import Path

import fusebook.steps
from fusebook.recipe.models import STEP_MODELS
from fusebook.steps import STEPS
from fusebook.steps.base import StepKind

ROOT = Path(__file__).resolve().parents[2]


def _schema_step_kinds() -> list[str]:
    """The step keys the checked-in schema takes (snake-case spelling), one per step entry."""
    schema = json.loads((ROOT / "schemas" / "recipe.schema.json").read_text())
    kinds = []
    for ref in schema["properties"]["steps"]["items"]["oneOf"]:
        step = schema["$defs"][ref["$ref"].rsplit("/", 1)[1]]
        spellings = [r["required"] for r in step["oneOf"]] if "oneOf" in step else [step["required"]]
        kinds += [s[0] for s in spellings if "-" not in s[0]]
    return kinds


def _implementations() -> dict[str, list[str]]:
    """Step kind name -> the modules of fusebook.steps that define a `KIND` for it."""
    found: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(fusebook.steps.__path__):
        module = importlib.import_module(f"fusebook.steps.{info.name}")
        kind = getattr(module, "KIND", None)
        if isinstance(kind, StepKind):
            found.setdefault(kind.name, []).append(info.name)
    return found


def test_every_schema_step_has_exactly_one_implementation() -> None:
    implementations = _implementations()
    kinds = _schema_step_kinds()
    assert len(kinds) == len(set(kinds))
    for kind in kinds:
        assert implementations.get(kind, []) == [kind], f"{kind}: {implementations.get(kind)}"


def test_every_implementation_is_in_the_schema_and_the_registry() -> None:
    implementations = _implementations()
    assert set(implementations) == set(_schema_step_kinds())
    assert set(STEPS) == set(implementations)


def test_the_registry_names_each_kind_by_its_model() -> None:
    for name, kind in STEPS.items():
        assert kind.name == name == kind.model.kind
        assert name in kind.model.model_fields
    assert {k: k_.model for k, k_ in STEPS.items()} == STEP_MODELS


def test_only_the_include_step_is_not_planned() -> None:
    assert [k for k, kind in STEPS.items() if not kind.planned] == ["include"]


def test_every_planned_kind_reads_its_step_as_a_frozen_value() -> None:
    for name, kind in STEPS.items():
        if not kind.planned:
            assert kind.value is None
            continue
        assert kind.value is not None and dataclasses.is_dataclass(kind.value), name
        assert kind.value.__dataclass_params__.frozen, name  # type: ignore[attr-defined]
        assert callable(getattr(kind.value, "of", None)), name
