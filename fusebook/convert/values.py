"""What a script's expressions stand for, statically: a known value, or a recipe expression.

A burn script mixes values known when it is read (literals, the commands of a config file
given to `convert`) with values known only per unit (`args.index`, a per-unit config entry,
an eFuse read from the chip). The first are carried as `Known` Python values and end up
literally in the recipe; the second as `Sym` Jinja expressions that the recipe computes;
strings made of both (an f-string, `.format`) as `Text`. Nothing is ever executed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fusebook.errors import InputError


class Untranslatable(Exception):
    """A construct with no recipe equivalent; `line` is the script line to report."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class Known:
    """A value known when the script is read."""

    value: Any


@dataclass(frozen=True)
class Sym:
    """A value the recipe computes per unit: a Jinja expression.

    `chip` says it reads the chip (`efuses.X`, `readable(...)`), so it may only be used
    where the recipe's `efuses` is the chip the script read at that point.
    """

    expr: str
    chip: bool = False


@dataclass(frozen=True)
class Text:
    """A string made of literal text and per-unit expressions."""

    pieces: tuple[str | Sym, ...]

    @property
    def chip(self) -> bool:
        return any(isinstance(p, Sym) and p.chip for p in self.pieces)


@dataclass(frozen=True)
class FileRef:
    """A file the script opens: `path` as the script names it (relative to where it runs)."""

    path: str


@dataclass(frozen=True)
class InputRef:
    """A config file the script loads (`json.load(args.configfiles[N])`)."""

    number: int
    data: Any  # the file's content when given to `convert`, else None
    loaded: bool


Value = Known | Sym | Text | FileRef | InputRef


def literal(value: Any) -> str:
    """A Python value as a Jinja literal."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if not value.isprintable():
            raise Untranslatable("a string with control characters")
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise Untranslatable(f"a {type(value).__name__} value")


_ATOM = re.compile(r"^(?:[A-Za-z_][\w.]*(?:\[[^\[\] ]*\])?|-?[0-9]+|'[^']*'|\"[^\"]*\"|[a-z_]+\('[^']*'\)"
                   r"|\[[^\[\]()]*\])$")


def paren(expr: str) -> str:
    """An expression in parentheses unless it is one name, number, string or simple call."""
    return expr if _ATOM.match(expr) else f"({expr})"


def expr_of(value: Value) -> str:
    """A value as a Jinja expression."""
    if isinstance(value, Known):
        return literal(value.value)
    if isinstance(value, Sym):
        return value.expr
    if isinstance(value, Text):
        if len(value.pieces) == 1 and isinstance(value.pieces[0], Sym):
            return f"{paren(value.pieces[0].expr)}|string"
        parts = [literal(p) if isinstance(p, str) else f"{paren(p.expr)}|string" for p in value.pieces]
        return "(" + " ~ ".join(parts or ["''"]) + ")"
    raise Untranslatable("a file or config object used as a value")


def reads_chip(value: Value) -> bool:
    return isinstance(value, Sym | Text) and value.chip


def template_of(value: Value) -> Any:
    """A value as it goes into a recipe: the Known value itself, else a template string."""
    if isinstance(value, Known):
        return value.value
    if isinstance(value, Sym):
        return "{{ " + value.expr + " }}"
    if isinstance(value, Text):
        out = []
        for p in value.pieces:
            if isinstance(p, str):
                if "{{" in p or "{%" in p or "{#" in p:
                    raise Untranslatable("text that looks like a template")
                out.append(p)
            else:
                out.append("{{ " + p.expr + " }}")
        return "".join(out)
    raise Untranslatable("a file or config object used as a value")


def concat(parts: list[Value]) -> Value:
    """Strings joined: Known if every part is, else Text."""
    pieces: list[str | Sym] = []
    for part in parts:
        if isinstance(part, Known):
            pieces.append(part.value if isinstance(part.value, str) else str(part.value))
        elif isinstance(part, Sym):
            pieces.append(part)
        elif isinstance(part, Text):
            pieces.extend(part.pieces)
        else:
            raise Untranslatable("a file or config object used in text")
    merged: list[str | Sym] = []
    for p in pieces:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + p
        elif p != "":
            merged.append(p)
    if all(isinstance(p, str) for p in merged):
        return Known("".join(merged))  # type: ignore[arg-type]
    return Text(tuple(merged))


def split_words(value: Value) -> list[Value]:
    """A command string split on white space, as espefuse 4 splits it (`str.split()`).

    An expression inside a word stays inside it: per-unit values are taken to hold no spaces.
    """
    if isinstance(value, Known):
        if not isinstance(value.value, str):
            raise Untranslatable("an espefuse command that is not a string")
        return [Known(w) for w in value.value.split()]
    if isinstance(value, Sym):
        raise Untranslatable("an espefuse command computed entirely at run time")
    if not isinstance(value, Text):
        raise Untranslatable("an espefuse command that is not a string")
    words: list[list[str | Sym]] = [[]]
    for p in value.pieces:
        if isinstance(p, Sym):
            words[-1].append(p)
            continue
        for i, chunk in enumerate(p.replace("\t", " ").replace("\n", " ").split(" ")):
            if i > 0:
                words.append([])
            if chunk:
                words[-1].append(chunk)
    return [concat([Known(x) if isinstance(x, str) else x for x in w]) for w in words if w]


def script_error(message: str, file: str, line: int | None = None, column: int | None = None,
                 hint: str | None = None) -> InputError:
    from fusebook.errors import SourceLocation

    return InputError(message, location=SourceLocation(file, line, column), hint=hint)
