"""Helpers for the recipe front-end tests: recipe files on disk and a dict-backed chip."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fusebook.errors import FusebookError
from fusebook.recipe.inputs import load_inputs, merge_vars
from fusebook.recipe.loader import load_recipe
from fusebook.recipe.models import Recipe
from fusebook.recipe.render import ChipInfo, CompiledRecipe, RenderContext, compile_recipe

HEAD = "fusebook: 1\nname: t\nchip: esp32c3\n"

#: 32 bytes that must never show up in any output of the tests that use them.
KEY = bytes.fromhex("8f3a5c1e9b7d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c0e2b4d6f8a1c3e5b7d9f02")


class DictEfuses:
    """An `EfuseValues` over plain dicts: the lead's implementation reads an eFuse image."""

    def __init__(self, values: Mapping[str, Any], protected: Iterable[str] = (),
                 read_protected: Iterable[str] = (), meanings: Mapping[str, str] | None = None) -> None:
        self.values = dict(values)
        self.protected = set(protected)
        self.read_protected = set(read_protected)
        self.meanings = dict(meanings or {})
        self.asked: list[str] = []

    def value(self, name: str) -> int | bool | str:
        self.asked.append(name)
        return self.values[name]

    def readable(self, name: str) -> bool:
        self._known(name)
        return name not in self.read_protected

    def writeable(self, name: str) -> bool:
        self._known(name)
        return name not in self.protected

    def meaning(self, name: str) -> str:
        return self.meanings.get(name, str(self.values[name]))

    def names(self) -> Iterable[str]:
        return list(self.values)

    def _known(self, name: str) -> None:
        if name not in self.values:
            raise KeyError(name)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def recipe_file(tmp_path: Path, body: str, name: str = "recipe.yaml") -> Path:
    """A recipe with the usual head (fusebook, name, chip) followed by `body`."""
    return write(tmp_path, name, HEAD + textwrap.dedent(body))


def load(tmp_path: Path, body: str) -> Recipe:
    return load_recipe(recipe_file(tmp_path, body))


def compiled(tmp_path: Path, body: str) -> CompiledRecipe:
    return compile_recipe(load(tmp_path, body))


def context(recipe: Recipe, path: Path | None = None, *, index: int | None = None,
            efuses: DictEfuses | None = None, chip: str = "esp32c3", revision: int = 4,
            set_vars: Mapping[str, str] | None = None) -> RenderContext:
    inputs = load_inputs(recipe, path or Path(recipe.sources.path))[0] if recipe.inputs else {}
    return RenderContext(
        index=index,
        chip=ChipInfo(chip, revision),
        efuses=efuses or DictEfuses({"CUSTOM_MAC": "00:00:00:00:00:00", "DIS_USB_JTAG": False,
                                     "SECURE_VERSION": 0, "KEY_PURPOSE_0": "USER"}),
        inputs=inputs,
        vars=merge_vars(recipe, set_vars),
    )


def where(e: FusebookError) -> tuple[str, int | None, int | None]:
    """(file name, line, column) of an error, for exact location asserts."""
    assert e.location is not None, e
    return Path(e.location.file).name, e.location.line, e.location.column
