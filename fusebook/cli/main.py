"""The `fusebook` command line: argument parsing and output only; the work is in api.

Every command takes `--format text|json`. Errors print as `file:line:col: error: ...`
with a hint and exit with the contract's code; no traceback reaches a user.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from fusebook import api
from fusebook.api import Aborted, FusebookError, InputError, Stopped, integer
from fusebook.cli import habits, render, style

EXIT_OK = 0


class UsageError(InputError):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse exits 2 by itself; keep our format
        raise UsageError(message, hint=habits.suggestion(self, message) or f"`{self.prog} --help` lists the options")


def _connection_options(p: argparse.ArgumentParser, snapshot: bool = False, table: bool = True) -> None:
    g = p.add_argument_group("chip connection")
    g.add_argument("--port", "-p", help="any pyserial URL or device: /dev/ttyUSB0, socket://host:port, rfc2217://...")
    g.add_argument("--virt", action="store_true", help="use fusebook's virtual chip (needs --chip)")
    g.add_argument("--chip", "-c", default="auto", help="chip name (default: auto-detect)")
    g.add_argument("--efuse-file", "--path-efuse-file", type=Path,
                   help="virtual chip state, in the layout of espefuse's --path-efuse-file (its name works too)")
    g.add_argument("--factory-mac", help="a new virtual chip's factory MAC (default: derived from --efuse-file)")
    g.add_argument("--baud", "-b", type=integer, default=115200, help="serial baud rate (default 115200)")
    g.add_argument("--before", default="default-reset", choices=["default-reset", "usb-reset", "no-reset"],
                   help="how to reset the chip into its ROM bootloader before connecting (default default-reset)")
    g.add_argument("--after", "-a", default="hard-reset", choices=["hard-reset", "no-reset"],
                   help="reset the chip when done (hard-reset, default) or leave it in the bootloader (no-reset)")
    if snapshot:
        g.add_argument("--snapshot", "-s", help="fusebook snapshot, espefuse efuse file (with --chip), EFSR token, or 'blank'")
        _token_option(g)
    if table and not any(a.dest == "extend_efuse_table" for a in p._actions):
        g.add_argument("--extend-efuse-table", type=Path, help="ESP-IDF custom eFuse table CSV")


def _efs_token(text: str) -> str:
    if not text.startswith(("EFSR:", "EFSW:", "EFSRW:")):
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not an eFuse token (EFSR:chip:...)")
    return text


def _token_option(g: Any) -> None:
    """espefuse's `--token EFSR:...`: the chip's state from a token, here a `--snapshot`."""
    g.add_argument("--token", dest="snapshot", type=_efs_token, default=argparse.SUPPRESS,
                   help="an espefuse eFuse token (EFSR:chip:...) as the chip's state, as espefuse's --token")


def _index_or_auto(text: str) -> int | str:
    """`--index N`, or `--index auto` (the ledger allocates it, see docs/ledger.md)."""
    return api.AUTO_INDEX if text.strip().lower() == api.AUTO_INDEX else integer(text)


def _index_number(text: str) -> int:
    """`--index N` where the ledger allocates nothing (plan, render): `auto` is refused with why."""
    if text.strip().lower() == api.AUTO_INDEX:
        raise argparse.ArgumentTypeError(
            "'auto' is allocated by the ledger when a unit is burned (apply); "
            "here give the unit's number, e.g. --index 7")
    try:
        return integer(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer value: {text!r}") from None


def _recipe_options(p: argparse.ArgumentParser, auto: bool = False) -> None:
    if auto:
        p.add_argument("--index", "-i", type=_index_or_auto,
                       help="the unit's index into per-unit inputs, or 'auto': the ledger allocates it")
        p.add_argument("--indices", help="with --index auto: the range to allocate from (default: the "
                       "recipe's `indices:`), e.g. 1-5000")
    else:
        p.add_argument("--index", "-i", type=_index_number, help="the unit's index into per-unit inputs")
    p.add_argument("--input", action="append", default=[], metavar="NAME=PATH", help="override an input file")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a var")


def _pairs(items: list[str], what: str) -> dict[str, str]:
    """`--set NAME=VALUE` / `--input NAME=PATH` options as a mapping (UsageError, exit 2, if malformed)."""
    out = {}
    for item in items:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise UsageError(f"{what} {item!r} is not NAME=VALUE",
                             hint=f"write {what} NAME=VALUE, e.g. {what} serial=7")
        k, v = item.split("=", 1)
        out[k.strip()] = v
    return out


def _write_output(path: Path, text: str) -> None:
    """Write an `-o FILE` output; a path that cannot be written is invalid input (exit 2)."""
    try:
        path.write_text(text)
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot write {path}: {getattr(e, 'strerror', None) or e}",
                         hint="give -o a path in a folder that exists and is writable") from None


def _format_option(*extra: str, help: str = "") -> _Parser:
    """The `--format` every command takes, with a command's own extra formats."""
    p = _Parser(add_help=False)
    p.add_argument("--format", "-f", choices=["text", "json", *extra], default="text",
                   help=help or "text for people, json for scripts (default: text)")
    return p


def _validate_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("validate", parents=[common],
                       help="check recipes without a chip (or against one, or a snapshot: what fits its coding)")
    s.add_argument("recipes", nargs="+", type=Path, help="recipe files to check")
    _connection_options(s, snapshot=True, table=False)


def _plan_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("plan", help="dry-run a recipe against a chip or snapshot", parents=[_format_option(
        "efsw", help="text, json, or efsw: espefuse's staged-write token of the plan (EFSW:...), "
        "for esp_efuse_token_burn() in firmware")])
    s.add_argument("recipe", type=Path, help="the recipe file")
    _connection_options(s, snapshot=True)
    _recipe_options(s)
    s.add_argument("-o", "--output", type=Path, help="save the plan as JSON")
    s.add_argument("--allow-secrets", action="store_true",
                   help="with --format efsw: print the token even though it holds key material in clear")


def _render_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("render", parents=[common],
                       help="what a recipe's templates give for one unit: vars, inputs, steps and their `when`")
    s.add_argument("recipe", type=Path, help="the recipe file")
    _connection_options(s, snapshot=True)
    _recipe_options(s)


def _apply_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("apply", parents=[common], help="burn a recipe (or a saved plan)")
    s.add_argument("recipe", type=Path, help="the recipe file, or a plan saved with `plan -o PLAN.json`")
    _connection_options(s)
    _recipe_options(s, auto=True)
    s.add_argument("--yes", "-y", "--do-not-confirm", action="store_true",
                   help="do not ask for BURN (espefuse's --do-not-confirm works too)")
    s.add_argument("--ledger", default=None, metavar="PATH|URL",
                   help="ledger: an SQLite file (default fusebook-ledger.sqlite) or postgresql://USER@HOST:PORT/DB")
    s.add_argument("--no-ledger", action="store_true", help="do not record this apply")


def _check_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("check", parents=[common], help="CI batch dry-run over many indices")
    s.add_argument("recipe", type=Path, help="the recipe file")
    s.add_argument("--indices", help="e.g. 1-10000 or 1-10,20 (default: the recipe's `indices:`; needed when the recipe uses `index`)")
    s.add_argument("--snapshot", "-s", default="blank",
                   help="the chip state to plan against (default: a blank chip of each chip the recipe lists)")
    _token_option(s)
    s.add_argument("--chip", "-c", default=None, help="check for this chip only")
    s.add_argument("--input", action="append", default=[], metavar="NAME=PATH", help="override an input file")
    s.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a var")
    s.add_argument("--extend-efuse-table", type=Path, help="ESP-IDF custom eFuse table CSV")
    s.add_argument("--junit", type=Path, help="write a JUnit XML report")


def _snapshot_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("snapshot", help="read a chip into a snapshot file", parents=[_format_option(
        "efsr", help="text, json, or efsr: the chip as espefuse's read token (EFSR:..., "
        "as `espefuse dump --format token`)")])
    _connection_options(s)
    s.add_argument("-o", "--output", type=Path, help="write the snapshot to this file")
    s.add_argument("--as", dest="as_", choices=["fusebook", "token", "efuse-file"], default="fusebook",
                   help="fusebook JSON (default), an EFSR token, or an espefuse efuse file (needs -o)")


def _summary_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("summary", help="the chip's fields, like espefuse summary", parents=[_format_option(
        "espefuse-json", help="text, json, or espefuse-json: the shape of `espefuse summary --format json`")])
    s.add_argument("names", nargs="*", help="only these fields (default: all)")
    _connection_options(s, snapshot=True)


def _check_error_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("check-error", parents=[common],
                       help="the chip's block error flags, like espefuse check-error (exit 5 if any)")
    _connection_options(s, snapshot=True)


def _dump_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("dump", parents=[common], help="every block's words, like espefuse dump")
    _connection_options(s, snapshot=True)


def _get_custom_mac_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("get-custom-mac", parents=[common], help="the custom MAC, like espefuse get-custom-mac")
    _connection_options(s, snapshot=True)


def _fields_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("fields", parents=[common], help="a chip's fields, blocks and key purposes")
    s.add_argument("chip_name", nargs="?", metavar="chip",
                   help="chip name; or read a chip (--port, --virt) or --snapshot to see what fits its coding")
    _connection_options(s, snapshot=True)
    s.add_argument("--revision", type=integer, help="chip revision (major*100+minor) for revision-specific tables")


def _schema_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("schema", parents=[common], help="print the recipe JSON Schema")
    s.add_argument("--test", action="store_true", help="print the recipe test file JSON Schema instead")


def _test_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("test", parents=[common], help="run recipe test cases against virtual chips")
    s.add_argument("paths", nargs="*", type=Path, help="test files, recipes or folders (default: .)")
    s.add_argument("--junit", type=Path, help="write a JUnit XML report")


def _new_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("new", parents=[common], help="write a commented starter recipe for a chip")
    s.add_argument("--template", "-t", choices=api.starter_kinds(), help="the kind of burn")
    s.add_argument("--chip", "-c", help="the chip the recipe is for")
    s.add_argument("-o", "--output", type=Path, help="write the recipe here (default: standard output)")
    s.add_argument("--force", action="store_true", help="overwrite an existing -o file")
    s.add_argument("--list", action="store_true", help="list the templates and the chips each fits")


def _serve_virtual_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("serve-virtual", parents=[common], help="a virtual chip on TCP speaking the ROM protocol")
    s.add_argument("--chip", "-c", required=True, help="the chip to emulate, e.g. esp32c3")
    s.add_argument("--listen", default=None, help="HOST:PORT (default 127.0.0.1:5555; a fleet: 127.0.0.1:0)")
    s.add_argument("--efuse-file", "--path-efuse-file", type=Path,
                   help="the chip's state file, in espefuse's --path-efuse-file layout (default: in memory)")
    s.add_argument("--factory-mac", help="the new virtual chip's factory MAC (default: see docs/link.md)")
    s.add_argument("--fault", help="inject faults: drop=N,..; corrupt=N,..; late=N; stall=N; "
                   "disconnect=N; fail-programs=N (request numbers)")
    s.add_argument("--latency", type=float, default=0.0, metavar="MS",
                   help="answer every request this many milliseconds late (a slow link)")
    s.add_argument("--count", type=integer, metavar="N",
                   help="a virtual fleet: N chips on N free ports, one socket:// URL a line on stdout")
    s.add_argument("--efuse-dir", type=Path, metavar="DIR", help="fleet: each board's efuse file in DIR")
    s.add_argument("--swap-after", type=integer, metavar="K",
                   help="fleet: a new blank board on a port after K sessions (an operator's swap)")


def _station_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    from fusebook.cli import station_cmd

    station_cmd.add_parser(sub, common, _recipe_options)


def _dashboard_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    from fusebook.cli import web_cmd

    web_cmd.add_dashboard_parser(sub, common)


def _convert_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("convert", parents=[common],
                       help="an espefuse execute_scripts or esptool 5 API script as a recipe")
    s.add_argument("script", type=Path, help="the Python script (read, never run)")
    s.add_argument("-o", "--output", type=Path, help="write the recipe here (fragments beside it); "
                   "default: print it")
    s.add_argument("--chip", "-c", default=None, help="the chip (default: the script's init_commands(chip=...))")
    s.add_argument("--configfiles", nargs="+", default=[], type=Path, metavar="FILE",
                   help="the config files execute_scripts was given (args.configfiles)")


def _ledger_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("ledger", parents=[common], help="read the burn ledger")
    s.add_argument("action", choices=["list", "show", "export", "check"],
                   help="list records (newest first), show one record, export them all, "
                   "or check every page of the ledger now")
    s.add_argument("id", nargs="?", type=integer, help="show: the record's id")
    s.add_argument("--ledger", default=None, metavar="PATH|URL",
                   help="ledger: an SQLite file (default fusebook-ledger.sqlite) or postgresql://USER@HOST:PORT/DB")
    s.add_argument("--limit", type=integer, default=50, help="list: at most this many (default 50)")
    s.add_argument("--chip", dest="chip_mac", help="list, export: only this chip, by its factory MAC")
    s.add_argument("--recipe", help="list, export: only this recipe, by its name")
    s.add_argument("--csv", action="store_true", help="export: as CSV, one row per record")
    s.add_argument("--allocations", action="store_true", help="list: the indices allocated by --index auto")
    s.add_argument("-o", "--output", type=Path, help="export: write to this file (default: standard output)")


_COMMAND_PARSERS: dict[str, Callable[[Any, argparse.ArgumentParser], None]] = {
    "validate": _validate_parser,
    "plan": _plan_parser,
    "render": _render_parser,
    "apply": _apply_parser,
    "check": _check_parser,
    "snapshot": _snapshot_parser,
    "summary": _summary_parser,
    "check-error": _check_error_parser,
    "dump": _dump_parser,
    "get-custom-mac": _get_custom_mac_parser,
    "fields": _fields_parser,
    "schema": _schema_parser,
    "test": _test_parser,
    "new": _new_parser,
    "serve-virtual": _serve_virtual_parser,
    "station": _station_parser,
    "dashboard": _dashboard_parser,
    "convert": _convert_parser,
    "ledger": _ledger_parser,
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with `command`, that command's alone.

    A one-shot run parses one command, and building the other commands' options is a
    good part of the start-up time a station pays on every unit (docs/performance.md).
    """
    p = _Parser(prog="fusebook", description="Burn Espressif eFuses from reviewed YAML recipes.")
    p.add_argument("--version", action="version", version=f"fusebook {api.__version__}")
    common = _format_option()
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, add in _COMMAND_PARSERS.items():
        if command is None or name == command:
            add(sub, common)
    return p


# -- output --------------------------------------------------------------------------
class Out:
    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def emit(self, data: Any, text: str | Callable[[], str]) -> None:
        if self.fmt == "json":
            sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        else:
            sys.stdout.write((text() if callable(text) else text).rstrip() + "\n")

    def note(self, text: str) -> None:
        if self.fmt == "text":
            sys.stdout.write(text.rstrip() + "\n")
            sys.stdout.flush()


def _connect(args: argparse.Namespace) -> api.Session:
    return api.connect(
        api.ConnectOptions(
            port=args.port, virt=args.virt, chip=args.chip, efuse_file=args.efuse_file,
            baud=args.baud, before=args.before, after=args.after,
            factory_mac=getattr(args, "factory_mac", None),
        )
    )


def _image_from(args: argparse.Namespace) -> tuple[Any, str]:
    if getattr(args, "snapshot", None):
        chip = None if args.chip in (None, "auto") else args.chip
        return api.load_snapshot(args.snapshot, chip), f"snapshot {args.snapshot}"
    with _connect(args) as s:
        return s.read_image(), s.source


# -- commands ------------------------------------------------------------------------
def _extended(chip: Any, args: argparse.Namespace) -> Any:
    """`chip` with `--extend-efuse-table`, if given; the table's warnings go to stderr."""
    table = getattr(args, "extend_efuse_table", None)
    if not table:
        return chip
    extended = api.custom_table(chip, *api.read_extension(table))
    for w in extended.warnings:
        sys.stderr.write(f"{w}\n")
    return extended.chip


def _reads_chip(args: argparse.Namespace) -> bool:
    """Whether a chip-less command was asked to read a chip or a snapshot."""
    return bool(getattr(args, "snapshot", None) or getattr(args, "virt", False) or getattr(args, "port", None))


def cmd_fields(args: argparse.Namespace, out: Out) -> int:
    image = None
    if args.chip_name and args.chip in (None, "auto"):
        args.chip = args.chip_name
    if _reads_chip(args):
        image, _ = _image_from(args)
        image = image.with_chip(_extended(image.chip, args))
        chip = image.chip
    elif args.chip in (None, "auto"):
        raise UsageError("fields needs a chip name", hint="e.g. `fusebook fields esp32c3`, or --snapshot FILE")
    else:
        chip = _extended(api.load_chip(args.chip, args.revision), args)
    data = {
        "chip": chip.name,
        "description": chip.description,
        "blocks": [
            {"id": b.id, "name": b.name, "aliases": list(b.aliases), "bits": b.words * 32,
             "coding": b.coding, "wr_dis": b.wr_dis, "rd_dis": list(b.rd_dis),
             "key_purpose_field": b.key_purpose_field}
            | ({"coding_in_effect": render.coding_label(image, b.id),
                "data_bits": image.data_bytes(b) * 8} if image is not None else {})
            for b in chip.blocks
        ],
        "fields": [
            {"name": f.name, "aliases": list(f.aliases), "block": f.block, "word": f.word,
             "pos": f.pos, "bits": f.bits, "type": f.type, "class": f.klass,
             "wr_dis": f.wr_dis, "rd_dis": list(f.rd_dis), "description": f.description,
             "meanings": {str(k): v for k, v in f.meanings.items()}}
            | ({"fits_coding": image.field_fits(f)} if image is not None else {})
            for f in chip.fields
        ],
        "key_purposes": [
            {"name": k.name, "value": k.value, "read_protect": k.read_protect,
             "reverse": k.reverse, "digest": k.digest}
            for k in chip.key_purposes
        ],
    }
    out.emit(data, lambda: render.fields_text(chip, image))
    return EXIT_OK


def cmd_summary(args: argparse.Namespace, out: Out) -> int:
    image, source = _image_from(args)
    if getattr(args, "extend_efuse_table", None):
        image = image.with_chip(_extended(image.chip, args))
    only = [image.chip.field(n).name for n in args.names]  # unknown names: exit 2, did-you-mean
    if args.format == "espefuse-json":
        from fusebook.cli import espefuse_forms

        sys.stdout.write(json.dumps(espefuse_forms.summary(image, only), sort_keys=True, indent=4) + "\n")
        return EXIT_OK
    rows = [r for r in render.summary_rows(image) if not only or r["name"] in only]
    out.emit(
        {"chip": image.chip.name, "revision": image.revision, "source": source, "fields": rows},
        lambda: render.summary_text(image, source, only),
    )
    return EXIT_OK


#: `check-error` exit code when a block's error flags are set: a burn failed (SPEC §3).
EXIT_ERROR_FLAGS = 5


def cmd_check_error(args: argparse.Namespace, out: Out) -> int:
    image, source = _image_from(args)
    flags = api.error_flags(image)
    bad = [f for f in flags if not f.ok]
    data = {
        "chip": image.chip.name,
        "source": source,
        "ok": not bad,
        "errors": {k: f"0x{v:08x}" for k, v in sorted(image.errors.items())},
        "blocks": [
            {"block": f.block, "name": f.name, "fail": f.fail, "errors": f.errors, "flags": list(f.flags)}
            for f in flags
        ],
    }

    def text() -> str:
        lines = [f"{image.chip.description} ({source}): error flags per block"]
        lines += [f"  {f.describe()}" for f in flags]
        lines.append("no error flags set" if not bad else
                     f"error flags set in {', '.join(f.name for f in bad)}: "
                     "an earlier program failed; do not burn these blocks further")
        return "\n".join(lines)

    out.emit(data, text)
    return EXIT_OK if not bad else EXIT_ERROR_FLAGS


def cmd_dump(args: argparse.Namespace, out: Out) -> int:
    from fusebook.cli import espefuse_forms

    image, source = _image_from(args)
    blocks = [{"block": b.id, "name": b.name, "words": [f"0x{w:08x}" for w in image.words(b.id)]}
              for b in image.chip.blocks]
    out.emit({"chip": image.chip.name, "source": source, "blocks": blocks},
             lambda: "\n".join(espefuse_forms.dump_lines(image)))
    return EXIT_OK


def cmd_get_custom_mac(args: argparse.Namespace, out: Out) -> int:
    from fusebook.cli import espefuse_forms

    image, source = _image_from(args)
    if not image.chip.has_field("CUSTOM_MAC"):
        raise UsageError(f"{image.chip.description} has no CUSTOM_MAC field")
    data = {"chip": image.chip.name, "source": source, **espefuse_forms.custom_mac(image)}
    out.emit(data, lambda: espefuse_forms.custom_mac_line(image))
    return EXIT_OK


def cmd_snapshot(args: argparse.Namespace, out: Out) -> int:
    with _connect(args) as s:
        image = s.read_image()
        source = s.source
    if args.as_ == "efuse-file":
        if not args.output:
            raise UsageError("--as efuse-file needs -o FILE")
        api.write_efuse_file(image, args.output)
        out.emit({"written": str(args.output)}, f"wrote {args.output}")
        return EXIT_OK
    if args.as_ == "token" or args.format == "efsr":
        token = api.efsr_token(image)
        if args.output:
            _write_output(args.output, token + "\n")
        if args.format == "efsr":
            sys.stdout.write(token + "\n")
        else:
            out.emit({"token": token}, token)
        return EXIT_OK
    data = api.snapshot_json(image, source)
    if args.output:
        _write_output(args.output, json.dumps(data, indent=2) + "\n")
        out.emit({"written": str(args.output), "digest": data["digest"]}, f"wrote {args.output}")
    else:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, out: Out) -> int:
    sys.stdout.write(api.schema_text("test" if args.test else "recipe"))
    return EXIT_OK


def cmd_new(args: argparse.Namespace, out: Out) -> int:
    if args.list:
        kinds = {kind: api.starter_chips(kind) for kind in api.starter_kinds()}
        out.emit({"templates": kinds},
                 lambda: "\n".join(f"{kind}: {', '.join(chips)}" for kind, chips in kinds.items()))
        return EXIT_OK
    if not args.template or not args.chip:
        raise UsageError("`fusebook new` needs --template and --chip",
                         hint="e.g. fusebook new --chip esp32c3 --template flash-encryption -o fe.yaml; "
                              "`fusebook new --list` shows what fits which chip")
    text = api.new_recipe(args.template, args.chip)
    if args.output is None:
        out.emit({"template": args.template, "chip": args.chip, "recipe": text}, text)
        return EXIT_OK
    if args.output.exists() and not args.force:
        raise UsageError(f"{args.output} exists; fusebook new does not overwrite a recipe",
                         hint="pass --force to overwrite it, or another -o path")
    _write_output(args.output, text)
    out.emit({"template": args.template, "chip": args.chip, "output": str(args.output)},
             f"wrote {args.output}: read its comments for the key and data files it needs, "
             f"then `fusebook plan {args.output} --snapshot blank --chip {args.chip}`")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace, out: Out) -> int:
    results = []
    errors: list[FusebookError] = []
    image = _image_from(args)[0] if _reads_chip(args) else None
    for path in args.recipes:
        found = api.validate_recipe(path, image)
        problems, warnings = found.problems, found.warnings
        errors += problems
        results.append({"recipe": str(path), "ok": not problems,
                        "errors": [p.to_json() for p in problems],
                        "warnings": [{"message": w.message, "location": w.location.to_json()} for w in warnings]})
        if out.fmt == "text":
            for w in warnings:
                sys.stderr.write(f"{w}\n")
            for p in problems:
                sys.stderr.write(p.render() + "\n")
            if not problems:
                out.note(f"{path}: ok")
    if out.fmt == "json":
        out.emit({"results": results}, "")
    if errors:
        return max(e.exit_code for e in errors)
    return EXIT_OK


def _load(args: argparse.Namespace) -> api.LoadedRecipe:
    return api.load_recipe(
        args.recipe,
        input_overrides=_pairs(args.input, "--input"),
        set_vars=_pairs(args.set, "--set"),
        extend_efuse_table=getattr(args, "extend_efuse_table", None),
    )


def cmd_plan(args: argparse.Namespace, out: Out) -> int:
    loaded = _load(args)
    image, source = _image_from(args)
    result = api.plan(loaded, image, args.index)
    body = api.saved_plan(loaded, result, source, _pairs(args.input, "--input"),
                          _pairs(args.set, "--set"))
    token = api.efsw_token(result.plan, allow_secrets=args.allow_secrets) if args.format == "efsw" else None
    if args.output:
        _write_output(args.output, json.dumps(body, indent=2, sort_keys=True) + "\n")
    if token is not None:
        if api.has_key_material(result.plan):
            sys.stderr.write("warning: this EFSW token holds key material in clear: "
                             "keep it as secret as the key\n")
        sys.stdout.write(token + "\n")
        return EXIT_OK
    out.emit(body, lambda: render.plan_text(result.plan))
    return EXIT_OK


def _confirm_prompt(plan: Any, stream: Any = None) -> bool:
    """Show the plan and ask for BURN; a signal or end of input at the prompt is a no.

    `stream` is where the question goes: stdout, or stderr under `--format json` so that
    stdout stays one JSON document.
    """
    stream = stream or sys.stdout
    stream.write(render.plan_text(plan) + "\n\nThis is irreversible. Type BURN to continue: ")
    stream.flush()
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        return False
    return answer.strip() == "BURN"


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed or detached stdin
        return False


#: The signals that ask a burn to stop (SIGHUP: the terminal or the session went away).
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


class SignalAbort(KeyboardInterrupt):
    """A stop signal before anything is sent to the chip: abandon at once (exit 130)."""

    def __init__(self, signame: str) -> None:
        super().__init__(signame)
        self.signame = signame


@contextlib.contextmanager
def handling_stop_signals(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """`handler` for every stop signal while the block runs; the previous handlers after."""
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    for s in STOP_SIGNALS:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


def _say(text: str) -> None:
    """Write to stderr from a signal handler: unbuffered, so it cannot re-enter sys.stderr."""
    with contextlib.suppress(OSError):
        os.write(2, text.encode())


@contextlib.contextmanager
def _stop_on_signals(stop: api.StopRequest) -> Iterator[None]:
    """SIGINT, SIGTERM, SIGHUP: abandon before the burn, stop at a block boundary during it.

    Until the plan is confirmed the handler raises (SignalAbort), since nothing has been
    sent; once the burn is under way it only records the request, so the program command
    in flight, its wait and its read-back finish (milliseconds) and commit() stops before
    the next one. A second signal waits just the same, and says so. The handlers that were
    installed before are put back afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.phase == "before":
            raise SignalAbort(name)
        count = stop.request(name)
        if stop.phase == "after":
            _say(f"fusebook: {name}: every block is already burned and verified; finishing the record\n")
        elif count == 1:
            _say(f"fusebook: {name}: stopping after the program in flight "
                 "(it takes milliseconds and is never cut)\n")
        else:
            _say(f"fusebook: {name} again: still finishing the program in flight, then recording "
                 "what is done; the chip is never left mid-program\n")

    with handling_stop_signals(handler):
        yield


def _ledger(args: argparse.Namespace) -> Any:
    if getattr(args, "no_ledger", False):
        return None
    from fusebook.cli.ledger_cmd import ledger_target

    return api.open_ledger(ledger_target(args))


def cmd_apply(args: argparse.Namespace, out: Out) -> int:
    if not args.yes and not _stdin_is_terminal():
        raise UsageError("stdin is not a terminal: pass --yes",
                         hint="apply asks you to type BURN on a terminal; --yes burns without asking")
    stop = api.StopRequest()
    shown: list[Any] = []

    def confirm(plan: Any) -> bool:
        shown.append(plan)
        if not args.yes:
            return _confirm_prompt(plan, sys.stderr if out.fmt == "json" else sys.stdout)
        if out.fmt == "text":  # before the burn, so a redirected stdout holds the plan whatever happens
            sys.stdout.write(render.plan_text(plan) + "\n")
            sys.stdout.flush()
        return True

    progress = _BlockProgress(out)
    with _stop_on_signals(stop), contextlib.ExitStack() as ending:
        ending.callback(progress.finish)
        try:
            if args.recipe.suffix == ".json" and (args.index is not None or args.indices is not None):
                raise UsageError("a saved plan holds its index: --index and --indices apply to recipes",
                                 hint="drop --index/--indices, or apply the recipe itself")
            ledger = _ledger(args)
            with _connect(args) as session:
                if args.recipe.suffix == ".json":
                    outcome = api.apply_saved(args.recipe, session, confirm=confirm, ledger=ledger, stop=stop,
                                              on_event=progress)
                else:
                    outcome = api.apply(_load(args), session, args.index, confirm=confirm, ledger=ledger,
                                        stop=stop, on_event=progress, indices=args.indices)
        except SignalAbort as e:
            return _ended_early(out, Aborted(f"aborted by {e.signame}: nothing was sent to the chip"),
                                shown, "aborted")
        except Aborted as e:
            return _ended_early(out, e, shown, "aborted")
        except Stopped as e:
            return _ended_early(out, e, shown, "partial")
        _apply_done(args, out, outcome, shown)
    return EXIT_OK


class _BlockProgress:
    """`BURN BLOCK_KEY0 (data) [1/2] ... ok` per block write as it happens (text output only).

    The line is begun when the program is sent and ended when its read-back matched (or,
    with `finish`, as FAILED when the burn ended inside it), so an operator watching a
    stuck or failed burn sees which block was in flight.
    """

    def __init__(self, out: Out) -> None:
        self.on = out.fmt == "text"
        self.stream = sys.stdout
        self.open = False

    def __call__(self, event: api.CommitEvent) -> None:
        if not self.on:
            return
        w = event.write
        if event.kind == "program" and w is not None and not self.open:
            self.stream.write(f"BURN {w.block_name} ({w.phase}) [{event.index + 1}/{event.total}] ... ")
            self.open = True
        elif event.kind == "verified" and self.open:
            self.stream.write(style.paint("ok", "green", self.stream) + "\n")
            self.open = False
        elif event.kind == "done" and self.open:  # locked out: the program went, no read-back
            self.stream.write("sent (the chip no longer answers)\n")
            self.open = False
        self.stream.flush()

    def finish(self) -> None:
        """End a line the burn left open: its block was not verified."""
        if self.open:
            self.stream.write(style.paint("FAILED", "red", self.stream) + "\n")
            self.stream.flush()
            self.open = False


def _ended_early(out: Out, e: FusebookError, shown: list[Any], outcome: str) -> int:
    """An apply that a signal or the prompt ended: the report on stdout, the reason on stderr.

    Under `--format json` stdout is still one complete document, with `outcome`.
    """
    progress = e.progress
    plan = shown[-1] if shown else None
    report = progress.report(plan) if progress is not None and plan is not None else None
    headline = e.message.split("\n", 1)[0]
    if out.fmt == "json":
        body: dict[str, Any] = plan.to_json() if plan is not None else {}
        error = e.to_json()
        error["message"] = headline
        body.update(outcome=outcome, error=error, report=report.splitlines() if report else [])
        if progress is not None:
            body["programs"] = progress.programs
            body["retries"] = progress.retries
        out.emit(body, "")
    else:
        if report and outcome == "partial":
            sys.stdout.write(report + "\n")
            sys.stdout.flush()
        sys.stderr.write(f"error: {headline}\n" + (f"  hint: {e.hint}\n" if e.hint else ""))
    return e.exit_code


def _apply_done(args: argparse.Namespace, out: Out, outcome: Any, shown: list[Any]) -> None:
    body = outcome.plan.to_json()
    body["outcome"] = "burned" if outcome.burned else "nothing-to-do"
    body["record_id"] = outcome.record_id
    body["index"] = outcome.index
    if outcome.result:
        body["locked_out"] = outcome.result.locked_out
        body["programs"] = outcome.result.programs
        body["retries"] = outcome.result.retries

    def text() -> str:
        lines = [render.plan_text(outcome.plan)] if args.yes and not shown else []
        if args.index == api.AUTO_INDEX:
            lines.append(f"index {outcome.index} (allocated by the ledger)")
        if outcome.result and outcome.result.locked_out:
            lines.append("the last program switched the download mode off (or to secure download): "
                         "the chip no longer answers, so that program could not be read back")
        if outcome.burned and outcome.result is not None:
            lines.append(
                f"burned and verified {len(outcome.result.verified)} block write(s) "
                f"({outcome.result.programs} program commands)"
            )
        else:
            lines.append("nothing burned: the chip already matches the recipe")
        return "\n".join(lines)

    out.emit(body, text)


def cmd_check(args: argparse.Namespace, out: Out) -> int:
    from fusebook.cli.check import run_check

    return run_check(args, out)


def cmd_render(args: argparse.Namespace, out: Out) -> int:
    from fusebook.cli.render_recipe import run_render

    return run_render(args, out)


def cmd_test(args: argparse.Namespace, out: Out) -> int:
    from fusebook.cli.test_cmd import run_test

    return run_test(args, out)


def cmd_serve_virtual(args: argparse.Namespace, out: Out) -> int:
    if args.latency < 0:
        raise UsageError("--latency must be 0 or more milliseconds")
    if args.count is not None or args.efuse_dir is not None or args.swap_after is not None:
        if args.efuse_file is not None or args.fault:
            raise UsageError("--efuse-file and --fault are for one chip, not a fleet",
                             hint="a fleet keeps its boards' files in --efuse-dir DIR")
        api.serve_virtual_fleet(args.chip, args.count or 1, args.listen or "127.0.0.1:0", efuse_dir=args.efuse_dir,
                                swap_after=args.swap_after, latency_ms=args.latency, factory_mac=args.factory_mac)
        return EXIT_OK
    api.serve_virtual(args.chip, listen=args.listen or "127.0.0.1:5555", efuse_file=args.efuse_file,
                      faults=args.fault, latency_ms=args.latency, factory_mac=args.factory_mac)
    return EXIT_OK


def cmd_station(args: argparse.Namespace, out: Out) -> int:
    from fusebook.cli.station_cmd import run_station

    return run_station(args, out, _load, _ledger)


def cmd_dashboard(args: argparse.Namespace, out: Out) -> int:
    from fusebook.cli.web_cmd import run_dashboard

    return run_dashboard(args, out)


#: `convert` exit code when part of the script is not in the recipe (SPEC §3: not possible as asked).
EXIT_INCOMPLETE = 3


def cmd_convert(args: argparse.Namespace, out: Out) -> int:
    result = api.convert_script(args.script, chip=args.chip, output=args.output,
                                configfiles=tuple(args.configfiles))
    if out.fmt == "text":
        for note in result.notes:
            sys.stderr.write(f"{note}\n")
        for problem in result.problems:
            sys.stderr.write(problem.render() + "\n")
        if args.output is None:
            sys.stdout.write(result.recipe)
        else:
            out.note("wrote " + ", ".join(str(p) for p in result.written))
        if not result.complete:
            sys.stderr.write(f"{args.script}: incomplete: {len(result.notes)} part(s) not converted"
                             + (f", {len(result.problems)} validation error(s)" if result.problems else "")
                             + "; see the comments at the top of the recipe\n")
    else:
        out.emit({
            "complete": result.complete,
            "recipe": result.recipe if args.output is None else None,
            "written": [str(p) for p in result.written],
            "not_converted": [{"file": n.file, "line": n.line, "reason": n.reason, "code": n.code}
                              for n in result.notes],
            "errors": [p.to_json() for p in result.problems],
        }, "")
    return EXIT_OK if result.complete else EXIT_INCOMPLETE


def cmd_ledger(args: argparse.Namespace, out: Out) -> int:
    from fusebook.cli.ledger_cmd import run_ledger

    return run_ledger(args, out)


COMMANDS: dict[str, Callable[[argparse.Namespace, Out], int]] = {
    "fields": cmd_fields,
    "summary": cmd_summary,
    "check-error": cmd_check_error,
    "dump": cmd_dump,
    "get-custom-mac": cmd_get_custom_mac,
    "snapshot": cmd_snapshot,
    "schema": cmd_schema,
    "new": cmd_new,
    "validate": cmd_validate,
    "plan": cmd_plan,
    "apply": cmd_apply,
    "check": cmd_check,
    "render": cmd_render,
    "test": cmd_test,
    "serve-virtual": cmd_serve_virtual,
    "ledger": cmd_ledger,
    "station": cmd_station,
    "dashboard": cmd_dashboard,
    "convert": cmd_convert,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    fmt = "json" if any(a in ("--format=json",) for a in argv) or (
        "--format" in argv and argv[argv.index("--format") + 1 : argv.index("--format") + 2] == ["json"]
    ) else "text"
    out = Out(fmt)
    # No pydantic plugin sees a recipe: validation handles key material, and a plugin
    # installed beside fusebook would be handed every validated value. Looking them up
    # (importlib.metadata over every installed package) is also a tenth of start-up.
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
    try:
        parser = build_parser(argv[0] if argv and argv[0] in _COMMAND_PARSERS else None)
        args = parser.parse_args(habits.command_first(argv, parser))
        out = Out(getattr(args, "format", "text"))
        code = COMMANDS[args.command](args, out)
    except KeyboardInterrupt:
        code = Aborted.exit_code
        err = Aborted("aborted")
        if out.fmt == "json":
            sys.stdout.write(json.dumps({"error": err.to_json()}, indent=2) + "\n")
        else:
            sys.stderr.write("aborted\n")
    except FusebookError as e:
        if out.fmt == "json":
            sys.stdout.write(json.dumps({"error": e.to_json()}, indent=2) + "\n")
        else:
            sys.stderr.write(style.error_text(e.render(), sys.stderr) + "\n")
        code = e.exit_code
    except BrokenPipeError:
        code = EXIT_OK
    except Exception as e:  # a bug in fusebook: say so plainly
        if os.environ.get("FUSEBOOK_DEBUG"):
            raise
        sys.stderr.write(
            f"internal error: {type(e).__name__}: {e}\n"
            "  hint: this is a fusebook bug; re-run with FUSEBOOK_DEBUG=1 for details\n"
        )
        code = 1
    with contextlib.suppress(OSError):  # stdout gone (a hung-up terminal, a closed pipe)
        sys.stdout.flush()
    return code


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
