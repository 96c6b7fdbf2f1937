"""Fixtures shared across the suite."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def short_tmp_dir() -> Iterator[Path]:
    """A fresh directory with a path short enough to hold a Unix socket (108 bytes at most)."""
    d = Path(tempfile.mkdtemp(prefix="fb", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
