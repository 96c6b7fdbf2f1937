"""A script's expressions, read statically into `Value`s (see `values`).

`ExpressionReader` turns a Python expression into what it stands for: a value known now, a
per-unit Jinja expression, or one of the objects a burn script talks to (espefuse's `args`,
`efuses`, the API's commands object). Calls are understood only where their meaning is known
(`str`, `int`, `len`, `range`, `.format`, `json.load` of a config file, an eFuse's `.get()`);
anything else is `Untranslatable`. Nothing is evaluated but literals.
"""

from __future__ import annotations

import ast
import json
import operator
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusebook.chips.loader import load_chip
from fusebook.convert.model import Session
from fusebook.convert.values import (
    FileRef,
    InputRef,
    Known,
    Sym,
    Text,
    Untranslatable,
    Value,
    concat,
    expr_of,
    literal,
    paren,
    reads_chip,
)
from fusebook.files import read_text_bounded

#: The largest config file read, and the most values a `range` or loop may give.
MAX_CONFIG_BYTES = 1 << 20
MAX_UNROLL = 1024
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# Markers for the objects a script talks to.
class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name


ARGS, CONFIGS, EFUSES, COMMANDS, MODULE = (_Marker(n) for n in ("args", "configfiles", "efuses",
                                                                "commands", "module"))


@dataclass(frozen=True)
class FieldRef:
    name: str


@dataclass(frozen=True)
class Poison:
    """A name bound by a statement that was not converted: using it is not converted either."""

    line: int



def negate(cond: Value) -> Value:
    """`not cond`, written as the opposite comparison where that reads better."""
    if isinstance(cond, Known):
        return Known(not cond.value)
    expr = expr_of(cond)
    simple = re.fullmatch(r"(\S+) (==|!=|<|<=|>|>=) (\S+)", expr)
    if simple:  # `not (a != 1)` reads better as `a == 1`
        opposite = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
        return Sym(f"{simple[1]} {opposite[simple[2]]} {simple[3]}", reads_chip(cond))
    if expr.startswith("not ") and paren(expr[4:]) == expr[4:]:
        return Sym(expr[4:], reads_chip(cond))
    return Sym(f"not {paren(expr)}", reads_chip(cond))


def _identifier(stem: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", stem) or "config"
    if not base[0].isalpha():
        base = "config_" + base
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


class ExpressionReader:
    """Reads expressions against the names a script has bound so far."""

    s: Session
    env: dict[str, Any]
    index: Value
    configs: list[Path]
    top: bool

    def ev(self, node: ast.expr) -> Any:
        """What an expression stands for (`Value`, or one of the script's objects)."""
        return self._ev(node)

    def _ev(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return Known(node.value)
        if isinstance(node, ast.Name):
            if node.id in self.env:
                v = self.env[node.id]
                if isinstance(v, Poison):
                    raise Untranslatable(f"uses {node.id}, which line {v.line} sets in a way "
                                         "convert cannot follow")
                return v
            if node.id == "args":
                return ARGS
            if node.id == "efuses":
                return EFUSES
            if node.id in ("json", "os", "esptool", "espefuse", "sys"):
                return MODULE
            raise Untranslatable(f"{node.id} is not known here")
        if isinstance(node, ast.Attribute):
            owner = self._ev(node.value)
            if owner is ARGS:
                if node.attr == "index":
                    return self.index
                if node.attr == "configfiles":
                    return CONFIGS
                raise Untranslatable(f"args.{node.attr}")
            if owner is COMMANDS and node.attr == "efuses":
                return EFUSES
            raise Untranslatable(f"attribute {ast.unparse(node)}")
        if isinstance(node, ast.Subscript):
            return self.subscript(self._ev(node.value), self._ev(node.slice))
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.JoinedStr):
            parts: list[Value] = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    parts.append(Known(v.value))
                elif isinstance(v, ast.FormattedValue):
                    parts.append(self.formatted(self._ev(v.value), v.conversion,
                                                ast.unparse(v.format_spec)[2:-1] if v.format_spec else ""))
            return concat(parts)
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.BoolOp):
            vals = [self._ev(v) for v in node.values]
            op = " and " if isinstance(node.op, ast.And) else " or "
            if all(isinstance(v, Known) for v in vals):
                result = vals[0].value
                for v in vals[1:]:
                    result = (result and v.value) if op == " and " else (result or v.value)
                return Known(result)
            return Sym(op.join(paren(expr_of(v)) for v in vals), any(reads_chip(v) for v in vals))
        if isinstance(node, ast.UnaryOp):
            v = self._ev(node.operand)
            if isinstance(node.op, ast.Not):
                return negate(v)
            if isinstance(node.op, ast.USub):
                return Known(-v.value) if isinstance(v, Known) else Sym(f"-({expr_of(v)})", reads_chip(v))
            raise Untranslatable("a unary operator")
        if isinstance(node, ast.List | ast.Tuple):
            vals = [self._ev(e) for e in node.elts]
            if all(isinstance(v, Known) for v in vals):
                return Known([v.value for v in vals])
            return Sym("[" + ", ".join(expr_of(v) for v in vals) + "]", any(reads_chip(v) for v in vals))
        if isinstance(node, ast.IfExp):
            c, a, b = self._ev(node.test), self._ev(node.body), self._ev(node.orelse)
            if isinstance(c, Known):
                return a if c.value else b
            return Sym(f"(({expr_of(a)}) if ({expr_of(c)}) else ({expr_of(b)}))",
                       reads_chip(c) or reads_chip(a) or reads_chip(b))
        raise Untranslatable(f"a {type(node).__name__} expression")

    def subscript(self, base: Any, key: Any) -> Any:
        if base is CONFIGS:
            if not isinstance(key, Known) or not isinstance(key.value, int):
                raise Untranslatable("args.configfiles indexed at run time")
            return self.config(key.value)
        if base is EFUSES:
            if not isinstance(key, Known) or not isinstance(key.value, str):
                raise Untranslatable("an eFuse named at run time")
            return FieldRef(key.value)
        if isinstance(base, InputRef):
            if base.loaded and isinstance(key, Known):
                return self.subscript(Known(base.data), key)
            name = self.input_name(base)
            return Sym(f"inputs.{name}[{expr_of(key)}]")
        if isinstance(base, Known) and isinstance(key, Known):
            try:
                return Known(base.value[key.value])
            except (KeyError, IndexError, TypeError):
                raise Untranslatable(f"[{key.value!r}] is not in the value it indexes") from None
        if isinstance(base, Known | Sym | Text) and isinstance(key, Known | Sym | Text):
            if isinstance(base, Known) and isinstance(base.value, dict | list) and not self.top:
                raise Untranslatable("a per-unit look-up in data inside a nested script")
            return Sym(f"({expr_of(base)})[{expr_of(key)}]", reads_chip(base) or reads_chip(key))
        raise Untranslatable("a look-up convert cannot follow")

    def config(self, number: int) -> InputRef:
        if number < 0 or number >= len(self.configs):
            raise Untranslatable(f"args.configfiles[{number}]: pass the config files to convert "
                                 "with --configfiles, as to execute_scripts")
        return InputRef(number, None, False)

    def load_config(self, ref: InputRef) -> InputRef:
        path = self.configs[ref.number]
        try:
            data = json.loads(read_text_bounded(path, "config file", limit=MAX_CONFIG_BYTES))
        except ValueError as e:
            raise Untranslatable(f"config file {path} is not JSON: {e}") from None
        except Exception as e:  # InputError: missing, not a regular file, too large
            raise Untranslatable(getattr(e, "message", str(e))) from None
        return InputRef(ref.number, data, True)

    def input_name(self, ref: InputRef) -> str:
        if not self.top:
            raise Untranslatable("a per-unit look-up in a config file of a nested script "
                                 "(a fragment has no inputs of its own)")
        path = self.configs[ref.number]
        rel = self.s.path_for(str(path))
        for name, known in self.s.inputs.items():
            if known["file"] == rel:
                return name
        name = _identifier(path.stem, set(self.s.inputs))
        spec: dict[str, Any] = {"file": rel}
        if path.suffix.lower() != ".json":
            spec["format"] = "json"
        self.s.inputs[name] = spec
        return name

    def formatted(self, value: Any, conversion: int, spec: str) -> Value:
        if isinstance(value, Known):
            v = value.value
            if conversion == ord("r"):
                v = repr(v)
            elif conversion == ord("s"):
                v = str(v)
            try:
                return Known(format(v, spec))
            except (ValueError, TypeError):
                raise Untranslatable(f"format {spec!r}") from None
        if spec or conversion not in (-1, ord("s")):
            raise Untranslatable("a format specification applied to a per-unit value")
        if isinstance(value, Sym | Text):
            return value
        raise Untranslatable("a file or config object formatted as text")

    def call(self, node: ast.Call) -> Any:
        f = node.func
        args = [self._ev(a) for a in node.args] if not (
            isinstance(f, ast.Attribute) and f.attr in ("get", "get_meaning", "is_readable", "is_writeable")
        ) else []
        if isinstance(f, ast.Name):
            if f.id == "open" and args and isinstance(args[0], Known) and isinstance(args[0].value, str):
                return FileRef(args[0].value)
            if f.id in ("str", "int") and args:
                v = args[0]
                if isinstance(v, Known):
                    try:
                        if f.id == "str":
                            return Known(str(v.value))
                        if len(args) > 1 and isinstance(args[1], Known):
                            return Known(int(v.value, args[1].value))
                        return Known(int(v.value))
                    except (ValueError, TypeError):
                        raise Untranslatable(f"{f.id}({v.value!r}) fails") from None
                if f.id == "str":
                    return Sym(f"{paren(expr_of(v))}|string", reads_chip(v))
                base = f"(base={expr_of(args[1])})" if len(args) > 1 else ""
                return Sym(f"{paren(expr_of(v))}|int{base}", reads_chip(v))
            if f.id == "range" and all(isinstance(a, Known) for a in args):
                try:
                    r = range(*[a.value for a in args])
                except TypeError:
                    raise Untranslatable("range() of non-numbers") from None
                if len(r) > MAX_UNROLL:
                    raise Untranslatable(f"a range of more than {MAX_UNROLL} values")
                return Known(list(r))
            if f.id == "range":
                raise Untranslatable("range() over per-unit values: a loop whose length is known "
                                     "only per unit")
            if f.id == "len" and len(args) == 1:
                v = args[0]
                return Known(len(v.value)) if isinstance(v, Known) else Sym(f"({expr_of(v)})|length",
                                                                           reads_chip(v))
            raise Untranslatable(f"a call of {f.id}()")
        if isinstance(f, ast.Attribute):
            owner = self._ev(f.value)
            if isinstance(owner, FieldRef):
                return self.field_call(owner, f.attr)
            if owner is MODULE:
                mod = ast.unparse(f.value)
                if mod == "json" and f.attr == "load" and len(args) == 1 and isinstance(args[0], InputRef):
                    return self.load_config(args[0])
                raise Untranslatable(f"a call of {ast.unparse(f)}()")
            if isinstance(owner, Known) and isinstance(owner.value, str):
                return self.str_method(owner.value, f.attr, node, args)
            raise Untranslatable(f"a call of {ast.unparse(f)}()")
        raise Untranslatable("a call convert cannot follow")

    def str_method(self, text: str, method: str, node: ast.Call, args: list[Any]) -> Value:
        if method == "format":
            kwargs = {kw.arg: self._ev(kw.value) for kw in node.keywords if kw.arg}
            return self.format(text, args, kwargs)
        if method in ("upper", "lower", "strip") and not args:
            return Known(getattr(text, method)())
        if method == "join" and len(args) == 1 and isinstance(args[0], Known):
            return Known(text.join(str(x) for x in args[0].value))
        raise Untranslatable(f"str.{method}()")

    def format(self, text: str, args: list[Any], kwargs: dict[str, Any]) -> Value:
        parts: list[Value] = []
        auto = 0
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as e:
            raise Untranslatable(f"a format string: {e}") from None
        for lit, name, spec, conv in parsed:
            if lit:
                parts.append(Known(lit))
            if name is None:
                continue
            if name == "":
                key: int | str = auto
                auto += 1
            elif name.isdigit():
                key = int(name)
            else:
                key = name
            if isinstance(key, int):
                if key >= len(args):
                    raise Untranslatable("a format string with more fields than values")
                value = args[key]
            elif key in kwargs:
                value = kwargs[key]
            else:
                raise Untranslatable(f"format field {{{key}}} has no value")
            parts.append(self.formatted(value, ord(conv) if conv else -1, spec or ""))
        return concat(parts)

    def field_call(self, ref: FieldRef, method: str) -> Sym:
        name = ref.name
        quoted = literal(name)
        if method == "get":
            return Sym(f"efuses.{name}" if _IDENT.match(name) else f"efuses[{quoted}]", True)
        if method == "get_meaning":
            if load_chip(self.s.chip).has_block(name):
                raise Untranslatable(f"{name}.get_meaning(): espefuse shows a block's bytes as spaced "
                                     "hex (for a key, the key itself); check its purpose and "
                                     "protection in `ensure` instead")
            return Sym(f"meaning({quoted})", True)
        if method == "is_readable":
            return Sym(f"readable({quoted})", True)
        if method == "is_writeable":
            return Sym(f"writeable({quoted})", True)
        raise Untranslatable(f"efuses[...].{method}()")

    def binop(self, node: ast.BinOp) -> Value:
        left, right = self._ev(node.left), self._ev(node.right)
        ops = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Mod: "%"}
        op = ops.get(type(node.op))
        if op is None:
            raise Untranslatable("an arithmetic operator convert does not translate")
        if isinstance(left, Known) and isinstance(left.value, str) and op == "%":
            items = [self._ev(e) for e in node.right.elts] if isinstance(node.right, ast.Tuple) else [right]
            return self.percent(left.value, items)
        if isinstance(left, Known) and isinstance(right, Known):
            a: Any = left.value
            b: Any = right.value
            if isinstance(a, int | str) and isinstance(b, int | str) and not (
                    op == "*" and (isinstance(a, str) or isinstance(b, str))):
                try:
                    fn = {"+": operator.add, "-": operator.sub, "*": operator.mul,
                          "//": operator.floordiv, "%": operator.mod}[op]
                    result = fn(a, b)
                except (TypeError, ZeroDivisionError):
                    raise Untranslatable("arithmetic that fails") from None
                if isinstance(result, int) and abs(result) > 1 << 4096:
                    raise Untranslatable("a number too large")
                return Known(result)
            raise Untranslatable("arithmetic on values other than numbers and text")
        if op == "+" and any(isinstance(v, Text) or (isinstance(v, Known) and isinstance(v.value, str))
                             for v in (left, right)):
            return concat([left, right])
        return Sym(f"{paren(expr_of(left))} {op} {paren(expr_of(right))}", reads_chip(left) or reads_chip(right))

    def percent(self, text: str, items: list[Value]) -> Value:
        pieces = re.split(r"(%[sdi%])", text)
        parts: list[Value] = []
        i = 0
        for p in pieces:
            if p == "%%":
                parts.append(Known("%"))
            elif p in ("%s", "%d", "%i"):
                if i >= len(items):
                    raise Untranslatable("% formatting with too few values")
                parts.append(self.formatted(items[i], -1, ""))
                i += 1
            elif "%" in p:
                raise Untranslatable("a % format other than %s and %d")
            elif p:
                parts.append(Known(p))
        return concat(parts)

    def compare(self, node: ast.Compare) -> Value:
        ops = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
               ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}
        values = [self._ev(node.left)] + [self._ev(c) for c in node.comparators]
        values = [_mac_literal(v) for v in values]
        if all(isinstance(v, Known) for v in values):
            src = ast.Expression(body=ast.Compare(
                left=ast.Constant(values[0].value), ops=node.ops,
                comparators=[ast.Constant(v.value) for v in values[1:]]))
            try:
                return Known(eval(compile(ast.fix_missing_locations(src), "<compare>", "eval"),
                                  {"__builtins__": {}}))  # literals only: no names, no calls
            except TypeError:
                raise Untranslatable("a comparison that fails") from None
        parts = []
        for i, op in enumerate(node.ops):
            sym = ops.get(type(op))
            if sym is None:
                raise Untranslatable("a comparison operator")
            a, b = values[i], values[i + 1]
            if sym in ("is", "is not"):
                if not (isinstance(b, Known) and b.value is None):
                    raise Untranslatable("`is` other than `is None`")
                sym = "is none" if sym == "is" else "is not none"
                parts.append(f"{paren(expr_of(a))} {sym}")
                continue
            parts.append(f"{paren(expr_of(a))} {sym} {paren(expr_of(b))}")
        return Sym(" and ".join(parts), any(reads_chip(v) for v in values))


#: espefuse's text for a MAC field: the MAC, then `(OK)` or, on the ESP32, `(CRC 0x.. OK)`.
_ESPEFUSE_MAC = re.compile(r"^((?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}) \((?:CRC 0x[0-9a-fA-F]{2} )?OK\)$")


def _mac_literal(value: Any) -> Any:
    """A MAC as espefuse's `.get()` prints it, as fusebook's `efuses.NAME` gives it (the MAC alone)."""
    if isinstance(value, Known) and isinstance(value.value, str):
        m = _ESPEFUSE_MAC.match(value.value)
        if m:
            return Known(m[1].lower())
    return value
