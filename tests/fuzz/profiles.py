"""Hypothesis settings for the property tests: fixed and small in `make test`, long in `make fuzz`.

`make test` must stay fast and reproducible, so by default every property runs a fixed
(derandomized) set of a few examples. `FUSEBOOK_FUZZ=1` (what `make fuzz` sets) selects
the `fusebook-fuzz` profile instead: random seeds, no deadline, and `FUSEBOOK_FUZZ_SCALE`
(default 100) times as many examples (properties that name their own long count take
SCALE percent of it), so a long run explores what the short one cannot.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FUZZ = os.environ.get("FUSEBOOK_FUZZ", "") not in ("", "0")
SCALE = int(os.environ.get("FUSEBOOK_FUZZ_SCALE", "100"))

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
          HealthCheck.function_scoped_fixture]

settings.register_profile(
    "fusebook-ci", derandomize=True, deadline=None, database=None, suppress_health_check=_QUIET,
    print_blob=True,
)
settings.register_profile(
    "fusebook-fuzz", derandomize=False, deadline=None, database=None, suppress_health_check=_QUIET,
    print_blob=True,
)
PROFILE = "fusebook-fuzz" if FUZZ else "fusebook-ci"


def examples(ci: int, fuzz: int | None = None) -> settings:
    """Settings for one property: `ci` examples in `make test`, many more under `make fuzz`.

    The profile is applied per test rather than loaded globally, so the rest of the suite's
    hypothesis tests keep their own settings whichever profile this run selected.
    """
    n = ((fuzz * SCALE // 100 if fuzz is not None else ci * SCALE) or 1) if FUZZ else ci
    return settings(settings.get_profile(PROFILE), max_examples=n)
