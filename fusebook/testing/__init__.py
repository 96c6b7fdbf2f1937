"""Testing recipes like code: test files run by `fusebook test`, and a pytest plugin.

`fusebook.testing.model` is the test file format; `runner` finds and runs cases against
an in-memory virtual chip; `start` builds starting chips; `compare` turns outcomes into
readable differences; `pytest_plugin` offers the same to Python tests.
"""

from __future__ import annotations

from typing import Any

#: The assertion helpers, importable from here: `from fusebook.testing import assert_changes`.
ASSERTIONS = ("assert_changes", "assert_unchanged", "assert_exit", "assert_refused", "assert_warnings",
              "assert_skipped", "assert_ensure")


def __getattr__(name: str) -> Any:
    # Imported on first use: the recipe models import fusebook.testing.model, and the
    # assertions import the api, which imports the recipe models.
    if name in ASSERTIONS:
        from fusebook.testing import assertions

        return getattr(assertions, name)
    raise AttributeError(f"module 'fusebook.testing' has no attribute {name!r}")
