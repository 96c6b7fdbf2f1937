"""Rendering steps and checking assertions for one unit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusebook.errors import InputError
from fusebook.recipe.loader import load_recipe
from fusebook.recipe.render import (
    AssertionFailure,
    ChipInfo,
    RenderContext,
    RenderedStep,
    check_assertions,
    compile_recipe,
    render_steps,
)

from .helpers import KEY, DictEfuses, context, recipe_file, where, write

PRODUCTION = """\
inputs:
  macs: {file: macs.json}
  serials: {file: serials.csv, key: index}
  key: {file: fe.bin, secret: true}
vars:
  jtag_off: true
  secure_version: 1
steps:
  - burn_custom_mac: "{{ inputs.macs[index|string] }}"
  - name: "serial of unit {{ index }}"
    burn_block_data: {block: BLOCK_USR_DATA, offset: "{{ vars.secure_version * 4 }}", data: "{{ inputs.serials[index|string].serial }}"}
  - name: JTAG off
    burn_efuse: {DIS_USB_JTAG: 1, SECURE_VERSION: "{{ vars.secure_version }}"}
    when: "vars.jtag_off and efuses.DIS_USB_JTAG == false"
  - burn_key: {block: BLOCK_KEY0, purpose: XTS_AES_128_KEY, data: "{{ inputs.key | hex }}", read_protect: "{{ vars.jtag_off }}"}
  - write_protect_efuse: "{{ ['DIS_USB_JTAG'] if vars.jtag_off else [] }}"
  - burn_bit: {block: BLOCK3, bits: "{{ range(index, index + 2) | list }}"}
require:
  - that: "efuses.CUSTOM_MAC == '00:00:00:00:00:00'"
    message: "unit {{ index }} already has MAC {{ efuses.CUSTOM_MAC }}"
ensure:
  - that: "efuses.CUSTOM_MAC == inputs.macs[index|string]"
  - that: "not writeable('BLOCK_KEY0') and not readable('BLOCK_KEY0')"
"""


@pytest.fixture
def production(tmp_path: Path) -> Path:
    write(tmp_path, "macs.json", json.dumps({str(i): f"02:00:00:00:00:{i:02x}" for i in range(1, 11)}))
    write(tmp_path, "serials.csv", "index,serial\n" + "".join(f"{i},{i:032x}\n" for i in range(1, 11)))
    (tmp_path / "fe.bin").write_bytes(KEY)
    return recipe_file(tmp_path, PRODUCTION)


def test_steps_render_to_plain_values(production: Path, efuses: DictEfuses) -> None:
    recipe = load_recipe(production)
    steps = render_steps(compile_recipe(recipe), context(recipe, index=3, efuses=efuses))
    assert [(s.kind, s.args) for s in steps] == [
        ("burn_custom_mac", "02:00:00:00:00:03"),
        ("burn_block_data", {"block": "BLOCK_USR_DATA", "offset": 4, "data": f"{3:032x}"}),
        ("burn_efuse", {"DIS_USB_JTAG": 1, "SECURE_VERSION": 1}),
        ("burn_key", {"block": "BLOCK_KEY0", "purpose": "XTS_AES_128_KEY", "data": steps[3].args["data"],
                      "read_protect": True}),
        ("write_protect_efuse", ["DIS_USB_JTAG"]),
        ("burn_bit", {"block": "BLOCK3", "bits": [3, 4]}),
    ]
    assert steps[3].args["data"].reveal() == KEY
    assert steps[1].name == "serial of unit 3" and steps[2].name == "JTAG off"
    assert steps[2].when == "vars.jtag_off and efuses.DIS_USB_JTAG == false"
    assert where_step(steps[2]) == ("recipe.yaml", 15, 5)


def where_step(step: RenderedStep) -> tuple[str, int | None, int | None]:
    return Path(step.origin.file).name, step.origin.line, step.origin.column


def test_when_drops_steps_per_unit_and_per_var(production: Path, efuses: DictEfuses) -> None:
    recipe = load_recipe(production)
    compiled = compile_recipe(recipe)
    efuses.values["DIS_USB_JTAG"] = True
    assert "burn_efuse" not in [s.kind for s in render_steps(compiled, context(recipe, index=1, efuses=efuses))]
    efuses.values["DIS_USB_JTAG"] = False
    off = render_steps(compiled, context(recipe, index=1, efuses=efuses, set_vars={"jtag_off": "false"}))
    assert "burn_efuse" not in [s.kind for s in off]
    assert next(s for s in off if s.kind == "write_protect_efuse").args == []
    assert next(s for s in off if s.kind == "burn_key").args["read_protect"] is False


def test_one_compiled_recipe_renders_many_units(production: Path, efuses: DictEfuses) -> None:
    recipe = load_recipe(production)
    compiled = compile_recipe(recipe)
    macs = [render_steps(compiled, context(recipe, index=i, efuses=efuses))[0].args for i in range(1, 11)]
    assert macs == [f"02:00:00:00:00:{i:02x}" for i in range(1, 11)]


def test_assertions(production: Path, efuses: DictEfuses) -> None:
    recipe = load_recipe(production)
    compiled = compile_recipe(recipe)
    assert check_assertions(compiled.require, context(recipe, index=2, efuses=efuses)) == []
    efuses.values["CUSTOM_MAC"] = "02:00:00:00:00:09"
    (failure,) = check_assertions(compiled.require, context(recipe, index=2, efuses=efuses))
    assert failure == AssertionFailure(failure.origin, "efuses.CUSTOM_MAC == '00:00:00:00:00:00'",
                                       "unit 2 already has MAC 02:00:00:00:00:09")
    assert (Path(failure.origin.file).name, failure.origin.line, failure.origin.column) == ("recipe.yaml", 22, 5)
    failures = check_assertions(compiled.ensure, context(recipe, index=2, efuses=efuses))
    assert [f.that for f in failures] == ["efuses.CUSTOM_MAC == inputs.macs[index|string]"]
    assert failures[0].message is None


def test_unknown_efuse_names_suggest_the_closest(tmp_path: Path, efuses: DictEfuses) -> None:
    recipe = load_recipe(recipe_file(tmp_path, """\
        steps:
          - burn_efuse: {DIS_USB_JTAG: 1}
            when: "efuses.DIS_USB_JTAGG == false"
        ensure:
          - that: "readable('BLOCK_KEY1')"
        """))
    compiled = compile_recipe(recipe)
    with pytest.raises(InputError) as e:
        render_steps(compiled, context(recipe, efuses=efuses))
    assert where(e.value) == ("recipe.yaml", 6, 11)
    assert "DIS_USB_JTAGG" in e.value.message and e.value.hint == "did you mean DIS_USB_JTAG?"
    with pytest.raises(InputError) as e:
        check_assertions(compiled.ensure, context(recipe, efuses=efuses))
    assert where(e.value) == ("recipe.yaml", 8, 11) and e.value.hint == "did you mean BLOCK_KEY0?"


def test_efuse_functions(tmp_path: Path, efuses: DictEfuses) -> None:
    recipe = load_recipe(recipe_file(tmp_path, """\
        steps:
          - name: "{{ meaning('SECURE_VERSION') }}"
            burn_efuse: {SECURE_VERSION: "{{ 1 if readable('KEY_PURPOSE_0') and not writeable('BLOCK_KEY0') else 2 }}"}
          - burn_efuse: {DIS_USB_JTAG: "{{ efuses['DIS_USB_JTAG'] or chip.revision >= 3 }}"}
            when: "chip.name == 'esp32c3' and chip.major == 0"
        """))
    steps = render_steps(compile_recipe(recipe), context(recipe, efuses=efuses))
    assert [(s.name, s.args) for s in steps] == [("no anti-rollback", {"SECURE_VERSION": 1}),
                                                  (None, {"DIS_USB_JTAG": True})]


def test_rendered_values_are_checked_where_they_go(tmp_path: Path) -> None:
    cases = [
        ('  - burn_block_data: {block: BLOCK3, offset: "{{ vars.t }}", data: "00"}\n', (6, 46),
         "expected a whole number"),
        ('  - burn_key: {block: BLOCK_KEY0, purpose: USER, data: "{{ vars.n }}"}\n', (6, 56), "expected hex bytes"),
        ('  - burn_bit: {block: BLOCK3, bits: "{{ vars.t }}"}\n', (6, 37), "expected a list"),
        ('  - burn_efuse: "{{ vars.n }}"\n', (6, 17), "expected a mapping"),
        ('  - burn_key: "{{ {\'block\': 1, \'dat\': \'00\'} }}"\n', (6, 15), "unknown key 'dat'"),
        ('  - burn_custom_mac: "{{ vars.t }}"\n', (6, 22), "is not a MAC address"),
        ('  - set_flash_voltage: "{{ vars.t }}"\n', (6, 24), "expected one of 1.8V"),
        ('  - write_protect_efuse: ["{{ vars.n }}"]\n', (6, 27), "expected a name"),
    ]
    for step, pos, message in cases:
        path = recipe_file(tmp_path, "vars: {t: text, n: 5}\nsteps:\n" + step)
        recipe = load_recipe(path)
        with pytest.raises(InputError) as e:
            render_steps(compile_recipe(recipe), context(recipe))
        assert where(e.value)[1:] == pos and message in e.value.message, (step, e.value.render())


def test_a_secret_table_value_must_go_through_unhex(tmp_path: Path) -> None:
    write(tmp_path, "keys.json", json.dumps({"1": KEY.hex()}))
    body = 'inputs:\n  keys: {file: keys.json, secret: true}\nsteps:\n  - burn_key: {block: BLOCK_KEY0, purpose: USER, data: "%s"}\n'
    recipe = load_recipe(recipe_file(tmp_path, body % "{{ inputs.keys['1'] }}"))
    with pytest.raises(InputError, match="unhex") as e:
        render_steps(compile_recipe(recipe), context(recipe))
    assert KEY.hex() not in e.value.render()
    recipe = load_recipe(recipe_file(tmp_path, body % "{{ inputs.keys['1'] | unhex }}"))
    (step,) = render_steps(compile_recipe(recipe), context(recipe))
    assert step.args["data"].reveal() == KEY and KEY.hex() not in repr(step)


def test_templated_vars_are_evaluated_per_unit_and_set_replaces_them(tmp_path: Path) -> None:
    recipe = load_recipe(recipe_file(tmp_path, """\
        vars:
          base: "02:00:00:00:00:00"
          mac: "{{ vars.base | mac_add(index) }}"
          loop_a: "{{ vars.loop_b }}"
          loop_b: "{{ vars.loop_a }}"
        steps:
          - burn_custom_mac: "{{ vars.mac }}"
        ensure:
          - that: "efuses.CUSTOM_MAC == vars.mac"
        """))
    compiled = compile_recipe(recipe)
    assert render_steps(compiled, context(recipe, index=300))[0].args == "02:00:00:00:01:2c"
    assert render_steps(compiled, context(recipe, index=1, set_vars={"mac": "02:00:00:00:00:99"}))[0].args == \
        "02:00:00:00:00:99"
    assert check_assertions(compiled.ensure, context(recipe, index=1))[0].that == "efuses.CUSTOM_MAC == vars.mac"
    recipe = load_recipe(recipe_file(tmp_path, 'vars: {a: "{{ vars.b }}", b: "{{ vars.a }}"}\n'
                                               'steps:\n  - burn_custom_mac: "{{ vars.a }}"\n'))
    with pytest.raises(InputError, match="in terms of itself"):
        render_steps(compile_recipe(recipe), context(recipe))


def test_without_an_index_a_per_unit_template_fails_with_its_location(production: Path, efuses: DictEfuses) -> None:
    recipe = load_recipe(production)
    with pytest.raises(InputError) as e:
        render_steps(compile_recipe(recipe), context(recipe, efuses=efuses))
    assert where(e.value) == ("recipe.yaml", 12, 22) and "'None'" in e.value.message
    assert e.value.hint == "this template uses `index`: give the unit's --index N"


def test_every_template_error_is_collected_when_compiling(tmp_path: Path) -> None:
    recipe = load_recipe(recipe_file(tmp_path, """\
        steps:
          - burn_efuse: {SECURE_VERSION: "{{ 1 + }}"}
            when: "index >"
          - burn_custom_mac: "{{ self }}"
        require:
          - that: "{% for x in y %}{% endfor %}"
        """))
    with pytest.raises(InputError) as e:
        compile_recipe(recipe)
    assert [where(p)[1:] for p in e.value.problems] == [(5, 34), (6, 11), (7, 22), (9, 11)]  # type: ignore[attr-defined]


def test_the_caller_s_context_is_plain_data() -> None:
    ctx = RenderContext(index=1, chip=ChipInfo("esp32c3", 104), efuses=DictEfuses({}), inputs={}, vars={})
    assert ctx.chip.major == 1 and ctx.chip.minor == 4


def test_literal_when_and_templated_field_names(tmp_path: Path) -> None:
    recipe = load_recipe(recipe_file(tmp_path, """\
        vars: {field: SOFT_DIS_JTAG}
        steps:
          - burn_efuse: {DIS_PAD_JTAG: 1}
            when: false
          - burn_efuse: {"{{ vars.field }}": 7, DIS_USB_JTAG: true}
            when: true
        """))
    steps = render_steps(compile_recipe(recipe), context(recipe))
    assert [(s.args, s.when) for s in steps] == [({"SOFT_DIS_JTAG": 7, "DIS_USB_JTAG": True}, "true")]
