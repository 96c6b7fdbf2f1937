"""The pytest plugin, run by pytest itself (pytester): fixtures, passing and failing assertions.

Each test writes a small test module of the kind a team would write, runs pytest on it
with fusebook's plugin, and checks the outcomes and, for failures, the output a reviewer
reads: a field diff, not a dump of dicts.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes"
PLUGIN = "fusebook.testing.pytest_plugin"

pytest_plugins = ["pytester"]


def run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makepyfile(test_recipes=f"RECIPES = {str(RECIPES)!r}\n" + source)
    installed = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
    args = [] if installed else ["-p", PLUGIN]  # an installed plugin loads itself
    return pytester.runpytest_inprocess(*args, "-p", "no:cacheprovider", "-q")


def test_pyproject_declares_the_plugin_entry_point() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["entry-points"]["pytest11"] == {"fusebook": PLUGIN}


def test_fixtures_load_plan_apply_and_the_assertions_pass(pytester: pytest.Pytester) -> None:
    # a recipe beside the test module: relative paths are from the test file
    pytester.path.joinpath("r.yaml").write_text(
        "fusebook: 1\nname: r\nchip: esp32c3\nsteps:\n  - burn_efuse: {DIS_PAD_JTAG: 1}\n")
    result = run(pytester, '''
from fusebook.testing import (assert_changes, assert_ensure, assert_exit, assert_refused,
                              assert_skipped, assert_unchanged, assert_warnings)

def test_unit_7(virtual_chip, load_recipe, apply_recipe):
    recipe = load_recipe(RECIPES + "/custom-mac.yaml")
    chip = virtual_chip("esp32c3")
    outcome = apply_recipe(recipe, chip, index=7)
    assert_exit(outcome, "ok")
    assert_changes(outcome, {"CUSTOM_MAC": "02:fb:00:00:00:07"})
    assert_unchanged(outcome, ["DIS_PAD_JTAG"])
    assert_warnings(outcome, [])
    assert_ensure(outcome)
    # burned for real: the chip now carries the MAC, and a re-run does nothing
    again = apply_recipe(recipe, chip, index=7)
    assert_changes(again, {})

def test_a_chip_with_another_mac_refuses(virtual_chip, load_recipe, plan_recipe):
    recipe = load_recipe(RECIPES + "/custom-mac.yaml")
    chip = virtual_chip("esp32s3", fields={"CUSTOM_MAC": "02:fb:00:00:00:08"})
    assert_refused(plan_recipe(recipe, chip, index=7), "different custom MAC")

def test_a_keyed_chip_from_a_token_skips_the_key(virtual_chip, load_recipe, apply_recipe):
    recipe = load_recipe(RECIPES + "/flash-encryption-esp32c3.yaml")
    first = virtual_chip("esp32c3")
    apply_recipe(recipe, first)
    from fusebook.snapshot.formats import to_token
    second = virtual_chip(snapshot=to_token(first.read_image()))
    outcome = apply_recipe(recipe, second)
    assert_changes(outcome, {})
    assert_skipped(outcome, ["BLOCK_KEY0"])

def test_set_values(virtual_chip, load_recipe, plan_recipe):
    recipe = load_recipe(RECIPES + "/production-esp32c3.yaml", set={"secure_version": 2})
    outcome = plan_recipe(recipe, virtual_chip("esp32c3"), index=3)
    assert_changes(outcome, {"SECURE_VERSION": 2}, exact=False)

def test_relative(virtual_chip, load_recipe, apply_recipe):
    assert_changes(apply_recipe(load_recipe("r.yaml"), virtual_chip("esp32c3")), {"DIS_PAD_JTAG": 1})
''')
    result.assert_outcomes(passed=5)


def test_failing_assertions_print_what_differs(pytester: pytest.Pytester) -> None:
    result = run(pytester, '''
from fusebook.testing import assert_changes, assert_exit

def test_wrong_fields(virtual_chip, load_recipe, plan_recipe):
    recipe = load_recipe(RECIPES + "/production-esp32c3.yaml")
    outcome = plan_recipe(recipe, virtual_chip("esp32c3"), index=3)
    assert_changes(outcome, {"CUSTOM_MAC": "02:fb:00:00:00:04", "SECURE_VERSION": 1,
                             "DIS_USB_JTAG": 1, "DIS_PAD_JTAG": 1, "SPI_BOOT_CRYPT_CNT": 1})

def test_wrong_exit(virtual_chip, load_recipe, plan_recipe):
    recipe = load_recipe(RECIPES + "/production-esp32c3.yaml")
    chip = virtual_chip("esp32c3", fields={"SECURE_VERSION": 3})
    assert_exit(plan_recipe(recipe, chip, index=3), 0)

def test_typo(virtual_chip, load_recipe, plan_recipe):
    outcome = plan_recipe(load_recipe(RECIPES + "/usb-jtag-lockdown.yaml"), virtual_chip("esp32c3"))
    assert_changes(outcome, {"DIS_USB_JTAGG": 1}, exact=False)
''')
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    # a field diff: one line a field, what was expected against what is planned
    assert "the field changes differ from those expected:" in out
    assert "CUSTOM_MAC: expected 02:fb:00:00:00:04, got 02:fb:00:00:00:03 (was 00:00:00:00:00:00)" in out
    assert "SPI_BOOT_CRYPT_CNT: expected 1, not changed" in out
    assert "+ BLOCK_USR_DATA: " in out and "(not expected)" in out
    assert "{'" not in out  # not a dict dump
    assert "def assert_changes" not in out  # the helper's own frame is hidden
    # the exit class and the refusal's reason
    result.stdout.fnmatch_lines(["*expected exit 0 (ok), got 3 (plan-impossible)*SECURE_VERSION*"])
    # a name the chip lacks, with the closest spelling
    result.stdout.fnmatch_lines(["*esp32c3 has no field 'DIS_USB_JTAGG'*"])
