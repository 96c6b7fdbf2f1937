"""docs/tutorials/testing-recipes.md says what is true: its test file is the example's, its
pytest module passes with the plugin, its CI commands are real commands."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ..e2e.conftest import fusebook
from .test_pytest_plugin import PLUGIN

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "tutorials" / "testing-recipes.md"

pytest_plugins = ["pytester"]


def blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", DOC.read_text(), re.MULTILINE | re.DOTALL)


def test_the_tutorials_test_file_is_the_example_recipes_own() -> None:
    assert blocks("yaml")[0] == (ROOT / "recipes" / "custom-mac.test.yaml").read_text()


def test_the_tutorials_pytest_module_passes_with_the_plugin(pytester: pytest.Pytester) -> None:
    from importlib.metadata import entry_points

    shutil.copytree(ROOT / "recipes", pytester.path / "recipes")
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_custom_mac.py").write_text(blocks("python")[0])
    installed = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
    result = pytester.runpytest_inprocess(*([] if installed else ["-p", PLUGIN]), "-p", "no:cacheprovider",
                                          "tests")
    result.assert_outcomes(passed=3)


def test_the_ci_commands_run(tmp_path: Path) -> None:
    ci = "\n".join(blocks("yaml")[-2:])
    commands = sorted({m.strip() for m in re.findall(r"(fusebook (?:check|test) [^\n]+)", ci)})
    assert len(commands) == 2
    (tmp_path / "reports").mkdir()
    for command in commands:
        argv = shlex.split(command)[1:]
        argv = [str(tmp_path / a) if a.startswith("reports/") else a for a in argv]
        r = fusebook(*argv, cwd=ROOT)
        assert r.code == 0, (command, r.out, r.err)
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["check.xml", "recipe-tests.xml"]


def test_the_ci_snippets_are_yaml() -> None:
    github, gitlab = (YAML(typ="safe").load(b) for b in blocks("yaml")[-2:])
    assert "jobs" in github and "script" in gitlab["recipes"]
