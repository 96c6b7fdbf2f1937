"""The Jinja sandbox recipes' templates and expressions run in.

A recipe is data: its templates may compute values but never reach Python internals,
files or the network, and never run away with time or memory. On top of Jinja's
immutable sandbox this means:

- only expressions, `{% if %}` and `{% filter %}` are allowed (no loops, macros,
  `{% set %}`, imports or includes); names such as `self` and attributes starting with
  `_` are refused when the template is compiled, so `validate` reports them;
- a short list of filters, the size-sensitive ones checked before they run; `range`
  is capped, and `*`, `**` and `%` refuse results that would be huge;
- methods of built-in types only from a short list, nothing at all on secrets;
- every rendered string at most 64 KiB, and a work budget per evaluation.

A string that is exactly one `{{ expression }}` evaluates to the expression's own value
(a number, bytes, a `Secret`, a list...); any other template renders to text, in which a
secret shows only as its redacted form.
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.parser import Parser
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from fusebook.errors import FusebookError, InputError, SourceLocation, did_you_mean
from fusebook.recipe import filters as recipe_filters
from fusebook.recipe.secret_value import SecretValue
from fusebook.secret import Secret

#: Longest string (and bytes) a template may produce.
OUTPUT_LIMIT = 64 * 1024
#: Most items a range, list or mapping may have.
ITEMS_LIMIT = 65536
#: Characters and items all filters and operators of one evaluation may produce together.
WORK_LIMIT = 1 << 20
#: Widest integer `**` may produce, in bits.
INT_BITS_LIMIT = 65536

#: The names every template sees (documented in docs/recipes.md).
CONTEXT_NAMES = ("index", "chip", "efuses", "inputs", "vars", "readable", "writeable", "meaning",
                 "mac_add", "range", "dict")

_JINJA_FILTERS = (
    "abs", "capitalize", "count", "d", "default", "dictsort", "first", "float", "format", "int",
    "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
    "rejectattr", "replace", "reverse", "round", "select", "selectattr", "sort", "string", "sum",
    "title", "trim", "unique", "upper",
)
_SAFE_METHODS: tuple[tuple[type, frozenset[str]], ...] = (
    (str, frozenset({
        "lower", "upper", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines",
        "startswith", "endswith", "title", "capitalize", "casefold", "find", "rfind", "count",
        "isdigit", "isalnum", "isalpha", "isdecimal", "isspace", "islower", "isupper",
        "removeprefix", "removesuffix", "partition", "rpartition",
    })),
    (bytes, frozenset({"hex", "startswith", "endswith", "count", "find"})),
    (dict, frozenset({"keys", "values", "items", "get"})),
    (list, frozenset({"index", "count"})),
    (tuple, frozenset({"index", "count"})),
)
_STATEMENTS_ALLOWED = (nodes.Output, nodes.If, nodes.FilterBlock)
_FORBIDDEN_NAMES = frozenset({"self", "loop", "super", "caller", "varargs", "kwargs",
                              "namespace", "cycler", "joiner", "lipsum"})
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")

_budget: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("fusebook_budget", default=None)


def _charge(amount: int) -> None:
    budget = _budget.get()
    if budget is not None:
        budget[0] -= amount
        if budget[0] < 0:
            raise InputError(f"the template does too much work (more than {WORK_LIMIT} characters or items)")


def _weight(value: Any, cap: int = WORK_LIMIT) -> int:
    """Roughly how many characters/items `value` holds, shared parts counted each time they
    appear (stops counting past `cap`, so weighing a huge or self-similar value is cheap)."""
    total = 0
    stack = [value]
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item)
        elif isinstance(item, (list, tuple)):
            total += len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            total += 1
    return total


def _fits(value: Any, what: str) -> None:
    """Refuse to turn `value` into text (or sum it) if the result would pass the output limit.

    Lists may share items (`[l, l]`), so a value small in memory can print as text many
    times larger; its weight counts what the text would hold.
    """
    if isinstance(value, str):
        if len(value) > OUTPUT_LIMIT:
            raise InputError(f"{what}: the text is longer than {OUTPUT_LIMIT} characters")
    elif _weight(value, OUTPUT_LIMIT) > OUTPUT_LIMIT:
        raise InputError(f"{what}: the value would be longer than {OUTPUT_LIMIT} characters or items",
                         hint="templates compute small values (keys, MACs, numbers); see docs/recipes.md")


def _bounded_result(result: Any, what: str) -> Any:
    """A value an operator or filter produced, refused if it passes the limits, else charged."""
    if isinstance(result, (str, bytes, bytearray, Secret)) and len(result) > OUTPUT_LIMIT:
        raise InputError(f"{what} would make a value longer than {OUTPUT_LIMIT} characters or bytes",
                         hint="templates compute small values (keys, MACs, numbers); see docs/recipes.md")
    if isinstance(result, (list, tuple, dict)):
        if len(result) > ITEMS_LIMIT:
            raise InputError(f"{what} would make more than {ITEMS_LIMIT} items")
        _charge(_weight(result))
    elif isinstance(result, (str, bytes, bytearray)):
        _charge(len(result))
    elif isinstance(result, int) and not isinstance(result, bool) and result.bit_length() > INT_BITS_LIMIT:
        raise InputError(f"{what}: numbers are limited to {INT_BITS_LIMIT} bits")
    return result


def _check_printf(fmt: str) -> None:
    for width, precision in _PRINTF_SPEC.findall(fmt):
        for n in (width, precision):
            if n == "*" or (n and int(n) > 4096):
                raise InputError("format widths above 4096 (or *) are not allowed in recipes")


def _bounded_range(*args: Any) -> range:
    r = range(*args)
    if len(r) > ITEMS_LIMIT:
        raise InputError(f"range() is limited to {ITEMS_LIMIT} items")
    _charge(len(r))
    return r


#: Filters that turn their arguments into text (or add them up): each argument must fit the
#: output limit before they run, since the text of a value that shares parts can be huge.
_STRINGIFYING = frozenset({"string", "format", "replace", "upper", "lower", "title", "capitalize",
                           "trim", "sum", "hex", "unhex", "mac", "mac_add", "to_bytes", "int", "float"})
#: Most digits `round` may keep or drop (10**precision is computed).
ROUND_DIGITS_LIMIT = 64


def _guarded(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    """The filter `f`, refusing arguments that would make it produce something huge.

    Every filter (Jinja's and fusebook's) goes through here, so no filter is left
    unbounded: arguments of text-making filters are weighed before, every result after.
    """
    passes_context = getattr(f, "jinja_pass_arg", None) is not None

    @functools.wraps(f)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        value = args[1] if passes_context else args[0]
        rest = args[2:] if passes_context else args[1:]
        if name in _STRINGIFYING:
            for arg in (value, *rest, *kwargs.values()):
                _fits(arg, name)
        if name == "format" and isinstance(value, str):
            _check_printf(value)
        if name in ("int", "float") and isinstance(value, str) and not value.isascii():
            raise InputError(f"{name}: {value[:40]!r} is not written in ASCII digits",
                             hint="numbers are written with the digits 0-9")
        if name == "replace" and isinstance(value, str) and len(rest) >= 2:
            old, new = str(rest[0]), str(rest[1])
            hits = value.count(old) if old else len(value) + 1
            if len(value) + hits * (len(new) - len(old)) > OUTPUT_LIMIT:
                raise InputError(f"replace would make text longer than {OUTPUT_LIMIT} characters")
        if name == "round":
            precision = rest[0] if rest else kwargs.get("precision", 0)
            if isinstance(precision, int) and abs(precision) > ROUND_DIGITS_LIMIT:
                raise InputError(f"round: the precision is limited to {ROUND_DIGITS_LIMIT} digits")
        return _bounded_result(f(*args, **kwargs), name)

    return guarded


def _join(value: Any, d: str = "", attribute: Any = None) -> str:
    """`join`, built piecewise so a join of many long strings stops at the output limit."""
    if attribute is not None:
        raise InputError("join(attribute=...) is not available; use map(attribute=...) first")
    parts: list[str] = []
    total = 0
    _fits(d, "join")
    for item in value:
        _fits(item, "join")
        text = str(item)
        total += len(text) + len(d)
        if total > OUTPUT_LIMIT:
            raise InputError(f"join would make text longer than {OUTPUT_LIMIT} characters")
        parts.append(text)
    _charge(total)
    return str(d).join(parts)


class _RecipeUndefined(StrictUndefined):
    """Fails on any use, naming what is missing and the closest name that exists."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        name = self._undefined_name
        obj = self._undefined_obj
        if obj is missing:
            hint = did_you_mean(str(name), list(CONTEXT_NAMES))
            return f"{name!r} is not defined" + (f" ({hint})" if hint else "")
        if isinstance(obj, Mapping) and isinstance(name, str):
            text = f"no key {name!r}"
            if not name.lstrip("-").isdigit() and len(obj) <= 5000:
                hint = did_you_mean(name, [str(k) for k in obj])
                if hint:
                    text += f" ({hint})"
            return text
        if isinstance(obj, (list, tuple)) and isinstance(name, int):
            return f"no item {name} in a list of {len(obj)}"
        what = "a secret" if isinstance(obj, (Secret, SecretValue)) else type(obj).__name__
        return f"{what} has no attribute or key {name!r}"


def _finalize(value: Any) -> Any:
    """How values print inside text: bytes as hex; secrets as their redacted form."""
    if isinstance(value, (bytes, bytearray)):
        if 2 * len(value) > OUTPUT_LIMIT:
            raise InputError(f"the value is longer than {OUTPUT_LIMIT} characters as hex text")
        return bytes(value).hex()
    if not isinstance(value, (str, int, float, bool)) and value is not None:
        _fits(value, "printing a value")
    return value


class _RecipeCodeGenerator(CodeGenerator):
    """Jinja's code generator with `~` sent through `RecipeSandbox.concat_values`."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat_values((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class RecipeSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, narrowed further for recipes (see the module doc)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _RecipeCodeGenerator

    def __init__(self) -> None:
        super().__init__(undefined=_RecipeUndefined, autoescape=False, optimized=False,
                         finalize=_finalize, keep_trailing_newline=False)
        jinja_filters = {n: _guarded(n, self.filters[n]) for n in _JINJA_FILTERS}
        jinja_filters["join"] = _join
        ours = {n: _guarded(n, f) for n, f in recipe_filters.FILTERS.items()}
        self.filters = {**jinja_filters, **ours}
        self.globals = {"range": _bounded_range, "dict": _guarded("dict", dict),
                        "mac_add": ours["mac_add"]}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, (Secret, SecretValue, type)):  # no secrets, no class attributes (dict.mro)
            return False
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if callable(value):
            for kind, names in _SAFE_METHODS:
                if isinstance(obj, kind):
                    return attr in names
            if isinstance(obj, (int, float, complex, bytearray, set, frozenset)):
                return False
        return True

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`inputs.keys` is the input named `keys`: in a mapping, keys win over its methods."""
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def wrap_str_format(self, value: Any) -> None:
        """`str.format` is not offered at all (its widths are unbounded); use `format`."""
        return None

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int):
                    if _weight(seq) * max(n, 0) > OUTPUT_LIMIT:
                        raise InputError(f"repeating that would exceed {OUTPUT_LIMIT} characters or items")
                    _charge(_weight(seq) * max(n, 0))
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0:
                if abs(left) > 1 and right * left.bit_length() > INT_BITS_LIMIT:
                    raise InputError(f"numbers are limited to {INT_BITS_LIMIT} bits")
            if isinstance(left, int) and isinstance(right, int) \
                    and left.bit_length() + right.bit_length() > INT_BITS_LIMIT:
                raise InputError(f"numbers are limited to {INT_BITS_LIMIT} bits")
        elif operator == "+":
            if isinstance(left, (str, bytes, list, tuple)) and isinstance(right, (str, bytes, list, tuple)):
                limit = ITEMS_LIMIT if isinstance(left, (list, tuple)) else OUTPUT_LIMIT
                if len(left) + len(right) > limit:
                    raise InputError(f"`+` would make a value longer than {limit} characters or items")
        elif operator == "%" and isinstance(left, str):
            _check_printf(left)
            _fits(right, "%")
        return _bounded_result(super().call_binop(context, operator, left, right), f"`{operator}`")

    def concat_values(self, values: tuple[Any, ...]) -> str:
        """`a ~ b ~ ...`: each operand as text, the whole at most the output limit.

        Jinja joins the operands unchecked; the code generator below routes every `~` here,
        so repeated concatenation cannot double a string past the limit.
        """
        parts: list[str] = []
        total = 0
        for value in values:
            _fits(value, "`~`")
            text = str(value)
            total += len(text)
            if total > OUTPUT_LIMIT:
                raise InputError(f"`~` would make text longer than {OUTPUT_LIMIT} characters",
                                 hint="templates compute small values (keys, MACs, numbers); see docs/recipes.md")
            parts.append(text)
        _charge(total)
        return "".join(parts)


SANDBOX = RecipeSandbox()


def _tag_name(node: nodes.Node) -> str:
    return {"For": "for", "Macro": "macro", "CallBlock": "call", "Include": "include",
            "Import": "import", "FromImport": "from ... import", "Extends": "extends",
            "Block": "block", "Assign": "set", "AssignBlock": "set", "With": "with",
            "ExprStmt": "do", "Continue": "continue", "Break": "break",
            "ScopedEvalContextModifier": "autoescape"}.get(type(node).__name__, type(node).__name__)


def check_tree(tree: nodes.Node, env: RecipeSandbox = SANDBOX) -> None:
    """Refuse what recipes may not use, before anything runs (InputError without location)."""
    for node in (tree, *tree.find_all(nodes.Node)):
        if isinstance(node, nodes.Stmt) and not isinstance(node, _STATEMENTS_ALLOWED):
            raise InputError(f"{{% {_tag_name(node)} %}} is not available in recipe templates",
                             hint="templates compute values; only {% if %} is available")
        if isinstance(node, nodes.Name) and node.name in _FORBIDDEN_NAMES:
            raise InputError(f"{node.name!r} is not available in recipe templates",
                             hint="names: " + ", ".join(CONTEXT_NAMES))
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            raise InputError(f"attribute {node.attr!r} is not available in recipe templates")
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str) and node.arg.value.startswith("_"):
            raise InputError(f"key {node.arg.value!r} is not available in recipe templates")
        if isinstance(node, nodes.Filter) and node.name not in env.filters:
            raise InputError(f"no filter named {node.name!r}",
                             hint=did_you_mean(node.name, sorted(env.filters))
                             or "filters: " + ", ".join(sorted(env.filters)))
        if isinstance(node, nodes.Test) and node.name not in env.tests:
            raise InputError(f"no test named {node.name!r}",
                             hint=did_you_mean(node.name, sorted(env.tests)))


@dataclass(frozen=True, eq=False)
class CompiledString:
    """One template or expression, compiled once, evaluated for many units.

    `native` is True for expressions and for strings that are exactly one
    `{{ expression }}`: evaluating gives the expression's value. Otherwise the result is
    the rendered text. `tree` is the parsed form, kept for static checks.
    """

    source: str
    origin: SourceLocation
    native: bool
    template: Template
    tree: nodes.Node

    def evaluate(self, names: dict[str, Any]) -> Any:
        """The value for one unit; InputError located at the string if anything fails."""
        token = _budget.set([WORK_LIMIT])
        try:
            context = self.template.new_context(names, shared=True)
            if self.native:
                for _ in self.template.root_render_func(context):
                    pass
                value = context.vars["result"]
                if isinstance(value, Undefined):
                    value._fail_with_undefined_error()
                _check_size(value)
                return value
            return _joined(self.template.root_render_func(context))
        except FusebookError as e:
            raise self._located(e) from None
        except UndefinedError as e:
            error = self._error(str(e))
            if self.needs_index(names):
                error.hint = "this template uses `index`: give the unit's --index N"
            raise error from None
        except SecurityError as e:
            raise self._error(f"not allowed in recipes: {e}") from None
        except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError,
                AttributeError) as e:
            if self.needs_index(names):
                raise InputError(f"this recipe uses `index` in `{self._short()}`, and no index was given",
                                 location=self.origin, hint="pass the unit's --index N") from None
            raise self._error(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__) from None
        except RecursionError:
            raise self._error("the template recurses too deeply") from None
        finally:
            _budget.reset(token)

    def needs_index(self, names: dict[str, Any]) -> bool:
        """Whether a failure may come from `index` being none: it is used and was not given."""
        return names.get("index") is None and any(
            isinstance(n, nodes.Name) and n.name == "index"
            for n in (self.tree, *self.tree.find_all(nodes.Name)))

    def _short(self) -> str:
        text = " ".join(self.source.split())
        return text if len(text) <= 60 else text[:57] + "..."

    def _error(self, message: str) -> InputError:
        return InputError(f"in `{self._short()}`: {message}", location=self.origin)

    def _located(self, e: FusebookError) -> FusebookError:
        if e.location is None:
            e.location = self.origin
            e.message = f"in `{self._short()}`: {e.message}"
            e.args = (e.message,)
        return e


def _joined(parts: Any) -> str:
    out: list[str] = []
    total = 0
    for part in parts:
        total += len(part)
        if total > OUTPUT_LIMIT:
            raise InputError(f"the rendered text is longer than {OUTPUT_LIMIT} characters")
        out.append(part)
    return "".join(out)


def _check_size(value: Any) -> None:
    if isinstance(value, (str, bytes, Secret)) and len(value) > OUTPUT_LIMIT:
        raise InputError(f"the value is longer than {OUTPUT_LIMIT} characters or bytes")
    if isinstance(value, (list, tuple, dict)) and len(value) > ITEMS_LIMIT:
        raise InputError(f"the value has more than {ITEMS_LIMIT} items")
    if isinstance(value, (list, tuple, dict)) and _weight(value, OUTPUT_LIMIT) > OUTPUT_LIMIT:
        raise InputError(f"the value holds more than {OUTPUT_LIMIT} characters and items in all",
                         hint="templates compute small values (keys, MACs, numbers); see docs/recipes.md")


def _syntax_error(e: TemplateSyntaxError, source: str, origin: SourceLocation) -> InputError:
    where = f" (line {e.lineno} of the template)" if e.lineno and e.lineno > 1 else ""
    return InputError(f"template syntax error{where}: {e.message}", location=origin,
                      hint="templates are Jinja: {{ expression }}, {% if %}...{% endif %}")


def _located_check(tree: nodes.Node, origin: SourceLocation, env: RecipeSandbox) -> None:
    try:
        check_tree(tree, env)
    except InputError as e:
        e.location = origin
        raise


def compile_node(expr: nodes.Expr, source: str, origin: SourceLocation,
                 env: RecipeSandbox = SANDBOX) -> CompiledString:
    """An already parsed (and checked) expression, compiled to give its value."""
    body = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)], lineno=1)
    body.set_environment(env)
    return CompiledString(source, origin, True, env.from_string(body), expr)


def _single_expression(tree: nodes.Template) -> nodes.Expr | None:
    if len(tree.body) == 1 and isinstance(tree.body[0], nodes.Output):
        parts = tree.body[0].nodes
        if len(parts) == 1 and not isinstance(parts[0], nodes.TemplateData):
            return parts[0]
    return None


def compile_template(source: str, origin: SourceLocation, env: RecipeSandbox = SANDBOX) -> CompiledString:
    """A string of the recipe as a template (native if it is exactly one `{{ ... }}`)."""
    try:
        stripped = source.strip()
        if stripped.startswith("{{") and stripped.endswith("}}"):
            tree = env.parse(stripped)
            expr = _single_expression(tree)
            if expr is not None:
                _located_check(tree, origin, env)
                return compile_node(expr, source, origin, env)
        tree = env.parse(source)
        _located_check(tree, origin, env)
        return CompiledString(source, origin, False, env.from_string(tree), tree)
    except TemplateSyntaxError as e:
        raise _syntax_error(e, source, origin) from None
    except RecursionError:
        raise InputError("the template is nested too deeply", location=origin) from None


def compile_expression(source: str, origin: SourceLocation, env: RecipeSandbox = SANDBOX) -> CompiledString:
    """A bare expression (`when:`, `that:`); one wrapped in `{{ }}` is accepted too."""
    stripped = source.strip()
    if stripped.startswith("{{") and stripped.endswith("}}"):
        compiled = compile_template(stripped, origin, env)
        if compiled.native:
            return compiled
    try:
        parser = Parser(env, source, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError(f"unexpected {parser.stream.current.value!r} after the expression",
                                      parser.stream.current.lineno)
        _located_check(expr, origin, env)
        return compile_node(expr, source, origin, env)
    except TemplateSyntaxError as e:
        raise _syntax_error(e, source, origin) from None
    except RecursionError:
        raise InputError("the expression is nested too deeply", location=origin) from None
