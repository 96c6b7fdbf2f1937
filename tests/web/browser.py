"""A real browser for the page's tests: Debian's chromium driven by Playwright, never a
downloaded browser (`playwright install` is not used; the executable path is set)."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("FUSEBOOK_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
#: What a skipped browser test says, so the end of `make test` can count them and tell how to run them.
MARK = "browser tests skipped"
#: Where the browser tests keep their screenshots (gitignored).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or None if they can."""
    if not CHROMIUM.is_file():
        return (f"{MARK}: no {CHROMIUM}; install Debian's chromium to run them: "
                "`apt-get install --no-install-recommends chromium`")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (f"{MARK}: the playwright package is missing; `pip install playwright` (it is in fusebook's "
                "test extra) - never `playwright install`, the tests use Debian's chromium")
    return None
