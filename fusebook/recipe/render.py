"""Render a recipe for one unit: compile every template once, then evaluate per index.

`compile_recipe` turns a loaded recipe into a tree of small nodes (constants, compiled
templates with the check their position demands, lists, mappings), so that
`render_steps` for one unit is a walk over that tree: no parsing, no pydantic. Steps
whose `when` is false are left out; `check_assertions` evaluates `require`/`ensure`.

In templates, `efuses.NAME` is the value of a field (or block) of the chip in `ctx`,
`vars.NAME` follows the recipe's scopes (see `sources.Scope`), `inputs.NAME` is the
loaded input, `index` the unit's index and `chip` its name and revision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, get_args, get_origin

from pydantic import BaseModel

from fusebook.errors import FusebookError, InputError, PlanError, SourceLocation, did_you_mean
from fusebook.recipe.document import raise_all
from fusebook.recipe.models import Assertion, Recipe
from fusebook.recipe.sources import AssertionSource, Condition, Scope, StepSource
from fusebook.recipe.types import (
    TEXT,
    ValueKindError,
    is_template,
    markers,
    rendered_check,
    strip_optional,
)
from fusebook.recipe.yamlfile import NodePath, SourceMap
from fusebook.secret import SecretValue
from fusebook.steps.base import StepBase

if TYPE_CHECKING:  # the sandbox (jinja2) is imported when a recipe has a template or expression
    from fusebook.recipe.sandbox import CompiledString


# -- what the caller provides --------------------------------------------------------------
class EfuseValues(Protocol):
    """The chip's eFuse values as templates see them (implemented over an eFuse image)."""

    def value(self, name: str) -> int | bool | str | SecretValue: ...
    def readable(self, name: str) -> bool: ...
    def writeable(self, name: str) -> bool: ...
    def meaning(self, name: str) -> str: ...
    def names(self) -> Iterable[str]: ...


@dataclass(frozen=True, slots=True)
class ChipInfo:
    """`chip` in templates: espefuse's chip name and the revision as major*100+minor."""

    name: str
    revision: int | None = None

    @property
    def major(self) -> int | None:
        return None if self.revision is None else self.revision // 100

    @property
    def minor(self) -> int | None:
        return None if self.revision is None else self.revision % 100


@dataclass(frozen=True, slots=True)
class RenderContext:
    """Everything one unit's rendering depends on."""

    index: int | None
    chip: ChipInfo
    efuses: EfuseValues
    inputs: Mapping[str, Any]
    vars: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RenderedStep:
    """One step for one unit, with plain values where templates were."""

    kind: str
    args: Any
    name: str | None
    origin: SourceLocation
    when: str | None = None


@dataclass(frozen=True, slots=True)
class AssertionFailure:
    origin: SourceLocation
    that: str
    message: str | None


# -- compiled nodes --------------------------------------------------------------------------
class _Node:
    __slots__ = ()

    def __call__(self, run: _Run, scope: _Scope) -> Any:
        raise NotImplementedError

    @property
    def templated(self) -> bool:
        return True


class _Const(_Node):
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self, run: _Run, scope: _Scope) -> Any:
        return self.value

    @property
    def templated(self) -> bool:
        return False


class _Template(_Node):
    __slots__ = ("check", "compiled")

    def __init__(self, compiled: CompiledString, check: Callable[[Any], Any] | None) -> None:
        self.compiled = compiled
        self.check = check

    def __call__(self, run: _Run, scope: _Scope) -> Any:
        names = run.names(scope)
        value = self.compiled.evaluate(names)
        if self.check is None:
            return value
        try:
            return self.check(value)
        except ValueKindError as e:
            # `{{ index }}` with no --index renders as none: say what is missing, not only its type
            hint = ("this template uses `index`: give the unit's --index N"
                    if value is None and self.compiled.needs_index(names) else None)
            raise InputError(f"`{self.compiled.source.strip()}`: {e}", location=self.compiled.origin,
                             hint=hint) from None


class _List(_Node):
    __slots__ = ("items",)

    def __init__(self, items: list[_Node]) -> None:
        self.items = items

    def __call__(self, run: _Run, scope: _Scope) -> Any:
        return [item(run, scope) for item in self.items]


class RenderedMapping(dict[Any, Any]):
    """A step's mapping as rendered, with where each key is written (`key_locations`).

    Templated keys can render to one name; the planner uses the locations to name both
    places when two keys turn out to mean one field.
    """

    key_locations: dict[Any, SourceLocation]


class _Dict(_Node):
    __slots__ = ("keys_at", "pairs")

    def __init__(self, pairs: list[tuple[_Node, _Node]], keys_at: list[SourceLocation] | None = None) -> None:
        self.pairs = pairs
        self.keys_at = keys_at

    def __call__(self, run: _Run, scope: _Scope) -> Any:
        if self.keys_at is None:
            return {k(run, scope): v(run, scope) for k, v in self.pairs}
        out = RenderedMapping()
        out.key_locations = {}
        for (k, v), at in zip(self.pairs, self.keys_at, strict=True):
            key, value = k(run, scope), v(run, scope)
            if key in out and out[key] != value:
                raise PlanError(
                    f"two keys of one mapping render to {key!r}, with different values",
                    location=out.key_locations[key],
                    related=(at,),
                    hint="keep one of them, or make the templates render to different names",
                )
            out[key] = value
            out.key_locations.setdefault(key, at)
        return out


@dataclass(eq=False)
class _Scope:
    """A `Scope` compiled: var nodes, and for the top scope the values as written."""

    parent: _Scope | None
    defaults: dict[str, _Node]
    overrides: dict[str, _Node]
    written: dict[str, Any]
    top: bool


@dataclass(frozen=True, eq=False)
class _Condition:
    test: CompiledString | bool
    text: str
    scope: _Scope


@dataclass(frozen=True, eq=False)
class CompiledStep:
    kind: str
    args: _Node
    name: _Node | None
    conditions: tuple[_Condition, ...]
    when: str | None
    origin: SourceLocation
    scope: _Scope


@dataclass(frozen=True, eq=False)
class CompiledAssertion:
    that: CompiledString | bool
    text: str
    message: _Node | None
    origin: SourceLocation
    scope: _Scope


@dataclass(frozen=True, eq=False)
class CompiledRecipe:
    """A recipe with every template compiled: render it for as many units as needed."""

    recipe: Recipe
    steps: tuple[CompiledStep, ...]
    require: tuple[CompiledAssertion, ...]
    ensure: tuple[CompiledAssertion, ...]
    #: the top recipe's vars scope (what `trace_recipe` shows as the resolved vars)
    scope: _Scope | None = None

    def uses_index(self) -> bool:
        """Whether any template, condition, var or assertion reads `index`: a recipe that
        does not is the same for every unit, so a batch check plans it once."""
        return any(s.needs_index({}) for s in self.strings())

    def strings(self) -> Iterator[CompiledString]:
        """Every compiled template and expression (for static checks)."""
        seen: set[int] = set()

        def walk(node: Any) -> Iterator[CompiledString]:
            if isinstance(node, _Template):
                yield node.compiled
            elif isinstance(node, _List):
                for n in node.items:
                    yield from walk(n)
            elif isinstance(node, _Dict):
                for k, v in node.pairs:
                    yield from walk(k)
                    yield from walk(v)

        def scope_strings(scope: _Scope | None) -> Iterator[CompiledString]:
            while scope is not None and id(scope) not in seen:
                seen.add(id(scope))
                for n in (*scope.defaults.values(), *scope.overrides.values()):
                    yield from walk(n)
                scope = scope.parent

        for step in self.steps:
            yield from walk(step.args)
            if step.name is not None:
                yield from walk(step.name)
            for c in step.conditions:
                if not isinstance(c.test, bool):
                    yield c.test
            yield from scope_strings(step.scope)
        for a in (*self.require, *self.ensure):
            if not isinstance(a.that, bool):
                yield a.that
            if a.message is not None:
                yield from walk(a.message)
            yield from scope_strings(a.scope)


# -- compiling --------------------------------------------------------------------------------
class _TemplateCompiler:
    """Builds nodes from validated models, collecting every template error."""

    def __init__(self) -> None:
        self.errors: list[InputError] = []
        self.scopes: dict[int, _Scope] = {}

    def template(self, text: str, loc: SourceLocation, check: Callable[[Any], Any] | None) -> _Node:
        from fusebook.recipe.sandbox import compile_template

        try:
            return _Template(compile_template(text, loc), check)
        except InputError as e:
            self.errors.append(e)
            return _Const(None)

    def expression(self, test: str | bool, loc: SourceLocation) -> CompiledString | bool:
        if isinstance(test, bool):
            return test
        from fusebook.recipe.sandbox import compile_expression

        try:
            return compile_expression(test, loc)
        except InputError as e:
            self.errors.append(e)
            return True

    def any_value(self, value: Any, smap: SourceMap, path: NodePath) -> _Node:
        """Vars: templates anywhere inside, rendered without a kind check."""
        if is_template(value):
            return self.template(value, smap.location(path), None)
        if isinstance(value, list):
            items = [self.any_value(v, smap, (*path, i)) for i, v in enumerate(value)]
            return _List(items) if any(n.templated for n in items) else _Const(value)
        if isinstance(value, dict):
            pairs: list[tuple[_Node, _Node]] = [
                (_Const(k), self.any_value(v, smap, (*path, k))) for k, v in value.items()]
            return _Dict(pairs) if any(v.templated for _, v in pairs) else _Const(value)
        return _Const(value)

    def typed(self, value: Any, annotation: Any, metadata: list[Any], smap: SourceMap, path: NodePath,
              key: bool = False) -> _Node:
        """A step value at a position of type `annotation`: templates get that position's check."""
        annotation = strip_optional(annotation)
        base, extra = annotation, list(metadata)
        if getattr(annotation, "__metadata__", None) is not None:
            base, extra = annotation.__origin__, [*extra, *annotation.__metadata__]
        leaf, wrap = markers(extra)
        if is_template(value) and (wrap is not None or (leaf is not None and leaf.templates)):
            loc = smap.key_location(path) if key else smap.location(path)
            return self.template(value, loc, rendered_check(annotation, metadata))
        if wrap is not None:
            return self.typed(value, wrap.inner, [], smap, path)
        if leaf is not None:
            return _Const(value)
        if isinstance(value, BaseModel):
            fields = type(value).model_fields
            fields_pairs: list[tuple[_Node, _Node]] = [
                (_Const(name), self.typed(getattr(value, name), fields[name].annotation,
                                          list(fields[name].metadata), smap, (*path, name)))
                for name in fields
                if name in value.model_fields_set and getattr(value, name) is not None
            ]
            return _Dict(fields_pairs)
        if isinstance(value, list) and get_origin(base) is list:
            (item,) = get_args(base)
            return _List([self.typed(v, item, [], smap, (*path, i)) for i, v in enumerate(value)])
        if isinstance(value, dict) and get_origin(base) is dict:
            kann, vann = get_args(base)
            return _Dict([
                (self.typed(k, kann, [], smap, (*path, k), key=True),
                 self.typed(v, vann, [], smap, (*path, k)))
                for k, v in value.items()
            ], [smap.key_location((*path, k)) for k in value])
        return self.any_value(value, smap, path)

    def scope(self, scope: Scope) -> _Scope:
        done = self.scopes.get(id(scope))
        if done is not None:
            return done
        parent = self.scope(scope.parent) if scope.parent is not None else None

        def nodes(values: dict[str, Any], at: tuple[SourceMap, NodePath] | None) -> dict[str, _Node]:
            if at is None:
                return {k: _Const(v) for k, v in values.items()}
            smap, path = at
            return {k: self.any_value(v, smap, (*path, k)) for k, v in values.items()}

        defaults = nodes(scope.defaults, scope.defaults_at)
        top = scope.parent is None
        if top:  # plain values come from the caller's ctx.vars; keep only templated ones
            defaults = {k: n for k, n in defaults.items() if n.templated}
        compiled = _Scope(parent, defaults, nodes(scope.overrides, scope.overrides_at),
                          dict(scope.defaults) if top else {}, top)
        self.scopes[id(scope)] = compiled
        return compiled

    def condition(self, c: Condition) -> _Condition:
        return _Condition(self.expression(c.expression, c.location), _text(c.expression), self.scope(c.scope))

    def step(self, step: StepBase, src: StepSource) -> CompiledStep:
        kind = step.kind
        field = type(step).model_fields[kind]
        path = src.path
        args = self.typed(step.value, field.annotation, list(field.metadata), src.smap, (*path, kind))
        label = step.name if step.name is not None else src.inherited_name
        name: _Node | None = None
        if label is not None:
            at = src.smap.location((*path, "name")) if step.name is not None else src.origin
            name = self.template(label, at, TEXT.rendered) if is_template(label) else _Const(label)
        conditions = [self.condition(c) for c in src.inherited]
        if step.when is not None:
            conditions.append(self.condition(Condition(step.when, src.smap, (*path, "when"), src.scope)))
        when = " and ".join(f"({c.text})" if len(conditions) > 1 else c.text for c in conditions) or None
        return CompiledStep(kind, args, name, tuple(conditions), when, src.origin, self.scope(src.scope))

    def assertion(self, a: Assertion, src: AssertionSource) -> CompiledAssertion:
        that_loc = src.smap.location((*src.path, "that"))
        message: _Node | None = None
        if a.message is not None:
            message = (self.template(a.message, src.smap.location((*src.path, "message")), None)
                       if is_template(a.message) else _Const(a.message))
        return CompiledAssertion(self.expression(a.that, that_loc), _text(a.that), message,
                                 src.origin, self.scope(src.scope))


def _text(test: str | bool) -> str:
    return ("true" if test else "false") if isinstance(test, bool) else test.strip()


def compile_recipe(recipe: Recipe) -> CompiledRecipe:
    """Compile every template and expression of `recipe` (InputError(s) if any is wrong)."""
    sources = recipe.sources
    c = _TemplateCompiler()
    top = c.scope(sources.scope)
    steps = tuple(c.step(s, src) for s, src in zip(recipe.steps, sources.steps, strict=True))
    require = tuple(c.assertion(a, src) for a, src in zip(recipe.require, sources.require, strict=True))
    ensure = tuple(c.assertion(a, src) for a, src in zip(recipe.ensure, sources.ensure, strict=True))
    raise_all(c.errors)
    return CompiledRecipe(recipe, steps, require, ensure, top)


# -- rendering -----------------------------------------------------------------------------------
_MISSING = object()


class _EfusesView:
    """`efuses` in templates: `efuses.NAME` and `efuses['NAME']` give the field's value."""

    __slots__ = ("_values",)

    def __init__(self, values: EfuseValues) -> None:
        self._values = values

    def __getitem__(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise KeyError(name)
        return _ask(self._values, self._values.value, name)


def _ask(values: EfuseValues, method: Callable[[str], Any], name: Any) -> Any:
    """Call `method(name)`; an unknown name becomes an InputError with the closest name."""
    try:
        return method(name)
    except (FusebookError, LookupError, ValueError) as e:
        known = list(values.names())
        if name in known:
            raise
        hint = did_you_mean(str(name), known) if isinstance(name, str) else None
        raise InputError(f"no eFuse field or block named {name!r} on this chip",
                         hint=hint or "`fusebook fields CHIP` lists them") from e


class _Vars(Mapping[str, Any]):
    """`vars` in one scope: include vars, then the including scope, then the fragment's defaults."""

    __slots__ = ("run", "scope")

    def __init__(self, run: _Run, scope: _Scope) -> None:
        self.run = run
        self.scope = scope

    def __getitem__(self, name: str) -> Any:
        value = self.run.var(self.scope, name)
        if value is _MISSING:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        names: set[str] = set()
        scope: _Scope | None = self.scope
        while scope is not None:
            names |= set(scope.defaults) | set(scope.overrides)
            if scope.top:
                names |= set(self.run.ctx.vars)
            scope = scope.parent
        return iter(sorted(names))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Run:
    """The state of one unit's rendering: the names templates see, and vars evaluated so far."""

    __slots__ = ("base", "ctx", "evaluating", "names_by_scope", "values")

    def __init__(self, ctx: RenderContext) -> None:
        self.ctx = ctx
        self.base: dict[str, Any] | None = None  # built when a template first asks for a name
        self.names_by_scope: dict[int, dict[str, Any]] = {}
        self.values: dict[tuple[int, str], Any] = {}
        self.evaluating: set[tuple[int, str]] = set()

    def _base(self) -> dict[str, Any]:
        """The sandbox's globals and the unit's names: only a recipe with templates needs them."""
        if self.base is not None:
            return self.base
        from fusebook.recipe.sandbox import SANDBOX

        ctx = self.ctx
        efuses = ctx.efuses
        self.base = dict(SANDBOX.globals)
        self.base.update(
            index=ctx.index, chip=ctx.chip, efuses=_EfusesView(efuses), inputs=ctx.inputs,
            readable=lambda name: _ask(efuses, efuses.readable, name),
            writeable=lambda name: _ask(efuses, efuses.writeable, name),
            meaning=lambda name: _ask(efuses, efuses.meaning, name),
        )
        return self.base

    def names(self, scope: _Scope) -> dict[str, Any]:
        names = self.names_by_scope.get(id(scope))
        if names is None:
            names = dict(self._base())
            names["vars"] = _Vars(self, scope)
            self.names_by_scope[id(scope)] = names
        return names

    def var(self, scope: _Scope, name: str) -> Any:
        key = (id(scope), name)
        if key in self.values:
            return self.values[key]
        if key in self.evaluating:
            raise InputError(f"vars.{name} is defined in terms of itself")
        self.evaluating.add(key)
        try:
            value = self._resolve(scope, name)
        finally:
            self.evaluating.discard(key)
        self.values[key] = value
        return value

    def _resolve(self, scope: _Scope, name: str) -> Any:
        if name in scope.overrides:
            assert scope.parent is not None
            return scope.overrides[name](self, scope.parent)
        if scope.top:
            value = self.ctx.vars.get(name, _MISSING)
            node = scope.defaults.get(name)
            if node is not None and (value is _MISSING or value == scope.written.get(name)):
                return node(self, scope)
            return value
        if scope.parent is not None:
            value = self.var(scope.parent, name)
            if value is not _MISSING:
                return value
        node = scope.defaults.get(name)
        return node(self, scope) if node is not None else _MISSING

    def holds(self, condition: _Condition) -> bool:
        test = condition.test
        if isinstance(test, bool):
            return test
        return bool(test.evaluate(self.names(condition.scope)))


def render_steps(compiled: CompiledRecipe, ctx: RenderContext) -> list[RenderedStep]:
    """The steps that apply to this unit, with every template rendered."""
    run = _Run(ctx)
    out = []
    for step in compiled.steps:
        if not all(run.holds(c) for c in step.conditions):
            continue
        name = step.name(run, step.scope) if step.name is not None else None
        out.append(RenderedStep(step.kind, step.args(run, step.scope), name, step.origin, step.when))
    return out


def check_assertions(assertions: Iterable[CompiledAssertion], ctx: RenderContext) -> list[AssertionFailure]:
    """The assertions that do not hold for `ctx` (an expression that fails is an InputError)."""
    run = _Run(ctx)
    failures = []
    for a in assertions:
        test = a.that
        ok = test if isinstance(test, bool) else bool(test.evaluate(run.names(a.scope)))
        if not ok:
            message = a.message(run, a.scope) if a.message is not None else None
            failures.append(AssertionFailure(a.origin, a.text, None if message is None else str(message)))
    return failures


# -- tracing, for `fusebook render` ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Traced:
    """One var, step or assertion as rendered for a unit, or the error rendering it gave.

    For a step, `applies` is its `when` outcome and `value` its rendered arguments (only
    rendered when it applies: a guarded template may need what the guard checks).
    """

    kind: str
    name: str | None
    origin: SourceLocation | None
    when: str | None = None
    applies: bool = True
    value: Any = None
    error: FusebookError | None = None


@dataclass(frozen=True, slots=True)
class RecipeTrace:
    vars: tuple[Traced, ...]
    steps: tuple[Traced, ...]
    require: tuple[Traced, ...]


def trace_recipe(compiled: CompiledRecipe, ctx: RenderContext) -> RecipeTrace:
    """Every top-level var, step and `require` of the recipe for one unit, errors included.

    Unlike `render_steps`, nothing stops at the first error: each item carries its own, so
    a template can be debugged in one look.
    """
    run = _Run(ctx)
    variables = []
    if compiled.scope is not None:
        for var in _Vars(run, compiled.scope):
            try:
                variables.append(Traced("var", var, None, value=run.var(compiled.scope, var)))
            except FusebookError as e:
                variables.append(Traced("var", var, None, error=e))
    steps = []
    for step in compiled.steps:
        name: str | None = None
        try:
            name = step.name(run, step.scope) if step.name is not None else None
            applies = all(run.holds(c) for c in step.conditions)
            args = step.args(run, step.scope) if applies else None
            steps.append(Traced(step.kind, name, step.origin, step.when, applies, args))
        except FusebookError as e:
            steps.append(Traced(step.kind, name, step.origin, step.when, False, error=e))
    require = []
    for a in compiled.require:
        try:
            ok = a.that if isinstance(a.that, bool) else bool(a.that.evaluate(run.names(a.scope)))
            require.append(Traced("require", a.text, a.origin, applies=ok))
        except FusebookError as e:
            require.append(Traced("require", a.text, a.origin, applies=False, error=e))
    return RecipeTrace(tuple(variables), tuple(steps), tuple(require))
