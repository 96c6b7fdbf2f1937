"""Testing recipes like code: test files run by `fusebook test`, and a pytest plugin.

The test file format is `fusebook.recipe.cases` (recipes embed it under `tests:`);
`runner` finds and runs cases against an in-memory virtual chip; `start` builds starting
chips; `outcome` runs a recipe and says what happened; `compare` and `assertions` turn
that into readable differences; `pytest_plugin` offers fixtures to Python tests.

The assertion helpers are importable from here: `from fusebook.testing import assert_changes`.
"""

from fusebook.testing.assertions import (
    assert_changes,
    assert_ensure,
    assert_exit,
    assert_refused,
    assert_skipped,
    assert_unchanged,
    assert_warnings,
)
from fusebook.testing.outcome import EnsureResult, Outcome

__all__ = [
    "EnsureResult",
    "Outcome",
    "assert_changes",
    "assert_ensure",
    "assert_exit",
    "assert_refused",
    "assert_skipped",
    "assert_unchanged",
    "assert_warnings",
]
