"""Memoise espefuse's YAML table parsing for a test module.

espefuse re-parses its eFuse tables (with pure-Python PyYAML) each time it starts, about
0.2 s per start; the differential tests start it hundreds of times. The parse result
depends only on the file text, so it is kept per text (parsed with libyaml when
available) and deep-copied for each use: espefuse gets the same objects it would build.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import yaml


def memoised_tables() -> Iterator[None]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    parsed: dict[str, Any] = {}
    original = yaml.safe_load

    def safe_load(stream: Any) -> Any:
        text = stream.read() if hasattr(stream, "read") else stream
        if text not in parsed:
            parsed[text] = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
        return copy.deepcopy(parsed[text])

    yaml.safe_load = safe_load
    try:
        yield
    finally:
        yaml.safe_load = original
