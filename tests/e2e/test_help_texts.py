"""Every option and argument of every command says what it is for in `--help`."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from fusebook.cli.main import build_parser


def _arguments(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action]]:
    """(command path, action) for every argument of `parser` and of its subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _arguments(sub, f"{path} {name}")
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield path, action


def _undocumented(parser: argparse.ArgumentParser) -> list[str]:
    return sorted({
        f"{path} {'/'.join(action.option_strings) or action.dest}"
        for path, action in _arguments(parser, parser.prog)
        if action.help is None or not str(action.help).strip()
    })


def test_every_option_of_every_command_has_a_help_text() -> None:
    missing = _undocumented(build_parser())
    assert not missing, "options without a help text:\n" + "\n".join(missing)


def test_the_walk_reaches_subcommand_options() -> None:
    """The check sees nested options: a parser with one help-less option fails it."""
    p = argparse.ArgumentParser(prog="x")
    sub = p.add_subparsers()
    s = sub.add_parser("cmd")
    s.add_argument("--quiet", action="store_true")
    s.add_argument("thing")
    assert _undocumented(p) == ["x cmd --quiet", "x cmd thing"]
    commands = {path for path, _ in _arguments(build_parser(), "fusebook")}
    assert {"fusebook apply", "fusebook ledger", "fusebook station", "fusebook serve-virtual"} <= commands
