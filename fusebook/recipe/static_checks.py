"""`fusebook validate`: everything that can be checked about a recipe without a chip.

Beyond the schema (checked when loading): templates compile; names used in templates
exist (`vars.X`, `inputs.X`, `efuses.X` on at least one of the recipe's chips); field,
block and key-purpose names of each step exist on every chip the step can apply to;
literal values fit their fields; files named by the recipe exist.

A step "can apply" to a chip unless its `when:` (or an enclosing include's) is false for
that chip whatever the unit: `when` is evaluated knowing only `chip.name` and the vars
as written; anything depending on the unit (`efuses`, `inputs`, `index`) counts as
"maybe". So `when: "chip.name != 'esp32'"` lets a multi-chip recipe use fields the ESP32
does not have.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path as FsPath
from typing import Any

from jinja2 import nodes

from fusebook.chips.custom_table import TableWarning, load_table
from fusebook.chips.models import ChipDef
from fusebook.efuse.image import EfuseImage
from fusebook.errors import FusebookError, InputError, did_you_mean
from fusebook.files import read_text_bounded
from fusebook.recipe.document import RecipeErrors
from fusebook.recipe.models import Recipe
from fusebook.recipe.render import CompiledRecipe, CompiledStep, compile_recipe
from fusebook.recipe.sandbox import CONTEXT_NAMES, SANDBOX, CompiledString, compile_node
from fusebook.recipe.sources import Scope, StepSource
from fusebook.recipe.types import is_template
from fusebook.steps import STEPS
from fusebook.steps.base import StepCheck


class _Unknown(Exception):
    """Raised by any use of a value that depends on the unit."""


class _UnitValue:
    """Stands for `efuses`, `inputs`, `index`...: any use of it means "cannot tell"."""

    def __getattr__(self, name: str) -> Any:
        raise _Unknown(name)

    def _unknown(self, *args: Any, **kwargs: Any) -> Any:
        raise _Unknown()

    __getitem__ = __call__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _unknown
    __bool__ = __iter__ = __contains__ = __len__ = __str__ = __int__ = __add__ = __radd__ = _unknown
    __hash__ = None  # type: ignore[assignment]


UNIT = _UnitValue()


class _StaticChip:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attr: str) -> Any:  # revision, major, minor: per unit
        raise _Unknown(attr)


def _has_template(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return is_template(value)


def _static_vars(scope: Scope) -> dict[str, Any]:
    """Vars as written, for `scope`; templated ones are per unit."""
    def plain(values: dict[str, Any]) -> dict[str, Any]:
        return {k: (UNIT if _has_template(v) else v) for k, v in values.items()}

    out = plain(scope.defaults)
    if scope.parent is not None:
        out.update(_static_vars(scope.parent))
    out.update(plain(scope.overrides))
    return out


def _truth(test: CompiledString | bool, scope: Scope, chip: ChipDef) -> bool | None:
    """True/False if `test` is decided by the chip's name and the vars as written, else None."""
    if isinstance(test, bool):
        return test
    names: dict[str, Any] = dict(SANDBOX.globals)
    names.update({n: UNIT for n in CONTEXT_NAMES if n not in names})
    names.update(chip=_StaticChip(chip.name), vars=_static_vars(scope))

    def decide(node: nodes.Node) -> bool | None:
        if isinstance(node, (nodes.And, nodes.Or)):
            left, right = decide(node.left), decide(node.right)
            stop = isinstance(node, nodes.Or)  # the value that settles it
            if left is stop or right is stop:
                return stop
            return None if left is None or right is None else not stop
        if isinstance(node, nodes.Not):
            inner = decide(node.node)
            return None if inner is None else not inner
        try:
            return bool(compile_node(node, "", test.origin).evaluate(names))  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - anything that needs the unit is "maybe"
            return None

    return decide(test.tree)


def _applies(step: CompiledStep, src: StepSource, chip: ChipDef) -> bool:
    scopes = [c.scope for c in src.inherited]
    if len(step.conditions) > len(scopes):
        scopes.append(src.scope)
    return all(_truth(c.test, scope, chip) is not False for c, scope in zip(step.conditions, scopes, strict=True))


# -- names used in templates ---------------------------------------------------------------
def _const_arg(node: nodes.Node) -> str | None:
    return node.value if isinstance(node, nodes.Const) and isinstance(node.value, str) else None


def _references(tree: nodes.Node) -> Iterable[tuple[str, str]]:
    """(namespace, name) for `vars.X`, `inputs.X`, `efuses.X`, readable('X')...; ('', X) for free names."""
    for node in (tree, *tree.find_all(nodes.Node)):
        if isinstance(node, nodes.Name) and node.ctx == "load":
            yield "", node.name
        elif isinstance(node, (nodes.Getattr, nodes.Getitem)) and isinstance(node.node, nodes.Name):
            name = node.attr if isinstance(node, nodes.Getattr) else _const_arg(node.arg)
            if name is not None and node.node.name in ("vars", "inputs", "efuses"):
                yield node.node.name, name
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) \
                and node.node.name in ("readable", "writeable", "meaning") and node.args:
            name = _const_arg(node.args[0])
            if name is not None:
                yield "efuses", name


def _check_references(compiled: CompiledRecipe, recipe: Recipe, chips: list[ChipDef]) -> list[InputError]:
    declared_vars = sorted(recipe.sources.declared_vars)
    inputs = list(recipe.inputs)
    efuse_names = sorted({n for c in chips for f in c.fields for n in f.names}
                         | {n for c in chips for b in c.blocks for n in b.names})
    known = {"vars": declared_vars, "inputs": inputs, "efuses": efuse_names}
    on = " on " + ", ".join(c.name for c in chips)
    what = {"vars": ("var", ""), "inputs": ("input", ""), "efuses": ("eFuse field or block", on)}
    problems = []
    for s in compiled.strings():
        for space, name in _references(s.tree):
            if space == "":
                if name not in CONTEXT_NAMES and name != "result":
                    problems.append(InputError(f"{name!r} is not defined", location=s.origin,
                                               hint=did_you_mean(name, list(CONTEXT_NAMES))
                                               or "names: " + ", ".join(CONTEXT_NAMES)))
            elif name not in known[space]:
                noun, where = what[space]
                problems.append(InputError(f"no {noun} named {name!r}{where}", location=s.origin,
                                           hint=did_you_mean(name, known[space])))
    return problems


# -- the whole recipe --------------------------------------------------------------------------
def _extended(recipe: Recipe, chips: list[ChipDef], problems: list[FusebookError],
              warnings: list[Any]) -> list[ChipDef]:
    table = recipe.extend_efuse_table
    if table is None:
        return chips
    at = recipe.sources.location(("extend_efuse_table",))
    path = FsPath(recipe.sources.path).parent / table
    if not path.exists():
        problems.append(InputError(f"cannot read the custom eFuse table {table}: no such file", location=at))
        return chips
    try:
        text = read_text_bounded(path, "custom eFuse table", limit=1 << 20, location=at, display=table)
    except InputError as e:
        problems.append(e)
        return chips
    out = []
    for chip in chips:
        try:
            extended = load_table(chip, text, str(path))
            out.append(extended.chip)
            warnings += [w for w in extended.warnings if w not in warnings]
        except InputError as e:
            problems.append(e)
            out.append(chip)
    return out


def _check_files(recipe: Recipe) -> list[InputError]:
    base = FsPath(recipe.sources.path).parent
    problems = []
    for name, spec in recipe.inputs.items():
        if not (base / spec.file).is_file():
            problems.append(InputError(f"input file {base / spec.file} does not exist",
                                       location=recipe.sources.location(("inputs", name, "file")),
                                       hint="paths are relative to the recipe file"))
    return problems


def validate_recipe(recipe: Recipe, chips: list[ChipDef], *, image: EfuseImage | None = None,
                    warnings: list[TableWarning] | None = None) -> list[FusebookError]:
    """Every problem found in `recipe` for `chips`, in file order (empty if it is fine).

    With `image` (a chip read, or a snapshot) `chips` is that chip, and fields are also
    checked against its coding scheme (an ESP32 3/4-coded block holds 192 data bits).
    The custom table's warnings are added to `warnings`.
    """
    problems: list[FusebookError] = []
    table_warnings: list[TableWarning] = [] if warnings is None else warnings
    try:
        compiled: CompiledRecipe | None = compile_recipe(recipe)
    except RecipeErrors as e:
        problems += e.problems
        compiled = None
    except InputError as e:
        problems.append(e)
        compiled = None
    chips = _extended(recipe, chips, problems, table_warnings)
    problems += _check_files(recipe)
    if compiled is not None:
        problems += _check_references(compiled, recipe, chips)
    for i, (step, src) in enumerate(zip(recipe.steps, recipe.sources.steps, strict=True)):
        for chip in chips:
            if compiled is None or _applies(compiled.steps[i], src, chip):
                read = image.with_chip(chip) if image is not None and image.chip.name == chip.name else None
                STEPS[step.kind].check(StepCheck(step, src, chip, problems, len(chips) > 1, read), step.value)
    for i, name in enumerate(recipe.unique):
        for chip in chips:
            if not chip.has_field(name):
                problems.append(InputError(
                    f"{chip.name} has no eFuse field {name!r} (in `unique:`)",
                    location=recipe.sources.location(("unique", i)),
                    hint=did_you_mean(name, [n for f in chip.fields for n in f.names])))
    unique: dict[tuple[str, str], FusebookError] = {}
    for p in problems:
        unique.setdefault((str(p.location), p.message), p)
    return sorted(unique.values(), key=lambda e: (e.location.file if e.location else "",
                                                  e.location.line or 0 if e.location else 0,
                                                  e.location.column or 0 if e.location else 0))
