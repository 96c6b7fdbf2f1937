"""Numbers written as text by users: ASCII digits only.

Python's `int()` and `float()` accept any Unicode decimal digit, so `int("٣")` is 3 and
`int("３")` (fullwidth) is 3 too. A recipe, an input or a command line that spells a
number in such digits is far more likely a copy-paste accident than intent, and an eFuse
value must mean exactly what the reviewer read; every number parsed from user text goes
through here and such text is not a number.
"""

from __future__ import annotations


def parse_int(text: str, base: int = 0) -> int:
    """`int(text, base)` for ASCII text only; ValueError otherwise (as `int` raises)."""
    if not text.isascii():
        raise ValueError(f"{text!r} is not written in ASCII digits")
    return int(text, base)


def parse_float(text: str) -> float:
    """`float(text)` for ASCII text only; ValueError otherwise."""
    if not text.isascii():
        raise ValueError(f"{text!r} is not written in ASCII digits")
    return float(text)


def integer(text: str) -> int:
    """An argparse `type=` for whole numbers (decimal, ASCII digits only)."""
    return parse_int(text, 10)
