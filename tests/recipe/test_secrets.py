"""Key material read by a recipe never shows in rendered text, reprs or error messages."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from fusebook.errors import FusebookError
from fusebook.recipe.loader import load_recipe
from fusebook.recipe.render import check_assertions, compile_recipe, render_steps

from .helpers import KEY, context, recipe_file, write


def forms(key: bytes) -> list[str]:
    """Every way the key could be spelled out: hex (either case, either byte order), base64, repr."""
    out = []
    for k in (key, key[::-1]):
        out += [k.hex(), k.hex().upper(), base64.b64encode(k).decode(), repr(k), k.hex(" "), k.hex(":")]
        out += [k[i:i + 8].hex() for i in range(0, len(k), 8)]
    return out


def assert_clean(text: str) -> None:
    for form in forms(KEY):
        assert form not in text


@pytest.fixture
def keyed(tmp_path: Path) -> Path:
    (tmp_path / "fe.bin").write_bytes(KEY)
    write(tmp_path, "keys.json", json.dumps({"1": KEY.hex()}))
    write(tmp_path, "keys.csv", f"index,key\n1,{KEY.hex()}\n")
    return tmp_path


SECRET_INPUTS = """\
inputs:
  fe: {file: fe.bin, secret: true}
  table: {file: keys.json, secret: true}
  rows: {file: keys.csv, key: index, secret: true}
"""


def test_rendering_keeps_keys_secret(keyed: Path) -> None:
    recipe = load_recipe(recipe_file(keyed, SECRET_INPUTS + """\
steps:
  - name: "key {{ inputs.fe }} / {{ inputs.table['1'] }} / {{ inputs.rows['1'].key }}"
    burn_key: {block: BLOCK_KEY0, purpose: XTS_AES_128_KEY, data: "{{ inputs.fe | hex }}"}
  - burn_key: {block: BLOCK_KEY1, purpose: XTS_AES_128_KEY, data: "{{ inputs.table['1'] | unhex }}"}
  - burn_key: {block: BLOCK_KEY2, purpose: XTS_AES_128_KEY, data: "{{ inputs.rows['1'].key | hex }}"}
ensure:
  - that: "false"
    message: "got {{ inputs.fe }} {{ inputs.fe | hex }} {{ inputs.table }}"
"""))
    compiled = compile_recipe(recipe)
    ctx = context(recipe, index=1)
    steps = render_steps(compiled, ctx)
    assert [s.args["data"].reveal() for s in steps] == [KEY, KEY, KEY]
    (failure,) = check_assertions(compiled.ensure, ctx)
    shown = [str(steps), repr(steps), str(failure), str(ctx.inputs), repr(ctx.inputs), steps[0].name or ""]
    for text in shown:
        assert_clean(text)
    assert "<secret" in (steps[0].name or "")


ERRORS = [
    "{{ inputs.fe + 1 }}",
    "{{ inputs.fe | int + 'x' }}",
    "{{ inputs.fe[0] }}",
    "{{ inputs.fe.reveal() }}",
    "{{ inputs.table['1'] }}",
    "{{ inputs.table['1'] | mac }}",
    "{{ inputs.rows['1'].key | int + 'x' }}",
    "{{ inputs.table[inputs.fe] }}",
    "{{ inputs.fe | unhex | to_bytes(4) }}",
    "{{ inputs.table['1'] ~ 'x' * 70000 }}",
]


@pytest.mark.parametrize("template", ERRORS)
def test_errors_about_secrets_do_not_quote_them(keyed: Path, template: str) -> None:
    recipe = load_recipe(recipe_file(keyed, SECRET_INPUTS + f"""\
steps:
  - burn_key: {{block: BLOCK_KEY0, purpose: USER, data: "{template}"}}
"""))
    with pytest.raises(FusebookError) as e:
        render_steps(compile_recipe(recipe), context(recipe, index=1))
    assert e.value.exit_code == 2
    assert_clean(e.value.render())
    assert_clean(json.dumps(e.value.to_json()))
