"""`fusebook test`: cases run against virtual chips, pass when they should and fail when they should.

Every failing case here is a real recipe test file whose expectation is wrong (a field
value, the exit class, an unexpected change, a warning, an ensure): the runner must call
it FAILED, say what differs, and exit 1. A test file that is itself wrong is exit 2, with
file:line:column.
"""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fusebook import api
from fusebook.snapshot.formats import to_json, to_token
from fusebook.testing.start import start_image

from ..e2e.conftest import fusebook

ROOT = Path(__file__).resolve().parents[2]

RECIPE = """\
fusebook: 1
name: lockdown
chip: [esp32c3, esp32s3]
vars:
  secure_version: 1
steps:
  - name: JTAG off
    burn_efuse: {DIS_PAD_JTAG: 1, SECURE_VERSION: "{{ vars.secure_version }}"}
ensure:
  - that: "efuses.DIS_PAD_JTAG"
    message: "pad JTAG must be off"
  - that: "efuses.SECURE_VERSION < 4"
    message: "secure version past 3"
"""


def write(folder: Path, tests: str, recipe: str = RECIPE, name: str = "lockdown") -> Path:
    (folder / f"{name}.yaml").write_text(recipe)
    path = folder / f"{name}.test.yaml"
    path.write_text(textwrap.dedent(tests))
    return path


def one(path: Path) -> api.Any:
    report = api.run_tests([path])
    assert not report.errors, [e.render() for e in report.errors]
    assert len(report.results) == 1
    return report.results[0]


# -- the example recipes' own tests ------------------------------------------------------------------
def test_the_example_recipes_pass_their_own_tests() -> None:
    r = fusebook("test", "recipes/", cwd=ROOT)
    assert r.code == 0, r.out + r.err
    lines = r.out.splitlines()
    assert any(line == "recipes/custom-mac.test.yaml::unit-7-gets-its-mac PASSED" for line in lines)
    assert any(line.startswith("recipes/usb-jtag-lockdown.yaml::") for line in lines)  # a recipe's own tests:
    assert " passed in " in lines[-1] and "failed" not in lines[-1]


# -- passing -----------------------------------------------------------------------------------------
def test_a_case_that_holds_passes(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        fusebook: 1
        cases:
          - id: ok
            expect:
              changes: {DIS_PAD_JTAG: 1, SECURE_VERSION: 1}
              unchanged: [DIS_USB_JTAG]
              warnings: []
              skipped: []
              ensure_fails: []
        """)
    result = one(path)
    assert result.status == "passed", result.details


# -- failing: each expectation can fail ----------------------------------------------------------------
@pytest.mark.parametrize("expect,shows", [
    ("changes: {DIS_PAD_JTAG: 1, SECURE_VERSION: 2}", ["SECURE_VERSION: expected 2, got 1 (was 0)"]),
    ("changes: {DIS_PAD_JTAG: 1}", ["+ SECURE_VERSION: 0 -> 1 (not expected)"]),
    ("changes: {DIS_PAD_JTAG: 1, SECURE_VERSION: 1, DIS_USB_JTAG: 1}", ["DIS_USB_JTAG: expected 1, not changed"]),
    ("changes_include: {DIS_USB_JTAG: true}", ["DIS_USB_JTAG: expected true, not changed"]),
    ("unchanged: [SECURE_VERSION]", ["SECURE_VERSION: expected unchanged, got 0 -> 1"]),
    ("exit: plan-impossible", ["expected exit 3 (plan-impossible), got 0 (ok)"]),
    ("exit: 0, refusal: JTAG", ["expected a refusal matching 'JTAG', but the recipe went through"]),
    ("warnings: ['factory MAC']", ["- no warning matches 'factory MAC'"]),
    ("skipped: [BLOCK_KEY0]", ["- skipped expected but not: BLOCK_KEY0"]),
    ("ensure_fails: ['pad JTAG']", ["- no failing ensure matches 'pad JTAG'"]),
])
def test_a_wrong_expectation_fails_and_says_what_differs(tmp_path: Path, expect: str, shows: list[str]) -> None:
    path = write(tmp_path, f"""\
        fusebook: 1
        cases:
          - id: wrong
            expect: {{{expect}}}
        """)
    result = one(path)
    assert result.status == "failed"
    text = "\n".join(result.details)
    for s in shows:
        assert s in text
    assert f"{path}:4:" in result.details[0]  # located at the expectation


def test_the_command_reports_failed_cases_as_pytest_does(tmp_path: Path) -> None:
    write(tmp_path, """\
        fusebook: 1
        cases:
          - id: good
          - id: wrong-value
            expect: {changes: {DIS_PAD_JTAG: 1, SECURE_VERSION: 3}}
          - id: wrong-exit
            expect: {exit: invalid-input}
        """)
    junit = tmp_path / "report.xml"
    r = fusebook("test", tmp_path, "--junit", junit)
    assert r.code == 1, r.out + r.err
    lines = r.out.splitlines()
    assert f"{tmp_path}/lockdown.test.yaml::good PASSED" in lines
    assert f"{tmp_path}/lockdown.test.yaml::wrong-value FAILED" in lines
    assert f"{tmp_path}/lockdown.test.yaml::wrong-exit FAILED" in lines
    assert "FAILURES" in r.out and "SECURE_VERSION: expected 3, got 1" in r.out
    assert "2 failed, 1 passed in" in lines[-1]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "2", "0")
    failed = {c.get("name"): c.find("failure") for c in suite.iter("testcase")}
    assert failed["good"] is None
    assert failed["wrong-exit"] is not None and "expected exit 2" in (failed["wrong-exit"].get("message") or "")


def test_json_format_lists_every_case(tmp_path: Path) -> None:
    write(tmp_path, """\
        fusebook: 1
        cases: [{id: a}, {id: b, expect: {exit: 5}}]
        """)
    r = fusebook("test", tmp_path, "--format", "json")
    assert r.code == 1
    body = json.loads(r.out)
    assert [(c["id"], c["status"]) for c in body["cases"]] == [("a", "passed"), ("b", "failed")]


# -- refusals, ensure, starting chips ---------------------------------------------------------------
def test_refusals_and_ensure_outcomes(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        fusebook: 1
        cases:
          - id: ensure-refuses-on-the-predicted-chip
            set: {secure_version: 7}
            expect:
              exit: plan-impossible
              refusal: "^ensure: secure version past 3"
              ensure_fails: ["SECURE_VERSION < 4"]
              changes_include: {SECURE_VERSION: 7}
          - id: cannot-go-back
            start: {fields: {SECURE_VERSION: 3}}
            expect:
              refusal: "cannot go from 1 to 0"
              changes: {}
          - id: a-recipe-that-does-not-load
            set: {nope: 1}
            start: {chip: esp32c3}
            expect: {exit: invalid-input, refusal: "nope"}
          - id: planned-only
            mode: plan
            start: {chip: esp32s3}
            expect: {changes_include: {DIS_PAD_JTAG: 1}}
        """)
    report = api.run_tests([path])
    assert [(r.case.spec.id, r.status) for r in report.results] == [
        ("ensure-refuses-on-the-predicted-chip", "passed"), ("cannot-go-back", "passed"),
        ("a-recipe-that-does-not-load", "passed"), ("planned-only", "passed")], \
        [d for r in report.results for d in r.details]
    assert report.exit_code == 0


def test_starting_chips_from_snapshot_files_and_tokens(tmp_path: Path) -> None:
    image = start_image("esp32c3", fields={"DIS_PAD_JTAG": 1, "SECURE_VERSION": 1})
    (tmp_path / "done.json").write_text(json.dumps(to_json(image, "test")))
    path = write(tmp_path, f"""\
        fusebook: 1
        cases:
          - id: from-a-snapshot-file
            start: done.json
            expect: {{changes: {{}}}}
          - id: from-a-token
            start: {{snapshot: "{to_token(image)}"}}
            expect: {{changes: {{}}}}
          - id: from-a-token-wrongly-expected
            start: {{snapshot: "{to_token(image)}"}}
            expect: {{changes_include: {{SECURE_VERSION: 1}}}}
        """)
    report = api.run_tests([path])
    assert [r.status for r in report.results] == ["passed", "passed", "failed"]


# -- bad test files: exit 2, located ---------------------------------------------------------------
@pytest.mark.parametrize("tests,where,says", [
    ("fusebook: 1\ncases:\n  - id: a\n    expct: {}\n", ":4:5:", "unknown key 'expct'"),
    ("fusebook: 1\ncases:\n  - id: a\n  - id: a\n", ":4:9:", "used twice"),
    ("fusebook: 1\ncases:\n  - id: a\n    expect: {warnings: ['(']}\n", ":4:25:", "not a regular expression"),
    ("fusebook: 1\ncases:\n  - id: a\n    expect: {exit: 7}\n", ":4:20:", "input should be 0, 2, 3, 4, 5 or 130"),
    ("fusebook: 1\nrecipe: missing.yaml\ncases: [{id: a}]\n", ":2:1:", "not found"),
    ("fusebook: 1\ncases: [{id: a, expect: {}}\n", ":", "not valid YAML"),
])
def test_a_bad_test_file_is_exit_2_at_file_line_column(tmp_path: Path, tests: str, where: str, says: str) -> None:
    path = write(tmp_path, tests)
    r = fusebook("test", path)
    assert r.code == 2, r.out + r.err
    assert f"{path}{where}" in r.out and says in r.out
    assert "Traceback" not in r.out + r.err
    assert "nothing was run" in r.out


@pytest.mark.parametrize("expect,says", [
    ("{changes: {DIS_PAD_JTAGG: 1}}", "esp32c3 has no field 'DIS_PAD_JTAGG'"),
    ("{skipped: [BLOCK_KEY9]}", "no block 'BLOCK_KEY9'"),
])
def test_expectations_naming_what_the_chip_lacks_are_errors_not_failures(
        tmp_path: Path, expect: str, says: str) -> None:
    path = write(tmp_path, f"fusebook: 1\ncases:\n  - id: a\n    expect: {expect}\n")
    r = fusebook("test", path)
    assert r.code == 2
    assert f"{path}::a ERROR" in r.out and says in r.out and f"{path}:4:" in r.out


def test_a_start_that_cannot_be_made_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "fusebook: 1\ncases:\n  - id: a\n    start: {snapshot: nothere.json}\n")
    result = one(path)
    assert result.status == "error" and f"{path}:4:5" in result.details[0]


def test_no_tests_found_is_exit_2(tmp_path: Path) -> None:
    r = fusebook("test", tmp_path)
    assert r.code == 2 and "no recipe tests found" in r.out


def test_a_snapshot_names_its_chip_for_a_recipe_of_many(tmp_path: Path) -> None:
    s3 = start_image("esp32s3")
    (tmp_path / "s3.json").write_text(json.dumps(to_json(s3, "test")))
    path = write(tmp_path, """\
        fusebook: 1
        cases:
          - id: on-the-second-chip
            start: s3.json
            expect: {changes_include: {DIS_PAD_JTAG: 1}}
          - id: a-chip-that-disagrees
            start: {chip: esp32c3, snapshot: s3.json}
        """)
    report = api.run_tests([path])
    assert [r.status for r in report.results] == ["passed", "error"]
    assert "the snapshot is of esp32s3, the case is for esp32c3" in report.results[1].details[0]


def test_key_material_never_appears_in_a_failure(tmp_path: Path) -> None:
    key = bytes(range(0x40, 0x60))
    (tmp_path / "k.bin").write_bytes(key)
    recipe = """\
fusebook: 1
name: fe
chip: esp32c3
inputs:
  k: {file: k.bin, format: binary, secret: true}
steps:
  - burn_key: {block: BLOCK_KEY0, purpose: XTS_AES_128_KEY, data: "{{ inputs.k | hex }}"}
"""
    path = write(tmp_path, f"""\
        fusebook: 1
        cases:
          - id: wrong-key-expected
            expect: {{changes: {{BLOCK_KEY0: "{bytes(32).hex()}"}}}}
        """, recipe=recipe)
    junit = tmp_path / "r.xml"
    r = fusebook("test", path, "--junit", junit)
    assert r.code == 1
    assert "BLOCK_KEY0: expected " in r.out and "got key sha256:" in r.out  # its fingerprint, never its bytes
    shown = r.out + r.err + junit.read_text()
    for form in (key.hex(), key[::-1].hex(), key.hex().upper()):
        assert form not in shown


def test_the_current_folder_is_searched_by_default(tmp_path: Path) -> None:
    write(tmp_path, "fusebook: 1\ncases: [{id: here}]\n")
    r = fusebook("test", cwd=tmp_path)
    assert r.code == 0 and "lockdown.test.yaml::here PASSED" in r.out
