"""A recipe's inputs (data files) and vars, read once per process for any number of units.

`inputs:` name files relative to the recipe: JSON and YAML are offered to templates as
they are, CSV as a list of row mappings (or, with `key:`, a mapping from that column's
value to the row), binary files as bytes, hex files (`format: hex`, or `.hex`) as the
bytes their hex digits spell. A secret input never shows in output: binary and hex
ones become a `Secret`, and every value of a secret table a `SecretValue`.

`--input NAME=PATH` replaces an input's file (PATH relative to the working directory);
`--set NAME=VALUE` replaces a var, VALUE read as a YAML scalar (`7`, `0x10`, `true`, text).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from fusebook.errors import InputError, SourceLocation, did_you_mean
from fusebook.files import read_bounded
from fusebook.recipe.models import InputSpec, Recipe, format_of
from fusebook.recipe.secret_value import SecretValue, wrap_secret_leaves
from fusebook.recipe.yamlfile import count_nodes, yaml_error
from fusebook.secret import Secret

#: Largest input file read, in bytes.
MAX_INPUT_BYTES = 32 << 20

_CACHE: dict[tuple[Any, ...], tuple[Any, str]] = {}


def _digest(raw: bytes, secret: bool) -> str:
    """What the ledger records of an input: its SHA-256, or for a secret only a fingerprint."""
    if secret:
        return Secret(raw).fingerprint
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _no_duplicates(display: str) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise InputError(f"{display}: duplicate key {k!r}", location=SourceLocation(display),
                                 hint="each key may appear once; per-unit data must not repeat")
            out[k] = v
        return out
    return hook


def _text(raw: bytes, display: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"{display} is not UTF-8 text (byte {e.start})", location=SourceLocation(display)) from None


def _json(raw: bytes, display: str) -> Any:
    try:
        return json.loads(_text(raw, display), object_pairs_hook=_no_duplicates(display))
    except json.JSONDecodeError as e:
        raise InputError(f"{display}: not valid JSON: {e.msg}",
                         location=SourceLocation(display, e.lineno, e.colno)) from None
    except RecursionError:
        raise InputError(f"{display}: nested too deeply", location=SourceLocation(display)) from None


def _yaml(raw: bytes, display: str) -> Any:
    try:
        value = YAML(typ="safe").load(_text(raw, display))
        count_nodes(value, display)
        return value
    except YAMLError as e:
        raise yaml_error(e, display) from None
    except RecursionError:
        raise InputError(f"{display}: nested too deeply", location=SourceLocation(display)) from None


def _csv(raw: bytes, display: str, key: str | None, secret: bool, declared_at: SourceLocation) -> Any:
    # strict: a stray quote, or a quote left open at the end of the file, is an error
    # rather than a field that silently swallows the rest of the table.
    reader = csv.reader(io.StringIO(_text(raw, display)), skipinitialspace=True, strict=True)
    try:
        header = [h.strip() for h in next(reader, [])]
        seen: set[str] = set()
        for n, h in enumerate(header, start=1):
            if not h:
                raise InputError(f"{display}: column {n} has no name", location=SourceLocation(display, 1))
            if h in seen:
                raise InputError(f"{display}: column {h!r} appears twice", location=SourceLocation(display, 1))
            seen.add(h)
        if key is not None and key not in header:
            raise InputError(f"{display} has no column {key!r} (the input's `key:`)", location=declared_at,
                             hint=did_you_mean(key, header) or "columns: " + ", ".join(header))
        rows: list[dict[str, Any]] = []
        keyed: dict[str, dict[str, Any]] = {}
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            if len(row) != len(header):
                raise InputError(f"{display}: this row has {len(row)} fields, the header has {len(header)}",
                                 location=SourceLocation(display, line))
            record: dict[str, Any] = {h: cell.strip() for h, cell in zip(header, row, strict=True)}
            if secret:
                record = {h: (v if h == key else SecretValue(v)) for h, v in record.items()}
            if key is None:
                rows.append(record)
                continue
            k = record[key]
            if k in keyed:
                raise InputError(f"{display}: {key} {k!r} appears twice", location=SourceLocation(display, line),
                                 hint="per-unit rows must have distinct keys")
            keyed[k] = record
    except csv.Error as e:
        hint = "a quoted field is not closed" if "end of data" in str(e) else None
        raise InputError(f"{display}: not valid CSV: {e}", location=SourceLocation(display, reader.line_num),
                         hint=hint) from None
    return rows if key is None else keyed


def read_input(path: Path, display: str, spec: InputSpec, fmt: str, declared_at: SourceLocation) -> tuple[Any, str]:
    """(value, digest) of one input file; cached per process by path, format and file state."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"input file {display} does not exist", location=declared_at) from None
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read input file {display}: {getattr(e, 'strerror', None) or e}",
                         location=declared_at) from None
    cache_key = (str(path.resolve()), fmt, spec.key, spec.secret, stat.st_mtime_ns, stat.st_size)
    hit = _CACHE.get(cache_key)
    if hit is not None:
        return hit
    raw = read_bounded(path, "input file", limit=MAX_INPUT_BYTES, location=declared_at, display=display)
    value: Any
    digested = raw
    if fmt in ("binary", "hex"):
        data = raw
        if fmt == "hex":
            from fusebook.keys.files import hex_key_bytes

            data = hex_key_bytes(raw, f"input file {display}", declared_at)
            if spec.secret:
                digested = data  # a key's fingerprint is of its bytes, whatever file holds them
        value = Secret(data) if spec.secret else data
    elif fmt == "csv":
        value = _csv(raw, display, spec.key, spec.secret, declared_at)
    else:
        value = _json(raw, display) if fmt == "json" else _yaml(raw, display)
        if spec.secret:
            value = wrap_secret_leaves(value)
    result = (value, _digest(digested, spec.secret))
    _CACHE[cache_key] = result
    return result


def load_inputs(
    recipe: Recipe, recipe_path: str | Path, overrides: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Every input of `recipe` (and each one's digest), `overrides` replacing files by name."""
    overrides = dict(overrides or {})
    for name in overrides:
        if name not in recipe.inputs:
            raise InputError(
                f"--input {name}: the recipe has no input {name!r}",
                hint=did_you_mean(name, list(recipe.inputs))
                or ("inputs: " + ", ".join(recipe.inputs) if recipe.inputs else "the recipe has no inputs"))
    base = Path(recipe_path).parent
    values: dict[str, Any] = {}
    digests: dict[str, str] = {}
    for name, spec in recipe.inputs.items():
        declared_at = _declared_at(recipe, name)
        if name in overrides:
            path = Path(overrides[name])
            display = overrides[name]
            fmt = spec.format or format_of(display) or spec.resolved_format
        else:
            path = base / spec.file
            display = str(path)
            fmt = spec.resolved_format
        assert fmt is not None  # the model refuses inputs without a known format
        values[name], digests[name] = read_input(path, display, spec, fmt, declared_at)
    return values, digests


def _declared_at(recipe: Recipe, name: str) -> SourceLocation:
    return recipe.sources.location(("inputs", name))


def parse_set_value(text: str) -> Any:
    """A `--set` value: a YAML scalar (number, true/false, null) or else the text itself."""
    if not text.strip():
        return text
    try:
        value = YAML(typ="safe").load(text)
    except YAMLError:
        return text
    if isinstance(value, (bool, int, float, str)) or (value is None and text.strip() in ("null", "~")):
        return value
    return text


def merge_vars(recipe: Recipe, set_vars: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The recipe's vars with `--set NAME=VALUE` applied (a name the recipe does not declare is an error)."""
    declared = recipe.sources.declared_vars
    out = dict(recipe.vars)
    for name, text in (set_vars or {}).items():
        if name not in declared:
            raise InputError(
                f"--set {name}: the recipe declares no var {name!r}",
                hint=did_you_mean(name, sorted(declared))
                or ("vars: " + ", ".join(sorted(declared)) if declared else "the recipe has no vars"))
        out[name] = parse_set_value(text)
    return out
