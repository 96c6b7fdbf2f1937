"""Fixtures shared across the suite."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.fuzz.profiles import PROFILE

# Every property test of the suite runs the project's profile unless it names its own
# settings: in `make test` derandomized (the same examples every run), with no deadline
# and no health checks that a loaded machine would trip; under `make fuzz`, random seeds.
settings.load_profile(PROFILE)


@pytest.fixture
def short_tmp_dir() -> Iterator[Path]:
    """A fresh directory with a path short enough to hold a Unix socket (108 bytes at most)."""
    d = Path(tempfile.mkdtemp(prefix="fb", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A PostgreSQL server started for this test session (skipped, saying how to enable it,
    where the server programs or psycopg are missing)."""
    from tests import postgres as pg

    reason = pg.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    bindir = pg.find_bindir()
    assert bindir is not None
    server = pg.PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say once, at the end, which PostgreSQL and browser tests did not run and how to run them."""
    from tests import postgres as pg
    from tests.web import browser

    skipped = terminalreporter.stats.get("skipped", [])
    for mark, title, why in ((pg.MARK, "PostgreSQL", pg.skip_reason),
                             (browser.MARK, "browser", browser.skip_reason)):
        these = [r for r in skipped if mark in str(r.longrepr)]
        if these:
            reason = why() or f"{mark} tests skipped"
            terminalreporter.write_sep("-", title, yellow=True)
            terminalreporter.write_line(f"{len(these)} {reason}", yellow=True)
