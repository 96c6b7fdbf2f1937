"""docs/tutorials/first-recipe.md runs as shown: its files, written to an empty folder, and
its commands, run there in order against the virtual chip, give the output the page shows."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from fusebook.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "tutorials" / "first-recipe.md"


def page_files(text: str) -> dict[str, str]:
    """The files the page asks you to save: a "`NAME`:" line, then a fenced block."""
    return dict(re.findall(r"^`([\w.-]+)`:\n\n```\w+\n(.*?)^```", text, re.MULTILINE | re.DOTALL))


def page_commands(text: str) -> list[tuple[str, list[str]]]:
    """Each `$ fusebook ...` line of the console blocks, with the output lines shown under it."""
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"^```console\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
    return steps


def shown_line(line: str) -> re.Pattern[str]:
    """A shown output line as a pattern for one line of the real output: `…` stands for any text."""
    return re.compile("^" + ".*".join(re.escape(part) for part in line.split("…")) + "$")


def missing_lines(shown: list[str], real: str) -> list[str]:
    """The shown lines not found, in order, among the real output's lines."""
    lines = real.splitlines()
    at = 0
    missing = []
    for line in shown:
        if line.strip() == "…":
            continue
        pattern = shown_line(line)
        for n in range(at, len(lines)):
            if pattern.match(lines[n]):
                at = n + 1
                break
        else:
            missing.append(line)
    return missing


def test_the_comparison_can_fail() -> None:
    assert missing_lines(["a …", "c"], "x\na b\nc\n") == []
    assert missing_lines(["c", "a …"], "a b\nc\n") == ["a …"]
    assert missing_lines(["CUSTOM_MAC: 1"], "CUSTOM_MAC: 2\n") == ["CUSTOM_MAC: 1"]


def _run(argv: list[str]) -> tuple[int, str]:
    """`fusebook ARGV` in this process (as the console script runs it): exit code, stdout + stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue() + err.getvalue()


def test_the_tutorial_runs_as_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = DOC.read_text()
    files = page_files(text)
    assert set(files) == {"first.yaml", "units.csv"}
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    steps = page_commands(text)
    commands = [c for c, _ in steps]
    for needed in ("fusebook validate", "--snapshot blank", "plan first.yaml --virt", "fusebook apply",
                   "--index 2", "fusebook check", "fusebook ledger list", "fusebook ledger show"):
        assert any(needed in c for c in commands), f"the tutorial no longer runs {needed!r}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FUSEBOOK_LEDGER", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    for command, shown in steps:
        argv = shlex.split(command)
        assert argv[0] == "fusebook", command
        code, real = _run(argv[1:])
        refused = any(line.startswith("error:") for line in shown)
        assert (code == 3) if refused else (code == 0), (command, real)
        assert not missing_lines(shown, real), (command, missing_lines(shown, real), real)
    assert (tmp_path / "fusebook-ledger.sqlite").exists()
