"""Fixtures of the page's tests: ledgers on both stores, as the ledger tests make them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_target(request: Any, tmp_path: Path) -> str:
    """A new, empty ledger: an SQLite file path, or the URL of a new PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite")
    return str(request.getfixturevalue("postgres").create_ledger())
