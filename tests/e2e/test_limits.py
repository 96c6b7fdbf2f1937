"""Invalid input through the real command line: exit 2 within seconds, never a hang.

Each case runs `fusebook` as a subprocess with a wall-clock timeout and an address-space
limit, so a file read forever or a template that doubles a string fails the test instead
of stalling it. Each checks the exit code, that stderr has no traceback or "internal
error", and, where a chip is involved, that its efuse file is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fusebook.ledger import Ledger
from fusebook.plan.model import plan_digest
from tests.ledger.units import unit
from tests.special_files import make_special

from .conftest import ROOT, Run

TIMEOUT_S = 30
MEMORY_LIMIT = 512 << 20


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def fb(*args: object, cwd: Path | None = None) -> Run:
    env = dict(os.environ)
    env.pop("FUSEBOOK_DEBUG", None)
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-m", "fusebook", *map(str, args)], input="", capture_output=True,
                          text=True, cwd=cwd or ROOT, env=env, timeout=TIMEOUT_S, preexec_fn=_limited)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def clean(r: Run, code: int = 2) -> None:
    assert r.code == code, (r.code, r.err[-800:])
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err[-800:]


RECIPE = """\
fusebook: 1
name: limits
chip: esp32c3
{table}inputs:
  data: {{file: data.json}}
steps:
  - include: frag.yaml
  - burn_block_data: {{block: BLOCK_USR_DATA, offset: 0, file: blob.bin}}
  - burn_efuse: {{WR_DIS: "{{{{ inputs.data.bits }}}}"}}
"""
FRAGMENT = "steps:\n  - burn_efuse: {DIS_USB_JTAG: 1}\n"


@pytest.fixture
def case(short_tmp_dir: Path) -> Path:
    """A directory short enough to hold a Unix socket's path."""
    return short_tmp_dir


def _recipe(d: Path, table: bool = False) -> Path:
    (d / "recipe.yaml").write_text(RECIPE.format(table="extend_efuse_table: table.csv\n" if table else ""))
    (d / "frag.yaml").write_text(FRAGMENT)
    (d / "data.json").write_text('{"bits": 1}')
    (d / "blob.bin").write_bytes(b"\x01\x02\x03\x04")
    (d / "table.csv").write_text("USER_SERIAL, EFUSE_BLK3, 0, 32, unit serial\n")
    return d / "recipe.yaml"


KINDS = ("fifo", "dev-zero-link", "directory", "socket")


def _special(path: Path, kind: str, keep: list[socket.socket]) -> None:
    """Put a file that is not a regular file at `path`."""
    make_special(path, kind, keep)


def _efuse(d: Path) -> tuple[Path, str]:
    f = d / "chip.efuse"
    clean(fb("snapshot", "--virt", "--chip", "esp32c3", "--as", "efuse-file", "-o", f), 0)
    return f, hashlib.sha256(f.read_bytes()).hexdigest()


PLACES = ("recipe", "include", "input", "--input", "step file", "custom table", "--extend-efuse-table",
          "--snapshot", "saved plan", "ledger")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("place", PLACES)
def test_a_file_that_is_not_a_regular_file_is_refused(case: Path, place: str, kind: str) -> None:
    recipe = _recipe(case, table=place == "custom table")
    special = case / "special.json"
    keep: list[socket.socket] = []
    args: list[object] = ["plan", recipe, "--snapshot", "blank", "--chip", "esp32c3"]
    try:
        if place == "recipe":
            _special(recipe, kind, keep)
        elif place == "include":
            _special(case / "frag.yaml", kind, keep)
        elif place == "input":
            _special(case / "data.json", kind, keep)
        elif place == "--input":
            _special(special, kind, keep)
            args += ["--input", f"data={special}"]
        elif place == "step file":
            _special(case / "blob.bin", kind, keep)
        elif place == "custom table":
            _special(case / "table.csv", kind, keep)
        elif place == "--extend-efuse-table":
            _special(special, kind, keep)
            args += ["--extend-efuse-table", special]
        elif place == "--snapshot":
            _special(special, kind, keep)
            args = ["plan", recipe, "--snapshot", special, "--chip", "esp32c3"]
        if place in ("saved plan", "ledger"):
            efuse, before = _efuse(case)
            if place == "saved plan":
                _special(special, kind, keep)
                args = ["apply", special, "--virt", "--chip", "esp32c3", "--efuse-file", efuse, "--yes",
                        "--no-ledger"]
            else:
                _special(case / "ledger.sqlite", kind, keep)
                args = ["apply", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", efuse, "--yes",
                        "--ledger", case / "ledger.sqlite"]
            clean(fb(*args, cwd=case))
            assert hashlib.sha256(efuse.read_bytes()).hexdigest() == before
            return
        r = fb(*args, cwd=case)
        clean(r)
        assert "error:" in r.err
    finally:
        for s in keep:
            s.close()


def test_an_alias_bomb_in_an_input_file_is_refused(case: Path) -> None:
    recipe = _recipe(case)
    (case / "data.json").unlink()
    lines = ["bits: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 9)]
    (case / "bomb.yaml").write_text("\n".join(lines) + "\n")
    recipe.write_text(recipe.read_text().replace("data.json", "bomb.yaml")
                      .replace("{{ inputs.data.bits }}", "{{ inputs.data | string | length }}"))
    r = fb("plan", recipe, "--snapshot", "blank", "--chip", "esp32c3", cwd=case)
    clean(r)
    assert "bomb.yaml" in r.err and "aliases" in r.err


def test_include_fan_out_is_bounded(case: Path) -> None:
    (case / "f6.yaml").write_text("steps:\n  - burn_efuse: {DIS_USB_JTAG: 1}\n")
    for level in range(5, -1, -1):
        body = "".join(f"  - include: f{level + 1}.yaml\n" for _ in range(20))
        (case / f"f{level}.yaml").write_text("steps:\n" + body)
    recipe = case / "recipe.yaml"
    recipe.write_text("fusebook: 1\nname: fan\nchip: esp32c3\nsteps:\n  - include: f0.yaml\n")
    r = fb("validate", recipe, cwd=case)
    clean(r)
    assert "more than 256 includes" in r.err and ".yaml:" in r.err


def test_a_nul_in_an_include_path_is_an_error(case: Path) -> None:
    recipe = case / "recipe.yaml"
    recipe.write_text('fusebook: 1\nname: nul\nchip: esp32c3\nsteps:\n  - include: "frag\\0.yaml"\n')
    r = fb("validate", recipe, cwd=case)
    clean(r)
    assert "recipe.yaml:5:" in r.err and "NUL" in r.err


@pytest.mark.parametrize("template", [
    "{{ inputs.data.big" + " | hex" * 15 + " }}",
    "{{ (" + " ~ ".join(["inputs.data.big"] * 40) + ") | length }}",
    "{{ (inputs.data.big + inputs.data.big + inputs.data.big) | length }}",
])
def test_a_growing_template_is_refused_with_its_location(case: Path, template: str) -> None:
    recipe = _recipe(case)
    (case / "data.json").write_text(json.dumps({"bits": 1, "big": "a" * 30000}))
    recipe.write_text(recipe.read_text().replace('"{{ inputs.data.bits }}"', json.dumps(template)))
    r = fb("plan", recipe, "--snapshot", "blank", "--chip", "esp32c3", cwd=case)
    clean(r)
    assert "recipe.yaml:9:" in r.err and "longer than" in r.err


@pytest.mark.parametrize("args", [
    ["check", "{recipe}", "--indices", "1-3", "--set", "foo"],
    ["check", "{recipe}", "--indices", "1-3", "--input", "foo"],
    ["plan", "{recipe}", "--snapshot", "blank", "--chip", "esp32c3", "--set", "foo"],
    ["plan", "{recipe}", "--snapshot", "blank", "--chip", "esp32c3", "--input", "data"],
    ["apply", "{recipe}", "--virt", "--chip", "esp32c3", "--yes", "--no-ledger", "--set", "foo"],
    ["apply", "{recipe}", "--virt", "--chip", "esp32c3", "--yes", "--no-ledger", "--input", "=x"],
    ["plan", "{recipe}", "--snapshot", "blank", "--chip", "esp32c3", "--index", "٣"],
    ["plan", "{recipe}", "--snapshot", "blank", "--chip", "esp32c3", "--index", "３"],
    ["check", "{recipe}", "--indices", "١-3"],
    ["plan", "{recipe}", "--snapshot", "blank", "--chip", "esp32c3", "-o", "/nonexistent/plan.json"],
])
def test_malformed_options_are_exit_2(case: Path, args: list[str]) -> None:
    recipe = _recipe(case)
    r = fb(*[a.format(recipe=recipe) for a in args], cwd=case)
    clean(r)
    assert "error:" in r.err


def test_ledger_export_to_a_path_that_cannot_be_written(case: Path) -> None:
    recipe = _recipe(case)
    efuse, _ = _efuse(case)
    ledger = case / "ledger.sqlite"
    clean(fb("apply", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", efuse, "--yes", "--ledger", ledger), 0)
    for target in ("/nonexistent/x.csv", str(case), str(ledger)):
        r = fb("ledger", "export", "--csv", "--ledger", ledger, "-o", target, cwd=case)
        clean(r)
        assert "error:" in r.err
    assert ledger.stat().st_size > 0


@pytest.mark.parametrize("value", ['"٣"', '"３"', '"0x٣"'])
def test_non_ascii_digits_are_not_numbers(case: Path, value: str) -> None:
    recipe = _recipe(case)
    recipe.write_text(recipe.read_text().replace('"{{ inputs.data.bits }}"', value))
    r = fb("plan", recipe, "--snapshot", "blank", "--chip", "esp32c3", cwd=case)
    clean(r)


def test_a_non_ascii_number_from_set_is_refused(case: Path) -> None:
    recipe = _recipe(case)
    recipe.write_text(recipe.read_text().replace("inputs:", "vars:\n  n: 1\ninputs:")
                      .replace('"{{ inputs.data.bits }}"', '"{{ vars.n }}"'))
    clean(fb("plan", recipe, "--snapshot", "blank", "--chip", "esp32c3", "--set", "n=٣", cwd=case))
    clean(fb("plan", recipe, "--snapshot", "blank", "--chip", "esp32c3", "--set", "n=1", cwd=case), 0)


@pytest.mark.parametrize("template", ["{{ index + 1 }}", "{{ index }}"])
def test_index_without_index_says_to_pass_it(case: Path, template: str) -> None:
    recipe = _recipe(case)
    recipe.write_text(recipe.read_text().replace('"{{ inputs.data.bits }}"', f'"{template}"'))
    r = fb("plan", recipe, "--snapshot", "blank", "--chip", "esp32c3", cwd=case)
    clean(r)
    assert "--index" in r.err and "TypeError" not in r.err
    clean(fb("plan", recipe, "--snapshot", "blank", "--chip", "esp32c3", "--index", "1", cwd=case), 0)


def _saved(case: Path) -> tuple[Path, Path, str, dict[str, Any]]:
    recipe = _recipe(case)
    efuse, before = _efuse(case)
    plan = case / "plan.json"
    clean(fb("plan", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", efuse, "-o", plan, cwd=case), 0)
    return plan, efuse, before, json.loads(plan.read_text())


def _resealed(body: dict[str, Any]) -> dict[str, Any]:
    reviewed = ("chip", "revision", "snapshot_digest", "changes", "writes", "warnings", "skipped",
                "key_fingerprints")
    body["digest"] = plan_digest({k: v for k, v in body.items() if k in reviewed})
    return body


@pytest.mark.parametrize("edit", ["writes=5", "recipe=[]", "index=x", "index=true", "inputs=7", "chip=null",
                                  "skipped=[1]", "not-utf8", "not-json", "list"])
def test_a_saved_plan_with_wrong_types_is_exit_2(case: Path, edit: str) -> None:
    plan, efuse, before, body = _saved(case)
    if edit == "writes=5":
        body["writes"] = 5
    elif edit == "recipe=[]":
        body["recipe"] = []
    elif edit == "index=x":
        body["recipe"]["index"] = "x"
    elif edit == "index=true":
        body["recipe"]["index"] = True
    elif edit == "inputs=7":
        body["recipe"]["inputs"] = 7
    elif edit == "chip=null":
        body["chip"] = None
    elif edit == "skipped=[1]":
        body["skipped"] = [1]
    if edit == "not-utf8":
        plan.write_bytes(plan.read_bytes().replace(b'"source": "', b'"source": "\xff'))
    elif edit == "not-json":
        plan.write_text(plan.read_text()[:-20])
    elif edit == "list":
        plan.write_text("[1, 2]")
    else:
        plan.write_text(json.dumps(_resealed(body)))
    r = fb("apply", plan, "--virt", "--chip", "esp32c3", "--efuse-file", efuse, "--yes", "--no-ledger", cwd=case)
    clean(r)
    assert "plan" in r.err
    assert hashlib.sha256(efuse.read_bytes()).hexdigest() == before


@pytest.mark.parametrize("part", ["changes", "warnings", "skipped", "key_fingerprints"])
def test_a_saved_plan_whose_reviewed_parts_were_edited_is_refused(case: Path, part: str) -> None:
    plan, efuse, before, body = _saved(case)
    if part == "changes":
        body["changes"][0]["after"] = 0 if body["changes"][0]["after"] else 1
    elif part == "warnings":
        body["warnings"].append({"message": "reviewed", "origin": None})
    elif part == "skipped":
        body["skipped"].append("BLOCK_KEY5")
    else:
        body["key_fingerprints"]["BLOCK_KEY5"] = "sha256:0000"
    plan.write_text(json.dumps(_resealed(body)))
    r = fb("apply", plan, "--virt", "--chip", "esp32c3", "--efuse-file", efuse, "--yes", "--no-ledger", cwd=case)
    clean(r, 3)
    assert part in r.err and "different plan" in r.err
    assert hashlib.sha256(efuse.read_bytes()).hexdigest() == before


def test_an_unedited_saved_plan_still_applies(case: Path) -> None:
    plan, efuse, before, _ = _saved(case)
    elsewhere = case / "sub"
    elsewhere.mkdir()
    clean(fb("apply", plan, "--virt", "--chip", "esp32c3", "--efuse-file", efuse, "--yes", "--no-ledger",
             cwd=elsewhere), 0)
    assert hashlib.sha256(efuse.read_bytes()).hexdigest() != before


@pytest.mark.parametrize("kind", ["truncated", "pages overwritten", "table dropped", "wrong application_id",
                                  "unit value changed"])
def test_apply_with_a_damaged_ledger_burns_nothing(case: Path, kind: str) -> None:
    from tests.ledger.test_damage import DAMAGE

    recipe = _recipe(case)
    efuse, _ = _efuse(case)
    ledger = case / "ledger.sqlite"
    with Ledger(ledger) as book:
        for i in range(40):
            rid = book.begin(**unit(i + 1, factory_mac=f"7c:df:a1:00:00:{i:02x}"))
            book.finish(rid, "ok", after_token=f"EFSR:after-{rid}")
    db = sqlite3.connect(ledger)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    DAMAGE["pages overwritten (1)" if kind == "pages overwritten" else kind](ledger)
    before = hashlib.sha256(efuse.read_bytes()).hexdigest()
    r = fb("apply", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", efuse, "--yes", "--ledger", ledger,
           cwd=case)
    clean(r)
    assert "ledger" in r.err and "hint:" in r.err
    assert hashlib.sha256(efuse.read_bytes()).hexdigest() == before
