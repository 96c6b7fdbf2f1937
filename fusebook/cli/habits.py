"""Command-line habits people bring from espefuse, and help for a mistyped word.

espefuse takes its connection options before the command (`espefuse --chip esp32c3
--virt summary`); fusebook's commands own their options, so `command_first` moves options
written before the command to just after it. `suggestion` finds what a mistyped command
or option was meant to be.
"""

from __future__ import annotations

import argparse
import re

from fusebook.api import did_you_mean

_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")
_UNRECOGNISED = re.compile(r"unrecognized arguments: (.*)")


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> dict[str, bool]:
    """Every option string of `parser` and its commands, and whether it takes a value."""
    out: dict[str, bool] = {}
    for p in (parser, *_commands(parser).values()):
        for action in p._actions:
            for opt in action.option_strings:
                out[opt] = action.nargs != 0
    return out


def command_first(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """`argv` with the known options written before the command moved after it.

    Anything that is not a known option before the command (a typo, `--help`,
    `--version`) leaves `argv` as it is, for argparse to handle and report.
    """
    commands = _commands(parser)
    options = _options(parser)
    moved: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in commands:
            return [word, *moved, *argv[i + 1 :]] if moved else argv
        name = word.split("=", 1)[0]
        if not word.startswith("-") or name in ("-h", "--help", "--version") or name not in options:
            return argv
        moved.append(word)
        if options[name] and "=" not in word:
            if i + 1 >= len(argv):
                return argv
            moved.append(argv[i + 1])
            i += 1
        i += 1
    return argv


def suggestion(parser: argparse.ArgumentParser, message: str) -> str | None:
    """A did-you-mean hint for argparse's `message` about an unknown command or option."""
    m = _INVALID_CHOICE.search(message)
    if m:
        return did_you_mean(m.group(1), re.findall(r"'([^']*)'", m.group(2)))
    m = _UNRECOGNISED.search(message)
    if m:
        known = [o for o in _options(parser) if o.startswith("--")]
        for word in m.group(1).split():
            if word.startswith("--"):
                hint = did_you_mean(word.split("=", 1)[0], known)
                if hint:
                    return hint
    return None
