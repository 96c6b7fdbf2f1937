"""Every way a template can grow a value is bounded, at every step, not only the final value.

A value may be large in memory only once (an input file); every filter, operator and
printing of one is refused when its result would pass the output limit, so a chain of
them never holds more than a small multiple of the limit. Each case here builds a large
intermediate and then shrinks it (`| length`), so only a bound on intermediates stops it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from fusebook.errors import InputError, SourceLocation
from fusebook.recipe import inputs as inputs_mod
from fusebook.recipe.loader import MAX_FILE_BYTES, MAX_TOTAL_NODES, load_recipe
from fusebook.recipe.sandbox import OUTPUT_LIMIT, SANDBOX, compile_template

AT = SourceLocation("recipe.yaml", 9, 26)
BIG = "a" * 30000
#: A list sharing one 30000-character string 16 times: small in memory, 480000 as text.
SHARED = "[" + ", ".join(["[v, v, v, v]"] * 4) + "]"


def evaluate(source: str) -> Any:
    names: dict[str, Any] = {**SANDBOX.globals, "index": None, "v": BIG, "b": b"\x01" * 30000,
                             "n": 2 ** 40000}
    return compile_template(source, AT).evaluate(names)


GROWING = {
    "hex of text": "{{ (v | hex | hex) | length }}",
    "hex of bytes": "{{ (b | hex | hex) | length }}",
    "~": "{{ (v ~ v ~ v) | length }}",
    "+ of text": "{{ (v + v + v) | length }}",
    "+ of lists": "{{ (range(40000) | list + range(40000) | list) | length }}",
    "* of numbers": "{{ (n * n) > 0 }}",
    "string": "{{ (" + SHARED + " | string) | length }}",
    "join": "{{ (" + SHARED + " | join) | length }}",
    "join of items": "{{ ([" + SHARED + "] | join) | length }}",
    "format": "{{ ('%s' | format(" + SHARED + ")) | length }}",
    "format of many": "{{ ('%s%s%s' | format(v, v, v)) | length }}",
    "%": "{{ ('%s' % (" + SHARED + ",)) | length }}",
    "upper": "{{ (" + SHARED + " | upper) | length }}",
    "lower": "{{ (" + SHARED + " | lower) | length }}",
    "title": "{{ (" + SHARED + " | title) | length }}",
    "capitalize": "{{ (" + SHARED + " | capitalize) | length }}",
    "trim": "{{ (" + SHARED + " | trim) | length }}",
    "replace argument": "{{ ('x' | replace('x', " + SHARED + ")) | length }}",
    "sum": "{{ ([range(40000) | list, range(40000) | list] | sum(start=[])) | length }}",
    "map string": "{{ (" + SHARED + " | map('string') | list) | length }}",
    "round precision": "{{ 5 | round(-1000000000) }}",
    "to_bytes argument": "{{ 1 | to_bytes(" + SHARED + ") }}",
    "mac_add increment": "{{ mac_add('02:00:00:00:00:01', " + SHARED + ") }}",
    "printed in text": "x{{ " + SHARED + " }}",
    "native value": "{{ " + SHARED + " }}",
}


@pytest.mark.parametrize("name", sorted(GROWING))
def test_every_way_of_growing_a_value_is_refused_at_the_template(name: str) -> None:
    start = time.monotonic()
    with pytest.raises(InputError) as caught:
        evaluate(GROWING[name])
    assert caught.value.location == AT
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("source", [
    "{{ (v ~ 'x') | length }}", "{{ (b | hex) | length }}", "{{ v[:5] ~ v[:5] }}",
    "{{ [v, v][0] | length }}", "{{ range(60000) | list | length }}", "{{ (v | upper)[:3] }}",
])
def test_values_within_the_limit_still_work(source: str) -> None:
    evaluate(source)


def test_the_output_limit_is_the_documented_one() -> None:
    assert OUTPUT_LIMIT == 64 * 1024
    assert "64 KiB" in (Path(__file__).parents[2] / "docs" / "recipes.md").read_text()


def _recipe(d: Path, body: str) -> Path:
    p = d / "recipe.yaml"
    p.write_text("fusebook: 1\nname: t\nchip: esp32c3\n" + body)
    return p


def test_yaml_nodes_are_bounded_across_includes(tmp_path: Path) -> None:
    # 11 small files, each 10 aliases deep enough for 20000 nodes: the total passes the limit
    lines = ["  a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]"]
    lines += [f"  a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 4)]
    lines += ["  b: [*a3, *a3]"]
    (tmp_path / "big.yaml").write_text("vars:\n" + "\n".join(lines) + "\nsteps: []\n")
    includes = "".join("  - include: big.yaml\n" for _ in range(MAX_TOTAL_NODES // 30_000 + 2))
    start = time.monotonic()
    with pytest.raises(InputError, match="YAML nodes"):
        load_recipe(_recipe(tmp_path, "steps:\n" + includes))
    assert time.monotonic() - start < 30


def test_the_size_of_a_recipe_and_its_includes_is_bounded(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text("# " + "x" * (MAX_FILE_BYTES - 100) + "\nsteps: []\n")
    start = time.monotonic()
    with pytest.raises(InputError, match="larger than"):
        load_recipe(_recipe(tmp_path, "steps:\n" + "  - include: big.yaml\n" * 3))
    assert time.monotonic() - start < 30


def test_an_unterminated_csv_quote_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "units.csv").write_text('index,mac\n1,"02:00:00:00:00:01\n2,02:00:00:00:00:02\n')
    recipe = load_recipe(_recipe(tmp_path, "inputs:\n  units: {file: units.csv, key: index}\nsteps: []\n"))
    with pytest.raises(InputError, match="not valid CSV") as caught:
        inputs_mod.load_inputs(recipe, tmp_path / "recipe.yaml")
    assert caught.value.hint and "quoted" in caught.value.hint


def test_a_stray_csv_quote_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "units.csv").write_text('index,mac\n1,"02:00:00:00:00:01"x\n')
    recipe = load_recipe(_recipe(tmp_path, "inputs:\n  units: {file: units.csv}\nsteps: []\n"))
    with pytest.raises(InputError, match="not valid CSV"):
        inputs_mod.load_inputs(recipe, tmp_path / "recipe.yaml")


@pytest.mark.parametrize("text", ["٣", "３", "0x٣", "1٣"])
def test_non_ascii_digits_are_not_numbers_anywhere(text: str) -> None:
    from fusebook import api
    from fusebook.chips.custom_table import extend_chip
    from fusebook.chips.loader import load_chip
    from fusebook.efuse import codecs
    from fusebook.recipe import filters

    chip = load_chip("esp32c3")
    with pytest.raises(InputError):
        codecs.encode_value(chip, chip.field("WR_DIS"), text)
    with pytest.raises(InputError):
        filters.to_bytes(text, 4)
    with pytest.raises(InputError):
        api.indices(text)
    with pytest.raises(InputError):
        extend_chip(chip, f"USER_SERIAL, EFUSE_BLK3, {text}, 32, serial\n", "t.csv")
    with pytest.raises(InputError):
        extend_chip(chip, f"USER_SERIAL, EFUSE_BLK{text}, 0, 32, serial\n", "t.csv")
    with pytest.raises(InputError):
        evaluate("{{ '" + text + "' | int }}")
