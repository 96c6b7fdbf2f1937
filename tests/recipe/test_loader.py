"""Loading recipes: YAML errors, the schema, unknown keys and steps, exact error positions."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusebook.errors import InputError
from fusebook.recipe.document import RecipeErrors
from fusebook.recipe.loader import load_recipe
from fusebook.steps.burn_key import BurnKeyArgs

from .helpers import HEAD, load, recipe_file, where, write


def error(tmp_path: Path, body: str, head: str = HEAD) -> InputError:
    path = write(tmp_path, "recipe.yaml", head + body)
    with pytest.raises(InputError) as e:
        load_recipe(path)
    assert e.value.exit_code == 2
    return e.value


def test_a_valid_recipe_loads_with_typed_steps(tmp_path: Path) -> None:
    r = load(tmp_path, """\
        description: demo
        vars: {jtag_off: true}
        unique: [CUSTOM_MAC]
        steps:
          - burn_custom_mac: "02:00:00:00:00:01"
          - name: key
            burn_key: {block: BLOCK_KEY0, purpose: XTS_AES_128_KEY, data: "00112233"}
          - write_protect_efuse: DIS_USB_JTAG
          - set_flash_voltage: 3.3v
        """)
    assert r.name == "t" and r.chips == ("esp32c3",)
    assert [s.kind for s in r.steps] == ["burn_custom_mac", "burn_key", "write_protect_efuse", "set_flash_voltage"]
    assert isinstance(r.steps[1].value, BurnKeyArgs) and r.steps[1].name == "key"
    assert r.steps[2].value == ["DIS_USB_JTAG"]  # a lone name is a list of one
    assert r.steps[3].value == "3.3V"
    assert [str(s.origin) for s in r.sources.steps] == [
        f"{tmp_path}/recipe.yaml:{line}:5" for line in (8, 9, 11, 12)]


def test_malformed_yaml_points_at_the_problem(tmp_path: Path) -> None:
    e = error(tmp_path, "steps:\n  - burn_efuse: {DIS_USB_JTAG: 1]\n")
    assert where(e) == ("recipe.yaml", 5, 33)
    assert "not valid YAML" in e.message


def test_duplicate_keys_are_refused_without_quoting_values(tmp_path: Path) -> None:
    e = error(tmp_path, "vars:\n  key: 00112233\n  key: 44556677\nsteps: []\n")
    assert where(e) == ("recipe.yaml", 6, 3)
    assert "duplicate key" in e.message and "00112233" not in e.render() and "44556677" not in e.render()


def test_yaml_tags_are_refused(tmp_path: Path) -> None:
    e = error(tmp_path, "vars:\n  x: !!python/name:os.system\nsteps: []\n")
    assert where(e)[1] == 5 and "tag" in e.message


@pytest.mark.parametrize("text,message", [("", "the file is empty"), ("- a\n- b\n", "expected a mapping")])
def test_a_file_that_is_not_a_mapping(tmp_path: Path, text: str, message: str) -> None:
    e = error(tmp_path, text, head="")
    assert message in e.message and where(e)[1] == 1


def test_unknown_top_level_key_suggests_the_right_one(tmp_path: Path) -> None:
    e = error(tmp_path, "step:\n  - burn_custom_mac: 02:00:00:00:00:01\n")
    # `steps` is missing and `step` is unknown: both reported, the first by position
    assert isinstance(e, RecipeErrors)
    unknown = next(p for p in e.problems if "unknown key" in p.message)
    assert where(unknown) == ("recipe.yaml", 4, 1)
    assert unknown.hint == "did you mean steps?"
    missing = next(p for p in e.problems if "needs `steps`" in p.message)
    assert where(missing) == ("recipe.yaml", 1, 1)


def test_unknown_step_suggests_the_right_one(tmp_path: Path) -> None:
    e = error(tmp_path, "steps:\n  - name: jtag\n    burn_efuses: {DIS_USB_JTAG: 1}\n")
    assert where(e) == ("recipe.yaml", 6, 5)
    assert e.message == "unknown step key 'burn_efuses'" and e.hint == "did you mean burn_efuse?"


def test_a_step_with_two_step_keys(tmp_path: Path) -> None:
    e = error(tmp_path, "steps:\n  - burn_efuse: {DIS_USB_JTAG: 1}\n    burn_bit: {block: BLOCK3, bits: [1]}\n")
    assert where(e) == ("recipe.yaml", 6, 5) and "burn_efuse and burn_bit" in e.message


def test_a_step_without_a_step_key(tmp_path: Path) -> None:
    e = error(tmp_path, "steps:\n  - name: nothing\n")
    assert where(e) == ("recipe.yaml", 5, 5) and "no step key" in e.message


def test_unknown_key_inside_a_step_value(tmp_path: Path) -> None:
    e = error(tmp_path, "steps:\n  - burn_key: {blok: BLOCK_KEY0, purpose: USER, data: '00'}\n")
    assert isinstance(e, RecipeErrors)
    missing, unknown = e.problems
    assert where(missing) == ("recipe.yaml", 5, 15) and missing.message == "`burn_key` needs `block`"
    assert where(unknown) == ("recipe.yaml", 5, 16)
    assert unknown.message == "unknown key 'blok'" and unknown.hint == "did you mean block?"


def test_unknown_key_in_an_input(tmp_path: Path) -> None:
    e = error(tmp_path, "inputs:\n  macs: {file: m.json, secrett: true}\nsteps: []\n")
    assert where(e) == ("recipe.yaml", 5, 24) and e.hint == "did you mean secret?"


@pytest.mark.parametrize(
    "body,pos,text",
    [
        ("steps:\n  - burn_block_data: {block: BLOCK3, offset: abc, data: '00'}\n", (5, 46),
         "`offset`: expected a whole number, found text"),
        ("steps:\n  - burn_key: {block: BLOCK_KEY0, purpose: USER, data: '00', read_protect: maybe}\n",
         (5, 76), "`read_protect`: expected true or false, found text"),
        ("steps:\n  - burn_bit: {block: BLOCK3, bits: [1, x]}\n", (5, 41),
         "expected a whole number, found text"),
        ("steps:\n  - burn_efuse: {SECURE_VERSION: 1.5}\n", (5, 34), "found a number with a fraction"),
        ("steps:\n  - burn_custom_mac: 02:00:00:00:01\n", (5, 22), "is not a MAC address"),
        ("steps:\n  - set_flash_voltage: 2.5V\n", (5, 24), "expected one of 1.8V, 3.3V, OFF"),
        ("steps:\n  - burn_key: {block: BLOCK_KEY0, purpose: USER}\n", (5, 15),
         "give exactly one of `file:` or `data:`"),
        ("steps:\n  - burn_key: {purpose: USER, data: '00'}\n", (5, 15), "`burn_key` needs `block`"),
        ("steps:\n  - burn_key: {block: BLOCK_KEY0, purpose: USER, data: 'zz'}\n", (5, 56), "is not hex bytes"),
        ("steps:\n  - burn_efuse: DIS_USB_JTAG\n", (5, 17), "expected a mapping"),
        ("steps:\n  - burn_efuse: {}\n", (5, 17), "name at least one field"),
        ("vars:\n  bad-name: 1\nsteps: []\n", (5, 3), "'bad-name' is not a usable name"),
        ("inputs:\n  m: {file: macs.txt}\nsteps: []\n", (5, 6), "cannot tell the format of 'macs.txt'"),
        ("inputs:\n  m: {file: macs.json, key: index}\nsteps: []\n", (5, 6), "`key:` applies to CSV inputs only"),
        ("unique: CUSTOM_MAC\nsteps: []\n", (4, 9), "expected a list"),
        ("require:\n  - message: no condition\nsteps: []\n", (5, 5), "needs `that`"),
    ],
)
def test_wrong_values_are_reported_where_they_are_written(tmp_path: Path, body: str, pos: tuple[int, int],
                                                          text: str) -> None:
    e = error(tmp_path, body)
    assert where(e)[1:] == pos, e.render()
    assert text in e.message, e.message


@pytest.mark.parametrize(
    "head,pos,text",
    [
        ("fusebook: 2\nname: t\nchip: esp32c3\n", (1, 11), "must be 1"),
        ("name: t\nchip: esp32c3\n", (1, 1), "missing `fusebook: 1`"),
        ("fusebook: 1\nname: My Recipe\nchip: esp32c3\n", (2, 7), "lower-case letters"),
        ("fusebook: 1\nname: t\nchip: esp32c33\n", (3, 7), "unknown chip 'esp32c33' (did you mean esp32c3?)"),
        ("fusebook: 1\nname: t\nchip: []\n", (3, 7), "name at least one chip"),
    ],
)
def test_header_errors(tmp_path: Path, head: str, pos: tuple[int, int], text: str) -> None:
    e = error(tmp_path, "steps: []\n", head=head)
    assert where(e)[1:] == pos and text in e.message, e.render()


def test_chip_names_are_normalised(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", "fusebook: 1\nname: t\nchip: [ESP32-C3, esp32s3]\nsteps: []\n")
    assert load_recipe(path).chips == ("esp32c3", "esp32s3")


def test_every_problem_is_kept_in_file_order(tmp_path: Path) -> None:
    e = error(tmp_path, "steps:\n  - burn_bit: {block: BLOCK3, bits: [x]}\n  - set_flash_voltage: 5V\n")
    assert isinstance(e, RecipeErrors)
    assert [where(p)[1] for p in e.problems] == [5, 6]
    assert "(and 1 more problem)" in e.message


def test_templates_are_accepted_wherever_a_value_goes(tmp_path: Path) -> None:
    r = load(tmp_path, """\
        steps:
          - burn_block_data: {block: "{{ vars.b }}", offset: "{{ vars.o }}", data: "{{ vars.d }}"}
          - burn_bit: {block: BLOCK3, bits: "{{ range(0, 4) | list }}"}
          - burn_efuse: "{{ vars.fields }}"
          - burn_key: "{{ vars.key_step }}"
        """)
    assert [s.kind for s in r.steps] == ["burn_block_data", "burn_bit", "burn_efuse", "burn_key"]


def test_a_missing_recipe_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_recipe(tmp_path / "nope.yaml")


def test_a_recipe_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(HEAD.encode() + b"description: \xff\xfe\nsteps: []\n")
    with pytest.raises(InputError, match="not UTF-8"):
        load_recipe(path)


def test_alias_bombs_are_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 8):
        prev = f"*a{n - 1}"
        lines.append(f"a{n}: &a{n} [{', '.join([prev] * 10)}]")
    path = recipe_file(tmp_path, "vars:\n  " + "\n  ".join(lines) + "\nsteps: []\n")
    with pytest.raises(InputError, match="more than"):
        load_recipe(path)


def test_unquoted_hex_data_is_caught(tmp_path: Path) -> None:
    e = error(tmp_path, "steps:\n  - burn_block_data: {block: BLOCK3, data: 00112233}\n")
    assert where(e) == ("recipe.yaml", 5, 44) and "put hex data in quotes" in e.message
