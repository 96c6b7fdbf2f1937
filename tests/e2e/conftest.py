"""End-to-end helpers: drive the real `fusebook` command line as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


def fusebook(*args: str, stdin: str | None = None, cwd: Path | None = None, timeout: float = 120) -> Run:
    env = dict(os.environ)
    env.pop("FUSEBOOK_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "fusebook", *map(str, args)],
        input=stdin if stdin is not None else "",
        capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def run():
    return fusebook


