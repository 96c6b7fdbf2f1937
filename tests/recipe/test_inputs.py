"""Inputs (JSON, YAML, CSV, binary, secret), `--input` and `--set` overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusebook.errors import InputError
from fusebook.recipe.inputs import load_inputs, merge_vars, parse_set_value
from fusebook.recipe.loader import load_recipe
from fusebook.recipe.models import Recipe
from fusebook.recipe.secret_value import SecretValue
from fusebook.secret import Secret

from .helpers import KEY, recipe_file, where, write


def recipe_with(tmp_path: Path, inputs: str, vars_: str = "") -> tuple[Recipe, Path]:
    path = recipe_file(tmp_path, f"inputs:\n{inputs}{vars_}steps: []\n")
    return load_recipe(path), path


def test_json_yaml_csv_and_binary(tmp_path: Path) -> None:
    write(tmp_path, "data/macs.json", json.dumps({"1": "02:00:00:00:00:01"}))
    write(tmp_path, "data/units.yaml", "- {serial: 1}\n- {serial: 2}\n")
    write(tmp_path, "data/rows.csv", "index, serial\n1, a1\n\n2, b2\n")
    (tmp_path / "data/blob.bin").write_bytes(b"\x00\x01")
    r, path = recipe_with(tmp_path, """\
  macs: {file: data/macs.json}
  units: {file: data/units.yaml}
  rows: {file: data/rows.csv}
  keyed: {file: data/rows.csv, key: index}
  blob: {file: data/blob.bin}
  raw: {file: data/rows.csv, format: binary}
""")
    values, digests = load_inputs(r, path)
    assert values["macs"] == {"1": "02:00:00:00:00:01"}
    assert values["units"] == [{"serial": 1}, {"serial": 2}]
    assert values["rows"] == [{"index": "1", "serial": "a1"}, {"index": "2", "serial": "b2"}]
    assert values["keyed"] == {"1": {"index": "1", "serial": "a1"}, "2": {"index": "2", "serial": "b2"}}
    assert values["blob"] == b"\x00\x01"
    assert values["raw"] == (tmp_path / "data/rows.csv").read_bytes()
    assert set(digests) == set(values) and all(d.startswith("sha256:") for d in digests.values())
    assert digests["rows"] == digests["keyed"] == digests["raw"]


def test_inputs_are_read_once_per_process(tmp_path: Path) -> None:
    write(tmp_path, "m.json", '{"1": "x"}')
    r, path = recipe_with(tmp_path, "  m: {file: m.json}\n")
    first = load_inputs(r, path)[0]["m"]
    assert load_inputs(r, path)[0]["m"] is first
    write(tmp_path, "m.json", '{"1": "y", "2": "z"}')  # a changed file is read again
    assert load_inputs(r, path)[0]["m"] == {"1": "y", "2": "z"}


def test_secret_inputs_never_print(tmp_path: Path) -> None:
    (tmp_path / "fe.bin").write_bytes(KEY)
    write(tmp_path, "keys.json", json.dumps({"1": KEY.hex()}))
    write(tmp_path, "keys.csv", f"index,key\n1,{KEY.hex()}\n")
    r, path = recipe_with(tmp_path, """\
  fe: {file: fe.bin, secret: true}
  table: {file: keys.json, secret: true}
  rows: {file: keys.csv, key: index, secret: true}
""")
    values, digests = load_inputs(r, path)
    assert values["fe"] == Secret(KEY)
    assert isinstance(values["table"]["1"], SecretValue)
    assert isinstance(values["rows"]["1"]["key"], SecretValue) and values["rows"]["1"]["index"] == "1"
    shown = " ".join([str(values), repr(values), *digests.values()])
    for form in (KEY.hex(), KEY.hex().upper(), repr(KEY)):
        assert form not in shown
    # a secret's digest is a fingerprint, not the SHA-256 of the key
    import hashlib
    assert hashlib.sha256(KEY).hexdigest()[:16] not in digests["fe"]


def test_input_override(tmp_path: Path) -> None:
    write(tmp_path, "m.json", '{"1": "a"}')
    write(tmp_path, "other/m2.json", '{"1": "b"}')
    r, path = recipe_with(tmp_path, "  macs: {file: m.json}\n")
    assert load_inputs(r, path, {"macs": str(tmp_path / "other/m2.json")})[0]["macs"] == {"1": "b"}
    with pytest.raises(InputError) as e:
        load_inputs(r, path, {"mac": "x.json"})
    assert e.value.hint == "did you mean macs?"


def test_missing_input_is_reported_at_its_declaration(tmp_path: Path) -> None:
    r, path = recipe_with(tmp_path, "  macs: {file: nope.json}\n")
    with pytest.raises(InputError) as e:
        load_inputs(r, path)
    assert where(e.value) == ("recipe.yaml", 5, 9) and "does not exist" in e.value.message


def test_json_errors_name_the_input_file_line_and_column(tmp_path: Path) -> None:
    write(tmp_path, "m.json", '{\n  "1": "a",\n  "2" "b"\n}\n')
    r, path = recipe_with(tmp_path, "  m: {file: m.json}\n")
    with pytest.raises(InputError) as e:
        load_inputs(r, path)
    assert where(e.value) == ("m.json", 3, 7)


def test_duplicate_keys_in_per_unit_data_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "m.json", '{"1": "a", "1": "b"}')
    write(tmp_path, "m.yaml", "'1': a\n'1': b\n")
    write(tmp_path, "m.csv", "index,mac\n1,a\n2,b\n1,c\n")
    for name, line in (("m.json", None), ("m.yaml", 2), ("m.csv", 4)):
        spec = f"  m: {{file: {name}{', key: index' if name.endswith('csv') else ''}}}\n"
        r, path = recipe_with(tmp_path, spec)
        with pytest.raises(InputError) as e:
            load_inputs(r, path)
        assert where(e.value)[0] == name
        assert "twice" in e.value.message or "duplicate" in e.value.message
        if line:
            assert where(e.value)[1] == line


def test_yaml_input_errors_are_located(tmp_path: Path) -> None:
    write(tmp_path, "m.yaml", "a: 1\nb: [2\n")
    r, path = recipe_with(tmp_path, "  m: {file: m.yaml}\n")
    with pytest.raises(InputError) as e:
        load_inputs(r, path)
    assert where(e.value)[0] == "m.yaml" and where(e.value)[1] == 3


@pytest.mark.parametrize(
    "csv_text,line,message",
    [
        ("index,serial\n1,a\n2,b,c\n", 3, "this row has 3 fields, the header has 2"),
        ("index,index\n1,2\n", 1, "column 'index' appears twice"),
        ("index,\n1,2\n", 1, "column 2 has no name"),
    ],
)
def test_malformed_csv(tmp_path: Path, csv_text: str, line: int, message: str) -> None:
    write(tmp_path, "u.csv", csv_text)
    r, path = recipe_with(tmp_path, "  u: {file: u.csv}\n")
    with pytest.raises(InputError) as e:
        load_inputs(r, path)
    assert where(e.value) == ("u.csv", line, None) and message in e.value.message


def test_csv_key_column_must_exist(tmp_path: Path) -> None:
    write(tmp_path, "u.csv", "index,serial\n1,a\n")
    r, path = recipe_with(tmp_path, "  u: {file: u.csv, key: indx}\n")
    with pytest.raises(InputError) as e:
        load_inputs(r, path)
    assert where(e.value) == ("recipe.yaml", 5, 6) and e.value.hint == "did you mean index?"


def test_excel_csv_with_a_byte_order_mark(tmp_path: Path) -> None:
    (tmp_path / "u.csv").write_bytes("\ufeffindex,serial\r\n1,a\r\n".encode())
    r, path = recipe_with(tmp_path, "  u: {file: u.csv, key: index}\n")
    assert load_inputs(r, path)[0]["u"] == {"1": {"index": "1", "serial": "a"}}


@pytest.mark.parametrize(
    "text,value",
    [("7", 7), ("0x10", 16), ("true", True), ("false", False), ("1.5", 1.5), ("abc", "abc"),
     ("02:00:00:00:00:01", "02:00:00:00:00:01"), ("", ""), ("null", None), ("[1, 2]", "[1, 2]"),
     ("a: b", "a: b"), ("'7'", "7")],
)
def test_set_values_are_yaml_scalars(text: str, value: object) -> None:
    assert parse_set_value(text) == value and type(parse_set_value(text)) is type(value)


def test_set_overrides_declared_vars_only(tmp_path: Path) -> None:
    r = load_recipe(recipe_file(tmp_path, "vars: {secure_version: 1, jtag_off: true}\nsteps: []\n"))
    assert merge_vars(r, {"secure_version": "3"}) == {"secure_version": 3, "jtag_off": True}
    assert merge_vars(r) == {"secure_version": 1, "jtag_off": True}
    with pytest.raises(InputError) as e:
        merge_vars(r, {"secure_versoin": "3"})
    assert e.value.hint == "did you mean secure_version?"
