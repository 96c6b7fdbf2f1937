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

from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path as FsPath
from typing import Any

from jinja2 import nodes

from fusebook.chips.custom_table import TableWarning, load_table
from fusebook.chips.models import ChipDef, FieldDef
from fusebook.efuse import codecs
from fusebook.efuse.image import EfuseImage
from fusebook.errors import FusebookError, InputError, PlanError, SourceLocation, did_you_mean
from fusebook.files import read_text_bounded
from fusebook.recipe.document import RecipeErrors
from fusebook.recipe.models import Recipe, StepBase
from fusebook.recipe.render import CompiledRecipe, CompiledStep, compile_recipe
from fusebook.recipe.sandbox import CONTEXT_NAMES, SANDBOX, CompiledString, compile_node
from fusebook.recipe.sources import Scope, StepSource
from fusebook.recipe.types import is_template
from fusebook.recipe.yamlfile import NodePath


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


# -- steps on each chip ------------------------------------------------------------------------
class _StepCheck:
    """Checks one step's literal names and values against one chip."""

    def __init__(self, step: StepBase, src: StepSource, chip: ChipDef, problems: list[FusebookError],
                 multi_chip: bool, image: EfuseImage | None = None) -> None:
        self.step, self.src, self.chip, self.problems = step, src, chip, problems
        self.multi_chip = multi_chip
        self.image = image  # the chip read (or a snapshot): its coding scheme decides what fits
        self.base = (*src.path, step.kind)

    def at(self, *path: str | int, key: bool = False) -> SourceLocation:
        full: NodePath = (*self.base, *path)
        return self.src.smap.key_location(full) if key else self.src.smap.location(full)

    def fail(self, message: str, location: SourceLocation, hint: str | None = None) -> None:
        self.problems.append(InputError(message, location=location, hint=hint))

    def run(self, fn: Callable[[], Any], location: SourceLocation, *, name_check: bool = False) -> Any:
        try:
            return fn()
        except InputError as e:
            hint = e.hint
            if name_check and self.multi_chip:
                skip = f"leave the step out there with `when: \"chip.name != '{self.chip.name}'\"`"
                hint = f"{hint} (or {skip})" if hint else skip
            self.fail(e.message, location, hint)
            return None

    def block(self, value: Any, *path: str) -> Any:
        if is_template(value):
            return None
        if isinstance(value, int):
            if value >= len(self.chip.blocks):
                self.fail(f"{self.chip.name} has no block {value}", self.at(*path))
                return None
            return self.chip.blocks[value]
        return self.run(lambda: self.chip.block(value), self.at(*path), name_check=True)

    def file(self, value: Any, *path: str) -> None:
        if value is None or is_template(value):
            return
        target = FsPath(self.src.smap.file).parent / value
        if not target.is_file():
            self.fail(f"file {value} does not exist (looked at {target})", self.at(*path))

    def check(self) -> None:
        getattr(self, "_" + self.step.kind)(self.step.value)

    def _burn_efuse(self, value: Any) -> None:
        if not isinstance(value, dict):
            return
        for name, v in value.items():
            if is_template(name):
                continue
            f = self.run(partial(self.chip.field, name), self.at(name, key=True), name_check=True)
            if f is None:
                continue
            if not f.burnable:
                self.fail(f"{f.name} is computed or read-only on {self.chip.name} and cannot be burned",
                          self.at(name, key=True))
            elif self.image is not None and not self._fits(f, v):
                size = self.image.data_bytes(f.block) * 8
                blk = self.chip.blocks[f.block].name
                self.problems.append(PlanError(
                    f"{f.name} (bits {f.start}..{f.mask.bit_length() - 1} of {blk}) does not fit this chip: "
                    f"under its coding scheme {blk} holds {size} data bits (0..{size - 1})",
                    location=self.at(name, key=True),
                    hint=f"move {f.name} below bit {size} in the custom eFuse table"))
            elif not is_template(v):
                self.run(partial(codecs.encode_value, self.chip, f, v), self.at(name))

    def _fits(self, f: FieldDef, value: Any) -> bool:
        """Whether `value` for `f` lies in the data its block holds on the chip read.

        A templated value may be anything: only a field wholly past the data is sure not to fit.
        """
        assert self.image is not None  # only called with a chip read
        if is_template(value):
            return self.image.bits_fit(f.block, 1 << f.start)
        try:
            return self.image.bits_fit(f.block, f.spread(codecs.encode_value(self.chip, f, value)))
        except InputError:
            return True  # the value's own problem is reported next

    def _burn_custom_mac(self, value: Any) -> None:
        if not self.chip.has_field("CUSTOM_MAC"):
            self.fail(f"{self.chip.name} has no custom MAC field", self.at())
        elif not is_template(value):
            self.run(lambda: codecs.parse_mac(value), self.at())

    def _purpose(self, args: Any, digest: bool) -> None:
        purpose = args.purpose
        if not self.chip.key_purposes:
            if purpose is not None:
                self.fail(f"{self.chip.name} key blocks have no purpose; the block name says what a key is for",
                          self.at("purpose"), hint="leave out `purpose:` (blocks: flash_encryption, "
                          "secure_boot_v1, secure_boot_v2, BLOCK3)")
            return
        if purpose is None:
            names = [kp.name for kp in self.chip.key_purposes if kp.digest or not digest]
            self.fail(f"on {self.chip.name} this step needs `purpose:`", self.at(),
                      hint="purposes: " + ", ".join(names))
        elif not is_template(purpose):
            kp = self.run(lambda: self.chip.key_purpose(purpose), self.at("purpose"))
            if kp is not None and digest and not kp.digest:
                self.fail(f"{kp.name} is not a secure boot digest purpose", self.at("purpose"))

    def _burn_key(self, args: Any) -> None:
        if isinstance(args, str):
            return
        self.block(args.block, "block")
        self._purpose(args, digest=False)
        self.file(args.file, "file")

    def _burn_key_digest(self, args: Any) -> None:
        if isinstance(args, str):
            return
        self.block(args.block, "block")
        self._purpose(args, digest=True)
        self.file(args.file, "file")

    def _burn_block_data(self, args: Any) -> None:
        if isinstance(args, str):
            return
        blk = self.block(args.block, "block")
        self.file(args.file, "file")
        if blk is None or args.data is None or is_template(args.data):
            return
        offset = args.offset if isinstance(args.offset, int) else 0
        size = len(codecs.parse_hex_bytes(args.data))
        if offset + size > blk.words * 4:
            self.fail(f"{size} bytes at offset {offset} do not fit {blk.name} ({blk.words * 4} bytes)",
                      self.at("data"))

    def _burn_bit(self, args: Any) -> None:
        if isinstance(args, str):
            return
        blk = self.block(args.block, "block")
        if blk is None or isinstance(args.bits, str):
            return
        for i, bit in enumerate(args.bits):
            if isinstance(bit, int) and bit >= blk.words * 32:
                self.fail(f"bit {bit} is outside {blk.name} (0..{blk.words * 32 - 1})", self.at("bits", i))

    def _protect(self, names: Any, write: bool) -> None:
        if isinstance(names, str):
            return
        for i, name in enumerate(names):
            if is_template(name):
                continue
            if self.chip.has_field(name):
                f = self.chip.field(name)
                bits: Any = f.wr_dis if write else f.rd_dis
            elif self.chip.has_block(name):
                b = self.chip.block(name)
                bits = b.wr_dis if write else b.rd_dis
            else:
                self.run(partial(self.chip.field, name), self.at(i), name_check=True)
                continue
            if bits is None or bits == ():
                self.fail(f"{name} has no {'write' if write else 'read'}-disable bit on {self.chip.name}",
                          self.at(i))

    def _write_protect_efuse(self, names: Any) -> None:
        self._protect(names, write=True)

    def _read_protect_efuse(self, names: Any) -> None:
        self._protect(names, write=False)

    def _set_flash_voltage(self, value: Any) -> None:
        if not (self.chip.has_field("XPD_SDIO_FORCE") or self.chip.has_field("VDD_SPI_FORCE")):
            self.fail(f"{self.chip.name} has no flash voltage regulator eFuses", self.at())


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
                _StepCheck(step, src, chip, problems, len(chips) > 1, read).check()
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
