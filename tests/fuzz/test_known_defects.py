"""Minimal reproducers of defects the property tests found, kept as regression tests.

A defect found and not yet fixed is added here as a strict xfail (and to the property
tests' KNOWN_DEFECTS, so the search goes on past it); its fix removes both markers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fusebook import api
from fusebook.errors import FusebookError

ROOT = Path(__file__).resolve().parents[2]


def _recipe_with_binary_custom_table(tmp_path: Path) -> Path:
    (tmp_path / "t.csv").write_bytes(b"\xff")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("fusebook: 1\nname: r\nchip: esp32c3\nextend_efuse_table: t.csv\nsteps: []\n")
    return recipe


def test_a_custom_table_that_is_not_utf8_is_exit_2_from_load_recipe(tmp_path: Path) -> None:
    with pytest.raises(FusebookError) as e:
        api.load_recipe(_recipe_with_binary_custom_table(tmp_path))
    assert e.value.exit_code == 2


def test_a_custom_table_that_is_not_utf8_is_exit_2_from_validate(tmp_path: Path) -> None:
    recipe = _recipe_with_binary_custom_table(tmp_path)
    run = subprocess.run([sys.executable, "-m", "fusebook", "validate", str(recipe)], capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 2 and "internal error" not in run.stderr, run.stderr
