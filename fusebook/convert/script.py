"""Read a burn script with Python's `ast` and say what it burns, as recipe steps.

Two dialects come in: espefuse 4's `execute_scripts` scripts (`espefuse(esp, efuses, args,
"burn_efuse X 1")`, `efuses["X"].get()`, `args.index`, `args.configfiles`) and esptool 5's
Python API (`with init_commands(...) as espefuse: espefuse.burn_efuse({...})`). The script
is never run: each statement is read for what it would queue for burning, under which
condition (`if` -> `when:`), and what it checks (`assert`, `if ...: raise` -> `require`
before the burn, `ensure` after it). A statement with no recipe equivalent is recorded as a
`Note` with its line, so the user sees exactly what is left to do by hand.

Burn timing is followed as espefuse has it: `execute_scripts` queues everything until
`efuses.burn_all()` or the end; the API burns each call at once unless in batch mode, and in
batch mode only at `burn_all()`. fusebook burns a recipe once, so a check of the chip
*between* two burns, or a condition on the chip after a burn, cannot be expressed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from fusebook.convert import steps as S
from fusebook.convert.expressions import (
    COMMANDS,
    EFUSES,
    MAX_UNROLL,
    ExpressionReader,
    Poison,
    negate,
)
from fusebook.convert.model import Converted, Note, Session
from fusebook.convert.values import (
    Known,
    Sym,
    Text,
    Untranslatable,
    Value,
    expr_of,
    paren,
    reads_chip,
    split_words,
    template_of,
)
from fusebook.files import read_text_bounded

#: The largest script convert reads, and how deep `execute_scripts` may nest.
MAX_SCRIPT_BYTES = 1 << 20
MAX_NESTING = 16


def uses_api(tree: ast.AST) -> bool:
    """Whether a script is written against esptool 5's API (it calls `init_commands`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name == "init_commands":
                return True
    return False


def parse_script(path: Path, display: str) -> tuple[str, ast.Module]:
    """The script's text and syntax tree; InputError (exit 2) if it is too large or not Python."""
    from fusebook.convert.values import script_error

    text = read_text_bounded(path, "script", limit=MAX_SCRIPT_BYTES, display=display)
    try:
        tree = ast.parse(text, filename=display)
    except SyntaxError as e:
        raise script_error(f"not a Python script: {e.msg}", display, e.lineno, e.offset,
                           hint="convert reads espefuse execute_scripts scripts and esptool 5 "
                                "API scripts (Python)") from None
    except (ValueError, RecursionError) as e:
        raise script_error(f"not a Python script: {e}", display, 1) from None
    return text, tree


class Translator(ExpressionReader):
    """One script's statements, read in order into a `Converted`."""

    def __init__(self, session: Session, source: Path, display: str, text: str,
                 index: Value, configs: list[Path], top: bool) -> None:
        self.s = session
        self.lines = text.splitlines()
        self.out = Converted(source=source, display=display, lines=self.lines)
        self.display = display
        self.index = index
        self.configs = configs
        self.top = top
        self.env: dict[str, Any] = {}
        self.when: list[str] = []
        self.loaded: dict[int, Any] = {}

    # -- reporting ---------------------------------------------------------------------------
    def note(self, node: ast.AST, reason: str, line: int | None = None) -> None:
        first: int = line or getattr(node, "lineno", 1) or 1
        last: int = getattr(node, "end_lineno", first) or first
        if line is not None:
            last = line
        code = redact("\n".join(self.lines[first - 1:last]) if self.lines else "")
        self.out.notes.append(Note(self.display, first, reason, code))

    # -- statements --------------------------------------------------------------------------
    def run(self, body: list[ast.stmt]) -> None:
        for node in body:
            try:
                self.stmt(node)
            except Untranslatable as e:
                self.note(node, e.reason, e.line)
            except RecursionError:
                self.note(node, "too deeply nested")

    def stmt(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom | ast.Pass):
            return
        if isinstance(node, ast.Expr):
            if isinstance(node.value, ast.Constant):
                return  # a docstring
            if isinstance(node.value, ast.Call):
                self.call_stmt(node.value)
                return
            raise Untranslatable("an expression statement that does nothing fusebook can repeat")
        if isinstance(node, ast.Assign | ast.AnnAssign):
            self.assign(node)
            return
        if isinstance(node, ast.If):
            self.if_stmt(node)
            return
        if isinstance(node, ast.Assert):
            msg = self.message(node.msg)
            self.check(self.ev(node.test), msg, node)
            return
        if isinstance(node, ast.For):
            self.for_stmt(node)
            return
        if isinstance(node, ast.With):
            self.with_stmt(node)
            return
        if isinstance(node, ast.Raise):
            raise Untranslatable("a raise that always happens")
        raise Untranslatable(f"a {type(node).__name__} statement has no recipe equivalent")

    def assign(self, node: ast.Assign | ast.AnnAssign) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if len(targets) != 1 or not isinstance(targets[0], ast.Name) or node.value is None:
            raise Untranslatable("an assignment to something other than one name")
        name = targets[0].id
        if isinstance(node.value, ast.Call) and self._is_init_commands(node.value):
            self.start_api(node.value)
            self.env[name] = COMMANDS
            return
        try:
            self.env[name] = self.ev(node.value)
        except Untranslatable:
            self.env[name] = Poison(node.lineno)
            raise

    def message(self, node: ast.expr | None) -> str | None:
        if node is None:
            return None
        value = self.ev(node)
        if isinstance(value, Known) and isinstance(value.value, str):
            return value.value.replace("{{", "{ {").replace("{%", "{ %")  # literal text, not a template
        if isinstance(value, Sym | Text) and not reads_chip(value):
            return str(template_of(value))
        return None

    def check(self, cond: Value, message: str | None, node: ast.AST) -> None:
        """`assert cond` or `if not cond: raise`: `require` before the burn, `ensure` after."""
        if isinstance(cond, Known):
            if cond.value:
                return
            raise Untranslatable("a check that always fails")
        if self.when:
            raise Untranslatable("a check under a condition")
        entry: dict[str, Any] = {"that": expr_of(cond)}
        if message:
            entry["message"] = message
        if reads_chip(cond) and self.s.burned:
            self.out.ensure.append(entry)
            self.s.late_ensures.append((self.out, entry, self.s.counter, getattr(node, "lineno", 1)))
        else:
            self.out.require.append(entry)

    def if_stmt(self, node: ast.If) -> None:
        # `if os.path.exists(P): ... else: raise`: fusebook refuses a missing file by itself.
        if (self._is_exists(node.test) and node.orelse
                and all(isinstance(s, ast.Raise) for s in node.orelse)):
            self.run(node.body)
            return
        cond = self.ev(node.test)
        raises = bool(node.body) and all(isinstance(s, ast.Raise) for s in node.body)
        if raises and not node.orelse:
            exc = node.body[0]
            msg = None
            if isinstance(exc, ast.Raise) and isinstance(exc.exc, ast.Call) and exc.exc.args:
                msg = self.message(exc.exc.args[0])
            self.check(negate(cond), msg, node)
            return
        if reads_chip(cond) and self.s.burned:
            raise Untranslatable("a condition on the chip after a burn: fusebook decides "
                                 "`when:` on the chip before it burns anything")
        if isinstance(cond, Known):
            self.run(node.body if cond.value else node.orelse)
            return
        expr = expr_of(cond)
        self.when.append(expr)
        try:
            self.run(node.body)
        finally:
            self.when.pop()
        if node.orelse:
            self.when.append(f"not {paren(expr)}")
            try:
                self.run(node.orelse)
            finally:
                self.when.pop()

    def _is_exists(self, node: ast.expr) -> bool:
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("exists", "isfile") and ast.unparse(node.func.value) == "os.path")

    def for_stmt(self, node: ast.For) -> None:
        if node.orelse or not isinstance(node.target, ast.Name):
            raise Untranslatable("a loop other than `for NAME in ...:`")
        items = self.ev(node.iter)
        if not isinstance(items, Known) or not isinstance(items.value, list | tuple | dict | str):
            raise Untranslatable("a loop over values known only at run time")
        values = list(items.value)
        if len(values) > MAX_UNROLL:
            raise Untranslatable(f"a loop of more than {MAX_UNROLL} rounds")
        for v in values:
            self.env[node.target.id] = Known(v)
            for inner in node.body:
                if isinstance(inner, ast.Break | ast.Continue):
                    raise Untranslatable("break/continue in a loop")
            self.run(node.body)

    def with_stmt(self, node: ast.With) -> None:
        for item in node.items:
            ctx = item.context_expr
            name = item.optional_vars.id if isinstance(item.optional_vars, ast.Name) else None
            if item.optional_vars is not None and name is None:
                raise Untranslatable("`with ... as` something other than a name")
            if isinstance(ctx, ast.Call) and self._is_init_commands(ctx):
                self.start_api(ctx)
                value: Any = COMMANDS
            else:
                value = self.ev(ctx)
            if name:
                self.env[name] = value
        self.run(node.body)

    # -- calls as statements -------------------------------------------------------------------
    def _is_init_commands(self, call: ast.Call) -> bool:
        f = call.func
        return (isinstance(f, ast.Name) and f.id == "init_commands") or (
            isinstance(f, ast.Attribute) and f.attr == "init_commands")

    def start_api(self, call: ast.Call) -> None:
        self.s.api = True
        for kw in call.keywords:
            if kw.arg == "batch_mode":
                v = self.ev(kw.value)
                if isinstance(v, Known) and v.value:
                    self.s.batch += 1
            elif kw.arg == "chip":
                v = self.ev(kw.value)
                if isinstance(v, Known) and isinstance(v.value, str) and v.value != "auto":
                    self.s.chip_from_script = v.value

    def call_stmt(self, call: ast.Call) -> None:
        f = call.func
        if isinstance(f, ast.Name) and f.id == "print":
            return
        if isinstance(f, ast.Name) and f.id == "espefuse":
            if len(call.args) != 4:
                raise Untranslatable("espefuse(...) without (esp, efuses, args, command)")
            self.cli(self.ev(call.args[3]), call)
            return
        if isinstance(f, ast.Attribute):
            owner = self.ev_owner(f.value)
            if owner is EFUSES and f.attr == "burn_all":
                self.burn_all(call, api=False)
                return
            if owner is COMMANDS:
                self.api_call(f.attr, call)
                return
        raise Untranslatable(f"a call of {ast.unparse(f)}() has no recipe equivalent")

    def ev_owner(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            if node.id == "efuses" and node.id not in self.env:
                return EFUSES
            return self.env.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr == "efuses" and self.ev_owner(node.value) is COMMANDS:
            return EFUSES
        return None

    def burn_all(self, call: ast.Call, api: bool) -> None:
        check = False
        for kw in call.keywords:
            if kw.arg == "check_batch_mode":
                v = self.ev(kw.value)
                check = bool(v.value) if isinstance(v, Known) else True
        if call.args:
            v = self.ev(call.args[0])
            check = bool(v.value) if isinstance(v, Known) else True
        if api:
            self.s.batch = max(0, self.s.batch - 1)
        if check and self.s.batch > 0:
            return
        self.commit()

    def commit(self) -> None:
        if self.s.pending:
            self.s.burned = True
        self.s.pending.clear()

    def add(self, step: dict[str, Any], node: ast.AST) -> None:
        if self.when:
            cond = " and ".join(paren(w) if len(self.when) > 1 else w for w in self.when)
            step = {**step, "when": cond}
        self.out.steps.append(step)
        self.out.step_lines.append(getattr(node, "lineno", 1))
        self.s.counter += 1
        self.s.pending.append((self.out.steps, step, self.out, getattr(node, "lineno", 1)))
        if self.s.api and self.s.batch == 0:
            self.commit()

    def cli(self, command: Value, node: ast.AST) -> None:
        words = split_words(command)
        if words and isinstance(words[0], Known) and S.command_name(str(words[0].value)) == "execute_scripts":
            self.nested(words[1:], node)
            return
        out = S.cli_command(self.s.chip, words, self.s.path_for)
        for step in out or []:
            self.add(step, node)

    def nested(self, words: list[Value], node: ast.AST) -> None:
        pos, opts = S.split_options(words)
        for opt in opts:
            if opt not in ("--index", "--configfiles"):
                raise Untranslatable(f"execute_scripts option {opt}")
        index: Value = Known(None)
        if opts.get("--index"):
            v = opts["--index"][0]
            if not isinstance(v, Known):
                raise Untranslatable("a nested --index computed per unit")
            try:
                index = Known(int(str(v.value)))
            except ValueError:
                raise Untranslatable(f"--index {v.value!r} is not a number") from None
        configs = []
        for v in opts.get("--configfiles", []):
            if not isinstance(v, Known):
                raise Untranslatable("a config file named per unit")
            configs.append(self.s.base / str(v.value))
        if not pos:
            raise Untranslatable("execute_scripts without a script")
        for v in pos:
            if not isinstance(v, Known):
                raise Untranslatable("a script named per unit")
            path = self.s.base / str(v.value)
            frag = translate_file(self.s, path, str(v.value), index, configs, top=False)
            self.add({"include": frag.file_name}, node)

    # -- esptool 5 API --------------------------------------------------------------------------
    def api_call(self, method: str, call: ast.Call) -> None:
        if method in S.READ_ONLY:
            return
        if method == "use_batch_mode":
            self.s.batch += 1
            return
        if method == "burn_all":
            self.burn_all(call, api=True)
            return
        names = {
            "burn_efuse": ["name_value_pairs", "force"],
            "read_protect_efuse": ["efuse_names"],
            "write_protect_efuse": ["efuse_names"],
            "burn_block_data": ["block_names", "datafiles", "offset"],
            "burn_bit": ["block", "bit_number"],
            "burn_custom_mac": ["mac"],
            "set_flash_voltage": ["voltage"],
            "burn_key": (["block", "keyfile", "no_protect_key", "show_sensitive_info"]
                         if self.s.chip == "esp32" else
                         ["blocks", "keyfiles", "keypurposes", "no_write_protect", "no_read_protect",
                          "show_sensitive_info", "digest"]),
            "burn_key_digest": (["keyfile", "no_protect_key", "show_sensitive_info"]
                                if self.s.chip == "esp32" else
                                ["blocks", "keyfiles", "keypurposes", "no_write_protect",
                                 "no_read_protect", "show_sensitive_info"]),
        }
        if method not in names:
            raise Untranslatable(f"espefuse API {method}() has no recipe equivalent")
        params = names[method]
        if len(call.args) > len(params):
            raise Untranslatable(f"{method}() with too many arguments")
        args: dict[str, ast.expr] = dict(zip(params, call.args, strict=False))
        for kw in call.keywords:
            if kw.arg is None or kw.arg not in params:
                raise Untranslatable(f"{method}() argument {kw.arg or '**'}")
            args[kw.arg] = kw.value
        for step in self.api_steps(method, args):
            self.add(step, call)

    def _flag(self, args: dict[str, ast.expr], name: str) -> bool:
        if name not in args:
            return False
        v = self.ev(args[name])
        if not isinstance(v, Known):
            raise Untranslatable(f"{name} decided at run time")
        return bool(v.value)

    def _list(self, node: ast.expr | None) -> list[Value]:
        if node is None:
            return []
        if isinstance(node, ast.List | ast.Tuple):
            return [self.ev(e) for e in node.elts]
        v = self.ev(node)
        if isinstance(v, Known) and isinstance(v.value, list | tuple):
            return [Known(x) for x in v.value]
        raise Untranslatable("a list built at run time")

    def api_steps(self, method: str, a: dict[str, ast.expr]) -> list[dict[str, Any]]:
        chip, path_for = self.s.chip, self.s.path_for
        if method == "burn_efuse":
            if self._flag(a, "force"):
                raise Untranslatable("burn_efuse(force=True): fusebook never skips its checks")
            node = a.get("name_value_pairs")
            if not isinstance(node, ast.Dict) or any(k is None for k in node.keys):
                raise Untranslatable("burn_efuse() with something other than a literal {NAME: VALUE}")
            pairs = [(self.ev(k), self.ev(v)) for k, v in zip(node.keys, node.values, strict=True)
                     if k is not None]
            return [S.burn_efuse(pairs)]
        if method in ("read_protect_efuse", "write_protect_efuse"):
            names = self._list(a.get("efuse_names"))
            if not names:
                raise Untranslatable("no eFuse named")
            return [S.protect(method, names)]
        if method == "burn_block_data":
            blocks, files = self._list(a.get("block_names")), self._list(a.get("datafiles"))
            offset = self.ev(a["offset"]) if "offset" in a else None
            if len(blocks) != len(files) or not blocks:
                raise Untranslatable("blocks and data files that do not pair up")
            return [S.burn_block_data(b, f, offset, path_for) for b, f in zip(blocks, files, strict=True)]
        if method == "burn_bit":
            if "block" not in a:
                raise Untranslatable("burn_bit() without a block")
            return [S.burn_bit(self.ev(a["block"]), self._list(a.get("bit_number")))]
        if method == "burn_custom_mac":
            return [{"burn_custom_mac": S.mac_of(self.ev(a["mac"]))}]
        if method == "set_flash_voltage":
            return [{"set_flash_voltage": S.voltage_of(self.ev(a["voltage"]))}]
        if method == "burn_key":
            if chip == "esp32":
                off = False if self._flag(a, "no_protect_key") else None
                blocks, files = self._list(a.get("block")), self._list(a.get("keyfile"))
                if len(blocks) < len(files) or not files:
                    raise Untranslatable("blocks and key files that do not pair up")
                return [S.burn_key(chip, b, f, None, read_protect=off, write_protect=off, path_for=path_for)
                        for b, f in zip(blocks, files, strict=False)]
            if "digest" in a:
                raise Untranslatable("burn_key(digest=...): use burn_key_digest with the PEM file")
            blocks, files = self._list(a.get("blocks")), self._list(a.get("keyfiles"))
            purposes = self._list(a.get("keypurposes"))
            if not files or len(blocks) < len(files) or len(purposes) < len(files):
                raise Untranslatable("blocks, key files and purposes that do not line up")
            rd = False if self._flag(a, "no_read_protect") else None
            wr = False if self._flag(a, "no_write_protect") else None
            return [S.burn_key(chip, b, f, p, read_protect=rd, write_protect=wr, path_for=path_for)
                    for b, f, p in zip(blocks, files, purposes, strict=False)]
        # burn_key_digest
        if chip == "esp32":
            if self._flag(a, "no_protect_key"):
                raise Untranslatable("burn_key_digest(no_protect_key=True): fusebook always "
                                     "write-protects a digest")
            if "keyfile" not in a:
                raise Untranslatable("burn_key_digest() without a key file")
            return [S.burn_key_digest(chip, None, self.ev(a["keyfile"]), None, path_for)]
        if self._flag(a, "no_write_protect"):
            raise Untranslatable("burn_key_digest(no_write_protect=True): fusebook always "
                                 "write-protects a digest")
        blocks, files = self._list(a.get("blocks")), self._list(a.get("keyfiles"))
        purposes = self._list(a.get("keypurposes"))
        if not files or len(blocks) < len(files) or len(purposes) < len(files):
            raise Untranslatable("blocks, key files and purposes that do not line up")
        return [S.burn_key_digest(chip, b, f, p, path_for) for b, f, p in zip(blocks, files, purposes,
                                                                                strict=False)]

def translate_file(session: Session, path: Path, display: str, index: Value, configs: list[Path],
                   top: bool) -> Converted:
    """One script (and, through `execute_scripts` in it, the scripts it runs)."""
    resolved = path.resolve()
    if resolved in session.stack:
        chain = " -> ".join(p.name for p in [*session.stack, resolved])
        raise Untranslatable(f"execute_scripts cycle: {chain}")
    if len(session.stack) >= MAX_NESTING:
        raise Untranslatable(f"execute_scripts nested more than {MAX_NESTING} deep")
    if top:
        text, tree = parse_script(path, display)
    else:
        try:
            text, tree = parse_script(path, display)
        except Exception as e:  # the nested script is missing or not Python: report, don't stop
            raise Untranslatable(getattr(e, "message", str(e))) from None
    if top:
        session.api = uses_api(tree)
        session.batch = 0 if session.api else 1
    t = Translator(session, path, display, text, index, configs, top)
    session.stack.append(resolved)
    try:
        t.run(tree.body)
    finally:
        session.stack.pop()
    if not top:
        used = {f.file_name for f in session.fragments}
        stem = re.sub(r"[^A-Za-z0-9_-]", "-", path.stem) or "fragment"
        name, n = f"{stem}.yaml", 2
        while name in used:
            name, n = f"{stem}-{n}.yaml", n + 1
        t.out.file_name = name
        session.fragments.append(t.out)
    return t.out


def finish(session: Session, top: Converted) -> None:
    """What only the end of the script decides: unburned queues, checks between two burns."""
    if session.api and session.pending:
        for steps_list, step, owner, line in session.pending:
            at = next((i for i, s in enumerate(steps_list) if s is step), None)
            if at is not None:
                del steps_list[at]
                del owner.step_lines[at]
            owner.notes.append(Note(
                owner.display, line,
                "queued in batch mode but never burned (no burn_all() follows)", _line(owner, line)))
    session.pending.clear()
    for owner, entry, at, line in session.late_ensures:
        if session.counter > at:
            owner.ensure.remove(entry)
            owner.notes.append(Note(owner.display, line,
                                    "checks the chip between two burns; fusebook burns once and "
                                    "checks `ensure` after it", _line(owner, line)))


def _line(owner: Converted, line: int) -> str:
    return redact(owner.lines[line - 1] if 0 < line <= len(owner.lines) else "")


#: Bytes literals and long runs of hex digits: what key material written into a script looks like.
_KEYISH = re.compile(r"""\b[bB][rR]?(?:'[^'\n]*'|"[^"\n]*")|[0-9a-fA-F]{16,}""")


def redact(code: str) -> str:
    """Script code quoted in notes, with anything that may be key material left out."""
    return _KEYISH.sub("<redacted>", code)
