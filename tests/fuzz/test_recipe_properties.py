"""Any recipe document, however wrong, ends in exit 0, 2 or 3: never a crash.

A recipe is user data, so every way to get it wrong (a wrong type, an out-of-range value,
a template that fails, an include of garbage, a chip image with odd bits) must end in an
InputError (exit 2) or a PlanError (exit 3) with a message, never in another exception,
which the command line would report as an internal error. Two generators feed the
pipeline load -> validate -> render -> plan: recipes built from the chips' own field,
block and key-purpose names with random values and templates, and the example recipes
in recipes/ with random parts of their YAML trees replaced.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import event, given, reject
from hypothesis import strategies as st
from ruamel.yaml import YAML

from fusebook import api
from fusebook.chips.loader import chip_names, load_chip
from fusebook.chips.models import ChipDef
from fusebook.efuse.image import EfuseImage
from fusebook.errors import FusebookError
from fusebook.recipe import loader as recipe_loader
from fusebook.recipe.static_checks import validate_recipe
from fusebook.steps import STEPS

from .profiles import examples

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes"
CHIPS = chip_names()
USER_ERRORS = (2, 3)
STEP_KINDS = tuple(name for name, kind in STEPS.items() if kind.planned)  # include: generated apart


@cache
def chip(name: str) -> ChipDef:
    return load_chip(name)


# -- values and templates ----------------------------------------------------------------
def hex_bytes(min_size: int = 0, max_size: int = 40) -> st.SearchStrategy[str]:
    return st.binary(min_size=min_size, max_size=max_size).map(bytes.hex)


MACS = st.one_of(
    st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b)),
    st.sampled_from(["02:00:00:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "01:00:5e:00:00:01",
                     "02:00:00:00:00", "zz:00:00:00:00:00", "02-00-00-00-00-01"]),
)
INTS = st.one_of(st.integers(-3, 300), st.integers(-(2**70), 2**70),
                 st.sampled_from([0, 1, 2**31, 2**32 - 1, 2**32, 2**64, 2**256]))
JUNK = st.one_of(st.none(), st.floats(allow_nan=True), st.text(max_size=12), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))

ATOMS = st.one_of(
    st.sampled_from(["index", "vars.v", "vars.missing", "inputs.table", "inputs.blob", "inputs.nope",
                     "chip.name", "chip.revision", "none", "true", "false", "[]", "{}", "range(4)",
                     "range(10**9)", "'x' * 100000", "inputs.table[index|string]", "efuses",
                     "inputs.table[index]", "vars", "loop", "self", "namespace()", "lipsum()",
                     "cycler", "joiner()", "''.__class__", "index.__class__.__mro__", "dict(a=1)",
                     "'%s' % index", "'{}'.format(1)", "caller", "range"]),
    st.integers(-(2**40), 2**40).map(str),
    st.text(alphabet="abc:0123456789ABCDEF'\"\\", max_size=8).map(repr),
)


def field_atoms(c: ChipDef) -> st.SearchStrategy[str]:
    names = [f.name for f in c.fields]
    return st.one_of(
        st.sampled_from(names).map(lambda n: f"efuses.{n}"),
        st.sampled_from(names + ["NOPE"]).map(lambda n: f"readable('{n}')"),
        st.sampled_from(names + ["NOPE"]).map(lambda n: f"writeable('{n}')"),
        st.sampled_from(names + ["NOPE"]).map(lambda n: f"meaning('{n}')"),
        st.sampled_from(names).map(lambda n: f"efuses['{n}']"),
    )


FILTERS = st.sampled_from([
    "hex", "hex(4)", "hex(-1)", "hex(10**9)", "unhex", "mac", "mac_add", "mac_add(1)", "mac_add(-1)",
    "mac_add(2**60)", "to_bytes(4)", "to_bytes(-1)", "to_bytes(10**8)", "to_bytes(4, 'big')",
    "to_bytes(4, 'sideways')", "string", "int", "int(base=16)", "float", "length", "upper", "lower",
    "list", "first", "last", "join", "join(',')", "default(0)", "abs", "reverse", "sum", "trim",
    "replace('0', '1')", "format(1)", "bool", "tojson", "safe", "map('upper')", "select", "unique",
    "sort", "batch(2)", "slice(3)", "wordcount", "center(10**7)", "indent(10**7)", "round", "attr('x')",
    "items", "dictsort", "random", "pprint", "xmlattr", "urlencode", "filesizeformat", "nosuchfilter",
])
OPS = st.sampled_from([" + ", " - ", " * ", " // ", " % ", " / ", " ** ", " ~ ", " and ", " or ",
                       " == ", " != ", " < ", " >= ", " in ", " is ", "[", "|"])


def expressions(c: ChipDef) -> st.SearchStrategy[str]:
    leaf = st.one_of(ATOMS, field_atoms(c))

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, FILTERS).map(lambda t: f"{t[0]} | {t[1]}"),
            st.tuples(inner, OPS, inner).map(lambda t: f"({t[0]}{t[1]}{t[2]}" + ("])" if t[1] == "[" else ")")
                                             if t[1] not in ("|",) else f"({t[0]} | {t[2]})"),
            inner.map(lambda e: f"not {e}"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
            st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        )

    return st.recursive(leaf, extend, max_leaves=6)


def templates(c: ChipDef) -> st.SearchStrategy[str]:
    """Strings with Jinja in them: expressions, statements, and broken syntax."""
    expr = expressions(c)
    return st.one_of(
        expr.map(lambda e: "{{ " + e + " }}"),
        st.tuples(st.text(max_size=4), expr, st.text(max_size=4)).map(lambda t: f"{t[0]}{{{{ {t[1]} }}}}{t[2]}"),
        expr.map(lambda e: "{% for x in " + e + " %}{{ x }}{% endfor %}"),
        expr.map(lambda e: "{% if " + e + " %}1{% else %}0{% endif %}"),
        st.sampled_from(["{{", "}}", "{{ }}", "{% %}", "{% set x = 1 %}{{ x }}", "{% macro m() %}{% endmacro %}",
                         "{% include 'x' %}", "{% import 'x' as y %}", "{% extends 'x' %}", "{{ 1 }",
                         "{# c #}", "{% raw %}{{{% endraw %}", "{{ '{{' }}", "{% filter upper %}a{% endfilter %}",
                         "{% for i in range(10**6) %}{{ i }}{% endfor %}", "{{ x.y.z }}", "{{ 1/0 }}",
                         "{{ 2**2**2**2**2 }}", "{{ [1]*10**8 }}", "{{ 'a'|center(10**9) }}"]),
        st.text(alphabet="{}%#|'\" abcx01", max_size=16),
    )


def values(c: ChipDef) -> st.SearchStrategy[Any]:
    return st.one_of(INTS, st.booleans(), hex_bytes().map(lambda h: "0x" + h), hex_bytes(), MACS,
                     st.sampled_from([p.name for p in c.key_purposes] or ["USER"]), templates(c), JUNK)


def field_names(c: ChipDef) -> st.SearchStrategy[str]:
    names = [f.name for f in c.fields] + [a for f in c.fields for a in f.aliases]
    return st.one_of(st.sampled_from(names), st.sampled_from(names).map(str.lower),
                     st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789", min_size=1, max_size=12),
                     templates(c))


def block_refs(c: ChipDef) -> st.SearchStrategy[Any]:
    names = [n for b in c.blocks for n in b.names]
    return st.one_of(st.sampled_from(names), st.integers(-2, 20), st.sampled_from(
        ["flash_encryption", "secure_boot_v1", "secure_boot_v2", "BLOCK3", "BLOCK_KEY0", "BLOCK99", ""]),
        templates(c), JUNK)


# -- steps and documents -------------------------------------------------------------------
def step_bodies(c: ChipDef, kind: str) -> st.SearchStrategy[Any]:
    purposes = st.one_of(st.sampled_from([p.name for p in c.key_purposes] or ["XTS_AES_128_KEY"]),
                         st.sampled_from(["USER", "NOPE", "XTS_AES_256_KEY", "ECDSA_KEY"]), templates(c), JUNK)
    data = st.one_of(hex_bytes(0, 70), hex_bytes(32, 32), hex_bytes(64, 64), templates(c), JUNK,
                     st.just("{{ inputs.blob | hex }}"), st.just("{{ inputs.blob }}"))
    files = st.sampled_from(["blob.bin", "garbage.pem", "nope.bin", "../etc/passwd", "/etc/hostname", "sub"])
    if kind == "burn_efuse":
        return st.one_of(st.dictionaries(field_names(c), values(c), max_size=4), JUNK)
    if kind == "burn_custom_mac":
        return st.one_of(MACS, templates(c), JUNK)
    if kind == "burn_key":
        return st.fixed_dictionaries(
            {"block": block_refs(c)},
            optional={"purpose": purposes, "data": data, "file": files, "read_protect": st.one_of(st.booleans(), JUNK),
                      "write_protect": st.one_of(st.booleans(), templates(c)), "extra": st.integers()})
    if kind == "burn_key_digest":
        return st.fixed_dictionaries({"block": block_refs(c)},
                                     optional={"purpose": purposes, "file": files, "data": data})
    if kind == "burn_block_data":
        return st.fixed_dictionaries({"block": block_refs(c)},
                                     optional={"offset": st.one_of(INTS, templates(c)), "data": data, "file": files})
    if kind == "burn_bit":
        return st.fixed_dictionaries({"block": block_refs(c)}, optional={
            "bits": st.one_of(st.lists(st.one_of(INTS, templates(c)), max_size=5), templates(c), JUNK)})
    if kind in ("write_protect_efuse", "read_protect_efuse"):
        return st.one_of(st.lists(field_names(c), max_size=3), field_names(c), JUNK)
    return st.one_of(st.sampled_from(["1.8V", "3.3V", "OFF", "5V", "1.8v"]), templates(c), JUNK)


def sane_steps(c: ChipDef) -> st.SearchStrategy[dict[str, Any]]:
    """Steps a user might really write: real names, values that fit, so planning is reached."""
    burnable = [f for f in c.fields if f.burnable and f.type != "bytes"]
    key_blocks = [b.name for b in c.key_blocks] or [c.blocks[-1].name]
    data_blocks = [b for b in c.blocks if b.id != 0]
    fields = st.sampled_from(burnable).flatmap(
        lambda f: st.integers(1, min(2**f.bits - 1, 2**16)).map(lambda v: (f.name, v)))
    purposes = [p.name for p in c.key_purposes if not p.digest] or [None]
    return st.one_of(
        st.lists(fields, min_size=1, max_size=3).map(lambda kv: {"burn_efuse": dict(kv)}),
        MACS.map(lambda m: {"burn_custom_mac": m}),
        st.tuples(st.sampled_from(key_blocks), st.sampled_from(purposes), hex_bytes(32, 32), st.booleans()).map(
            lambda t: {"burn_key": {"block": t[0], "data": t[2], "read_protect": t[3],
                                    **({"purpose": t[1]} if t[1] and c.family != "esp32" else {})}}),
        st.tuples(st.sampled_from(data_blocks), st.integers(0, 12), hex_bytes(1, 8)).map(
            lambda t: {"burn_block_data": {"block": t[0].name, "offset": t[1], "data": t[2]}}),
        st.sampled_from(data_blocks).flatmap(lambda b: st.lists(st.integers(0, 32 * b.words - 1), min_size=1,
                                                                max_size=4).map(
            lambda bits: {"burn_bit": {"block": b.name, "bits": bits}})),
        st.lists(st.sampled_from([f.name for f in c.fields]), min_size=1, max_size=2).map(
            lambda n: {"write_protect_efuse": n}),
        st.lists(st.sampled_from([f.name for f in c.fields if f.rd_dis] or ["RD_DIS"]), min_size=1,
                 max_size=1).map(lambda n: {"read_protect_efuse": n}),
    )


def steps(c: ChipDef, includes: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    wild = st.sampled_from(STEP_KINDS).flatmap(lambda k: step_bodies(c, k).map(lambda v: {k: v}))
    body = st.one_of(sane_steps(c), sane_steps(c), wild)
    if includes:
        body = st.one_of(body, st.sampled_from(includes).map(lambda f: {"include": f}),
                         st.sampled_from(includes).map(lambda f: {"include": {"file": f, "vars": {"v": 1}}}))
    extras = st.fixed_dictionaries({}, optional={"name": st.one_of(st.text(max_size=8), templates(c)),
                                                 "when": st.one_of(expressions(c), st.booleans(), JUNK)})
    return st.tuples(body, extras).map(lambda t: {**t[0], **t[1]})


def assertions(c: ChipDef) -> st.SearchStrategy[list[Any]]:
    entry = st.fixed_dictionaries({"that": st.one_of(expressions(c), st.booleans(), JUNK)},
                                  optional={"message": st.one_of(st.text(max_size=8), templates(c))})
    return st.lists(entry, max_size=2)


TABLES = st.one_of(
    st.dictionaries(st.integers(0, 5).map(str), st.one_of(MACS, st.integers(), hex_bytes(0, 8)), max_size=4),
    st.lists(st.integers(), max_size=3), st.integers(), st.text(max_size=8),
)


def rarely(other: st.SearchStrategy[Any], usual: Any) -> st.SearchStrategy[Any]:
    """`usual` nineteen times in twenty, else something from `other`: wrong, but not so often
    that few documents get past the first check."""
    return st.integers(0, 19).flatmap(lambda n: other if n == 19 else st.just(usual))


@st.composite
def documents(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, bytes], str]:
    """A recipe built from one chip's own names, with the files it refers to."""
    name = draw(st.sampled_from(CHIPS))
    c = chip(name)
    files: dict[str, bytes] = {
        "blob.bin": draw(st.binary(max_size=70)),
        "garbage.pem": draw(st.sampled_from([b"", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                                             b"-----BEGIN EC PRIVATE KEY-----\n!!\n-----END EC PRIVATE KEY-----\n",
                                             b"\xff\xfe"])),
    }
    table_kind = draw(st.sampled_from(["json", "yaml", "csv"]))
    table = draw(TABLES)
    if table_kind == "csv":
        files["table.csv"] = draw(st.sampled_from(
            [b"index,serial\n0,00ff\n1,zz\n", b"index,serial\n0,1\n0,2\n", b"a\n", b"", b"\xff",
             b"index,serial\n0\n", b'index,"serial\n']))
    else:
        files[f"table.{table_kind}"] = json.dumps(table).encode()
    includes: list[str] = []
    if draw(st.booleans()):
        inc = {"steps": draw(st.lists(steps(c, []), max_size=2))}
        if draw(st.booleans()):
            inc["vars"] = {"v": draw(values(c))}
        files["inc.yaml"] = json.dumps(inc, default=str).encode()
        files["cycle.yaml"] = b"steps:\n  - include: cycle.yaml\n"
        files["bad.yaml"] = draw(st.sampled_from([b"steps: [", b"- 1", b"steps: 3", b"fusebook: 1\n"]))
        includes = ["inc.yaml", "cycle.yaml", "bad.yaml", "missing.yaml", "../x.yaml", "/etc/hostname"]
    doc: dict[str, Any] = {
        "fusebook": draw(rarely(st.sampled_from([2, "1", None]), 1)),
        "name": draw(rarely(st.sampled_from(["fuzz-1", "Bad Name", ""]), "fuzz")),
        "chip": draw(rarely(st.sampled_from([[name], name.upper(), "esp8266", "", "esp32-c3"]), name)),
        "steps": draw(st.lists(steps(c, includes), max_size=5)),
    }
    optional = {
        "inputs": st.just({"table": {"file": f"table.{table_kind}", **({"key": "index"} if table_kind == "csv"
                                                                       and draw(st.booleans()) else {})},
                           "blob": {"file": "blob.bin", "format": "binary",
                                    "secret": draw(st.booleans())}}),
        "vars": st.dictionaries(rarely(st.just("bad name"), "v"), values(c), max_size=2),
        "unique": st.lists(field_names(c), max_size=2),
        "require": assertions(c),
        "ensure": assertions(c),
        "description": st.text(max_size=10),
    }
    for key, strategy in optional.items():
        if draw(st.integers(0, 3)) == 0 or (key == "inputs" and draw(st.booleans())):
            doc[key] = draw(strategy)
    if draw(st.integers(0, 15)) == 7:
        doc["extend_efuse_table"] = draw(st.sampled_from(["table.csv", "blob.bin", "missing.csv", "custom.csv"]))
        files["custom.csv"] = draw(st.sampled_from([
            b"MY_FIELD, EFUSE_BLK3, 0, 8, mine\n", b"X, EFUSE_BLK99, 0, 8, no\n", b"Y, EFUSE_BLK3, 250, 8, edge\n",
            b"Z, EFUSE_BLK3, 0, 0, empty\n", b"W, EFUSE_BLK3, -1, 8, neg\n", b",,,\n"]))
    return doc, files, name


def random_image(c: ChipDef, data: st.DataObject) -> EfuseImage:
    """A blank chip, or one with a few random bits set in random blocks (any state a chip can be in)."""
    image = EfuseImage.blank(c)
    if data.draw(st.booleans(), label="blank"):
        return image
    blocks = list(image.blocks)
    for _ in range(data.draw(st.integers(1, 4), label="bits")):
        blk = data.draw(st.sampled_from(c.blocks), label="block")
        blocks[blk.id] |= 1 << data.draw(st.integers(0, 32 * blk.words - 1), label="bit")
    return image.with_blocks(tuple(blocks))


# -- the property -------------------------------------------------------------------------
@contextmanager
def recipe_dir(files: dict[str, bytes]) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="fusebook-fuzz-"))
    try:
        (root / "sub").mkdir()
        for rel, content in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(content)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


#: Defects these properties found that belong to another part of the code, as
#: (exception type, fusebook function it escapes from). Each has a strict-xfail reproducer in
#: test_known_defects.py; an example hitting one is rejected here so the search goes on
#: for the next class instead of stopping at the known one. Remove an entry with its fix.
KNOWN_DEFECTS: tuple[tuple[type[BaseException], str], ...] = ()


def known_defect(e: BaseException) -> str | None:
    """The KNOWN_DEFECTS entry `e` is an instance of, if any."""
    frames = [f.name for f in traceback.extract_tb(e.__traceback__) if "fusebook" in f.filename
              and "tests" not in f.filename]
    for kind, where in KNOWN_DEFECTS:
        if isinstance(e, kind) and where in frames:
            return f"{kind.__name__} from {where}"
    return None


def through_the_pipeline(path: Path, image_for: Any, index: int | None) -> int:
    """Validate, load, render and plan `path`; the exit code it ends in (anything else raises)."""
    try:
        return _pipeline(path, image_for, index)
    except Exception as e:
        known = known_defect(e)
        if known is None:
            raise
        event(f"known defect: {known}")
        reject()


def _pipeline(path: Path, image_for: Any, index: int | None) -> int:
    try:
        recipe = recipe_loader.load_recipe(path)
        chips = recipe.chip if isinstance(recipe.chip, list) else [recipe.chip]
        for problem in validate_recipe(recipe, [api.load_chip(c) for c in chips]):
            assert isinstance(problem, FusebookError) and problem.exit_code == 2, problem
        loaded = api.load_recipe(path)
        api.plan(loaded, image_for(loaded.chips[0]), index)
        event("exit 0")
        return 0
    except FusebookError as e:
        assert e.exit_code in USER_ERRORS, f"exit {e.exit_code}: {e.render()}"
        assert e.message, "an error without a message"
        event(f"exit {e.exit_code}: {e.message[:40]}")
        return e.exit_code


INDICES = st.one_of(st.none(), st.integers(0, 6), st.integers(-(2**40), 2**40))


@examples(60)
@given(documents(), INDICES, st.data())
def test_generated_recipes_end_in_exit_0_2_or_3(doc: tuple[dict[str, Any], dict[str, bytes], str],
                                                 index: int | None, data: st.DataObject) -> None:
    body, files, _ = doc
    serialised = data.draw(st.sampled_from(["json", "yaml"]), label="as")
    with recipe_dir(files) as root:
        path = root / "r.yaml"
        if serialised == "json":
            path.write_text(json.dumps(body, default=str))
        else:
            buf = io.StringIO()
            YAML(typ="safe", pure=True).dump(json.loads(json.dumps(body, default=str)), buf)
            path.write_text(buf.getvalue())
        through_the_pipeline(path, lambda name: random_image(chip(name), data), index)


# -- the example recipes, mutated ------------------------------------------------------------
def example_recipes() -> list[Path]:
    """The example recipes (their test files, NAME.test.yaml, are not recipes)."""
    return sorted(p for p in RECIPES.glob("*.yaml") if not p.name.endswith(".test.yaml"))


@cache
def example_trees() -> dict[str, Any]:
    yaml = YAML(typ="safe", pure=True)
    return {p.name: yaml.load(p.read_text()) for p in example_recipes()}


def paths(tree: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a YAML tree (as a key path), the root included."""
    yield prefix
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from paths(v, (*prefix, i))


def mutate(tree: Any, where: tuple[Any, ...], how: str, value: Any) -> Any:
    """`tree` with the node at `where` replaced, deleted, duplicated or its key renamed."""
    if not where:
        return value if how == "replace" else tree
    parent = tree
    for k in where[:-1]:
        parent = parent[k]
    last = where[-1]
    if how == "replace":
        parent[last] = value
    elif how == "delete":
        del parent[last]
    elif how == "duplicate" and isinstance(parent, list):
        parent.insert(last, json.loads(json.dumps(parent[last], default=str)))
    elif how == "rename" and isinstance(parent, dict):
        parent[str(value)] = parent.pop(last)
    return tree


MUTANT_VALUES = st.one_of(INTS, st.booleans(), MACS, hex_bytes(0, 40), JUNK,
                          templates(chip("esp32c3")), st.sampled_from(["BLOCK_KEY0", "XTS_AES_128_KEY", "esp32"]))


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, Any]:
    trees = example_trees()
    name = draw(st.sampled_from(sorted(trees)))
    tree = json.loads(json.dumps(trees[name], default=str))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(list(paths(tree))))
        how = draw(st.sampled_from(["replace", "replace", "delete", "duplicate", "rename"]))
        tree = mutate(tree, where, how, draw(MUTANT_VALUES))
    return name, tree


@contextmanager
def recipes_copy() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="fusebook-fuzz-"))
    try:
        shutil.copytree(RECIPES, root / "recipes")
        yield root / "recipes"
    finally:
        shutil.rmtree(root, ignore_errors=True)


@examples(40)
@given(mutants(), INDICES, st.data())
def test_mutated_example_recipes_end_in_exit_0_2_or_3(mutant: tuple[str, Any], index: int | None,
                                                       data: st.DataObject) -> None:
    name, tree = mutant
    with recipes_copy() as root:
        path = root / name
        buf = io.StringIO()
        YAML(typ="safe", pure=True).dump(tree, buf)
        path.write_text(buf.getvalue())
        through_the_pipeline(path, lambda c: random_image(chip(c), data), index)


@examples(30)
@given(st.sampled_from([p.name for p in example_recipes()]), st.binary(max_size=8),
       st.integers(0, 10_000), st.data())
def test_example_recipes_with_garbled_bytes_end_in_exit_0_2_or_3(name: str, garbage: bytes, at: int,
                                                                  data: st.DataObject) -> None:
    """Bytes spliced into a recipe's text: YAML syntax, encodings, truncation."""
    with recipes_copy() as root:
        path = root / name
        text = path.read_bytes()
        at %= len(text) + 1
        cut = data.draw(st.sampled_from([0, 0, 1, 5]), label="cut")
        path.write_bytes(text[:at] + garbage + text[at + cut:])
        through_the_pipeline(path, lambda c: random_image(chip(c), data), data.draw(INDICES, label="index"))


# -- the same through the command line ------------------------------------------------------
def cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FUSEBOOK_DEBUG"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "fusebook", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120, stdin=subprocess.DEVNULL)


@examples(4, fuzz=60)
@given(documents(), st.one_of(st.none(), st.integers(0, 6)), st.sampled_from(["text", "json"]))
def test_the_command_line_never_shows_a_traceback(doc: tuple[dict[str, Any], dict[str, bytes], str],
                                                   index: int | None, fmt: str) -> None:
    body, files, name = doc
    with recipe_dir(files) as root:
        path = root / "r.yaml"
        path.write_text(json.dumps(body, default=str))
        validate = cli("validate", path, "--format", fmt, cwd=root)
        extra = ["--index", str(index)] if index is not None else []
        planned = cli("plan", path, "--snapshot", "blank", "--chip", name, "--format", fmt, *extra, cwd=root)
    for run in (validate, planned):
        assert run.returncode in (0, 2, 3), run.stderr
        assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
