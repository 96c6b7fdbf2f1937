"""docs/tutorials/ci.md's snippets are YAML, the fusebook commands they run exist with the
options they give, and the jobs' commands pass on this repository's recipes."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from fusebook.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "tutorials" / "ci.md"


def snippets() -> tuple[Any, Any]:
    github, gitlab = (YAML(typ="safe").load(b) for b in
                      re.findall(r"^```yaml\n(.*?)^```", DOC.read_text(), re.MULTILINE | re.DOTALL))
    return github, gitlab


def github_scripts(workflow: Any) -> list[str]:
    """The `run:` scripts of every job's steps, in order."""
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def gitlab_scripts(config: Any) -> list[str]:
    """Every job's `before_script` and `script` lines, in order."""
    return [line for name, job in config.items() if isinstance(job, dict) and "script" in job
            for line in [*job.get("before_script", []), *job["script"]]]


def fusebook_commands(scripts: list[str]) -> list[list[str]]:
    """The `fusebook ...` command lines, as words, up to a shell substitution."""
    return [shlex.split(line.split("$(")[0]) for script in scripts for line in script.splitlines()
            if line.strip().startswith("fusebook ")]


def help_text(command: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            main([command, "--help"])
        except SystemExit as e:
            assert e.code == 0, f"`fusebook {command} --help` exits {e.code}"
    return out.getvalue()


def test_the_snippets_are_a_workflow_and_a_gitlab_job() -> None:
    github, gitlab = snippets()
    assert set(github) >= {"name", "on", "jobs"} and github["jobs"]["recipes"]["runs-on"] == "ubuntu-latest"
    assert gitlab["recipes"]["artifacts"]["reports"]["junit"] == "reports/*.xml"


def test_the_commands_exist_with_the_options_given() -> None:
    github, gitlab = snippets()
    for scripts in (github_scripts(github), gitlab_scripts(gitlab)):
        commands = fusebook_commands(scripts)
        assert sorted(argv[1] for argv in commands) == ["check", "test", "validate"]
        assert all("--junit" in argv for argv in commands if argv[1] in ("check", "test"))
        for argv in commands:
            text = help_text(argv[1])
            for option in (w for w in argv[2:] if w.startswith("-")):
                assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), \
                    f"`fusebook {argv[1]} --help` has no {option}"


def test_a_misspelt_option_is_caught() -> None:
    assert not re.search(r"(?<![\w-])--junt(?![\w-])", help_text("check"))


def test_the_jobs_pass_on_this_repositorys_recipes(tmp_path: Path) -> None:
    """Each job's lines run in a shell, as CI runs them, in a copy of the repository's recipes."""
    shutil.copytree(ROOT / "recipes", tmp_path / "recipes")
    prelude = 'fusebook() { "$FUSEBOOK_PYTHON" -m fusebook "$@"; }\nset -eo pipefail\n'
    env = {k: v for k, v in os.environ.items() if k not in ("FUSEBOOK_LEDGER", "FUSEBOOK_DEBUG")}
    env.update(FUSEBOOK_PYTHON=sys.executable, PYTHONPATH=str(ROOT))
    github, gitlab = snippets()
    for name, scripts in (("github", github_scripts(github)), ("gitlab", gitlab_scripts(gitlab))):
        shutil.rmtree(tmp_path / "reports", ignore_errors=True)
        for script in scripts:
            if script.startswith("pip install"):
                continue
            proc = subprocess.run(["bash", "-c", prelude + script], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, (name, script, proc.stdout, proc.stderr)
        assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["check.xml", "recipe-tests.xml"]
