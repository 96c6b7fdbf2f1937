"""The style DESIGN.md asks for: ruff and `mypy --strict` clean, checked in the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean() -> None:
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "fusebook", "tests", "tools", "benchmarks"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_is_clean() -> None:
    """Every function typed, no Any leaking out, no stale ignores (also `strict = true` in pyproject.toml)."""
    r = subprocess.run([sys.executable, "-m", "mypy", "--strict", "fusebook"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
