"""`fusebook station`: options, signals and output around api.Station.

The station never prompts: it burns unit after unit, so it needs `--yes` (exit 2
without it). Ctrl-C, SIGTERM and SIGHUP stop every worker with apply's rules; the
summary and the exit code follow once every unit in flight has reported.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from fusebook import api
from fusebook.api import InputError, integer
from fusebook.cli import station_view as view


def add_parser(sub: Any, common: argparse.ArgumentParser, recipe_options: Callable[..., None]) -> None:
    s = sub.add_parser("station", parents=[common], help="burn units on many ports at once, one after another")
    s.add_argument("recipe", type=Path, help="the recipe file")
    g = s.add_argument_group("ports (any mix, each port once)")
    g.add_argument("--port", "-p", action="append", default=[], metavar="URL",
                   help="a port (repeatable): /dev/ttyUSB0, socket://host:port, rfc2217://...")
    g.add_argument("--ports-from", type=Path, metavar="FILE", help="ports, one a line (# comments)")
    g.add_argument("--ports", dest="ports_auto", metavar="auto[:VID:PID]",
                   help="every USB serial port of a known Espressif device or USB-UART bridge")
    c = s.add_argument_group("chip connection (as apply)")
    c.add_argument("--chip", "-c", default="auto", help="chip name (default: auto-detect)")
    c.add_argument("--baud", "-b", type=integer, default=115200, help="serial baud rate (default 115200)")
    c.add_argument("--before", default="default-reset", choices=["default-reset", "usb-reset", "no-reset"],
                   help="how to reset the chip into its ROM bootloader before connecting (default default-reset)")
    c.add_argument("--after", "-a", default="hard-reset", choices=["hard-reset", "no-reset"],
                   help="reset the chip when done (hard-reset, default) or leave it in the bootloader (no-reset)")
    s.add_argument("--extend-efuse-table", type=Path, help="ESP-IDF custom eFuse table CSV")
    recipe_options(s, auto=True)
    s.add_argument("--once", action="store_true", help="each port once, then the summary and exit")
    s.add_argument("--yes", "-y", action="store_true", help="required: a station burns without asking")
    s.add_argument("--ledger", default=None, metavar="PATH|URL",
                   help="ledger: an SQLite file (default fusebook-ledger.sqlite) or postgresql://USER@HOST:PORT/DB "
                        "(every station of a line on one)")
    s.add_argument("--no-ledger", action="store_true", help="do not record (not with --index auto)")
    s.add_argument("--events", metavar="FILE|-", help="JSON Lines, one event per state change of a unit")
    s.add_argument("--poll", type=float, default=1.0, metavar="S",
                   help="seconds between looks for the next board on a port (default 1)")
    from fusebook.cli.web_cmd import add_web_options

    add_web_options(s)


def _index(args: argparse.Namespace, loaded: api.LoadedRecipe) -> int | str | None:
    """`--index auto`, or auto by default when the recipe declares `indices:`; never one fixed N."""
    if args.index is None:
        if getattr(loaded.recipe, "indices", None) is not None or args.indices is not None:
            return api.AUTO_INDEX
        return None
    if args.index != api.AUTO_INDEX:
        raise InputError("a station burns many units, so one --index N cannot be theirs",
                         hint="use --index auto (the ledger allocates each unit's index), or apply for one unit")
    return api.AUTO_INDEX


@contextlib.contextmanager
def _events_sink(target: str | None, station: api.Station) -> Iterator[None]:
    if target is None:
        yield
        return
    stream: TextIO
    if target == "-":
        stream, close = sys.stdout, False
    else:
        try:
            stream, close = open(target, "a", encoding="utf-8"), True  # noqa: SIM115
        except OSError as e:
            raise InputError(f"cannot write --events {target}: {e.strerror or e}") from None
    unsubscribe = station.events.subscribe(api.JsonLinesSink(stream))
    try:
        yield
    finally:
        unsubscribe()
        if close:
            stream.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError):
        return False


@contextlib.contextmanager
def _signals(station: api.Station) -> Iterator[None]:
    """Every stop signal stops every worker; nothing is cut, a second signal says so."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from fusebook.cli.main import _say, handling_stop_signals

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        again = station.stop_reason is not None
        burning = station.stop(name)
        if again:
            _say(f"fusebook station: {name} again: still finishing the program(s) in flight, then recording; "
                 "no chip is left mid-program\n")
        else:
            _say(f"fusebook station: {name}: stopping every port; {burning} unit(s) burning finish the "
                 "program in flight (never cut) and record what is done\n")

    with handling_stop_signals(handler):
        yield


def run_station(args: argparse.Namespace, out: Any, load: Callable[[argparse.Namespace], api.LoadedRecipe],
                ledger: Callable[[argparse.Namespace], Any]) -> int:
    from fusebook.cli.main import UsageError

    if not args.yes:
        raise UsageError("a station burns without asking: pass --yes",
                         hint="check the recipe with `fusebook plan` first, then run the station with --yes")
    if args.events == "-" and out.fmt == "json":
        raise UsageError("--events - and --format json both want stdout", hint="give --events a FILE")
    if args.poll <= 0:
        raise UsageError("--poll must be more than 0 seconds")
    ports = api.resolve_ports(args.port, args.ports_from, args.ports_auto)
    loaded = load(args)  # loaded and validated once, before any port is touched
    index = _index(args, loaded)
    if index == api.AUTO_INDEX and args.no_ledger:
        raise UsageError("--index auto needs the ledger: it allocates the indices", hint="drop --no-ledger")
    if index == api.AUTO_INDEX and args.indices is None and getattr(loaded.recipe, "indices", None) is None:
        raise UsageError(f"--index auto: recipe {loaded.name} declares no `indices:` range",
                         hint='add e.g. `indices: "1-5000"` to the recipe, or pass --indices 1-5000')
    options = api.StationOptions(
        chip=None if args.chip == "auto" else args.chip, baud=args.baud, before=args.before, after=args.after,
        index=index, indices=args.indices, once=args.once, poll_s=args.poll,
    )
    factory = None if args.no_ledger else (lambda: ledger(args))
    station = api.Station(loaded, ports, options, ledger_factory=factory)
    # stdout carries the table or the log, unless the events or the JSON summary have it.
    screen = sys.stderr if args.events == "-" or out.fmt == "json" else sys.stdout
    from fusebook.cli.web_cmd import station_page

    with station_page(args, station, factory), _events_sink(args.events, station), _signals(station):
        if _is_terminal(screen):
            with view.LiveTable(station, screen):
                report = station.run()
        else:
            station.events.subscribe(view.PlainLog(screen))
            report = station.run()
    if out.fmt == "json":
        sys.stdout.write(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
    else:
        screen.write(view.summary_text(report) + "\n")
        screen.flush()
    return report.exit_code
