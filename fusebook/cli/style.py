"""Colour on a terminal, and none elsewhere or when NO_COLOR is set (https://no-color.org).

Colour only marks what a reader scans for (ok, FAILED, error, warning); the words are
the same without it, so logs, pipes and tests read the same text.
"""

from __future__ import annotations

import os
from typing import TextIO

_CODES = {"green": "32", "red": "31", "yellow": "33", "bold": "1"}


def enabled(stream: TextIO) -> bool:
    """Colour for `stream`: a terminal, and NO_COLOR unset or empty."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def paint(text: str, colour: str, stream: TextIO) -> str:
    """`text` in `colour` if `stream` takes colour, else as it is."""
    if not enabled(stream):
        return text
    return f"\x1b[{_CODES[colour]}m{text}\x1b[0m"


def error_text(rendered: str, stream: TextIO) -> str:
    """A rendered error with its `error:` marker in red (and `warning:` in yellow)."""
    if not enabled(stream):
        return rendered
    return rendered.replace("error:", paint("error:", "red", stream), 1)
