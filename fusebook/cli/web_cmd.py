"""The operator's page on the command line: `station --web` and `fusebook dashboard`.

Both take the same options (`--web HOST:PORT`, `--web-host HOST`, `--web-token TOKEN`)
and print where the page is once, on stderr, before anything else happens; with a token,
that line is the only place the token is shown.
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
from typing import Any

from fusebook import api
from fusebook.api import InputError

TOKEN_ENV = "FUSEBOOK_WEB_TOKEN"


def add_web_options(parser: argparse.ArgumentParser, *, default: str | None = None) -> None:
    g = parser.add_argument_group("web page (docs/station.md)")
    g.add_argument("--web", metavar="HOST:PORT", default=None,
                   help="serve the live page here, on loopback" + (f" (default {default})" if default else
                                                                   ", e.g. 127.0.0.1:8080"))
    g.add_argument("--web-host", metavar="HOST", default=None,
                   help="serve the page to other hosts on HOST (e.g. 0.0.0.0): a token is then required")
    g.add_argument("--web-token", metavar="TOKEN", default=None,
                   help=f"the token a request must carry (default ${TOKEN_ENV}, else one is made and printed)")


def _settings(args: argparse.Namespace, default: str | None = None) -> Any:
    if args.web is None and args.web_host is None and default is None:
        if args.web_token is not None:
            raise InputError("--web-token goes with --web", hint="add --web 127.0.0.1:8080")
        return None
    token = args.web_token if args.web_token is not None else (os.environ.get(TOKEN_ENV) or None)
    return api.web_settings(args.web or default, args.web_host, token)


def _announce(server: Any, what: str) -> None:
    s = server.settings
    if s.token is None:
        line = f"fusebook {what}: the live page is at {server.url}\n"
    elif s.token_made:
        line = (f"fusebook {what}: the live page is at {server.url_with_token}\n"
                "  every request must carry this token; it is shown only here\n")
    else:
        line = f"fusebook {what}: the live page is at {server.url} (with the token given)\n"
    sys.stderr.write(line)
    sys.stderr.flush()


def _title(loaded: Any, station: Any) -> str:
    return f"{loaded.name} on {station.id}"


@contextlib.contextmanager
def station_page(args: argparse.Namespace, station: Any, open_ledger: Callable[[], Any] | None) -> Iterator[None]:
    """Serve the station's page while the body runs, when `--web` asks for one."""
    settings = _settings(args)
    if settings is None:
        yield
        return
    board = api.station_board(_title(station.loaded, station), [w.port for w in station.workers])
    unsubscribe = station.events.subscribe(board)
    server = api.web_server(board, settings, open_ledger)
    try:
        server.start()
        _announce(server, "station")
        yield
    finally:
        unsubscribe()
        server.stop()


def add_dashboard_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("dashboard", parents=[common],
                       help="the live page over a ledger (read-only): the units of every station on it")
    s.add_argument("--ledger", default=None, metavar="PATH|URL",
                   help="an SQLite ledger file or postgresql://USER@HOST:PORT/DB (default as `ledger list`)")
    s.add_argument("--poll", type=float, default=2.0, metavar="S", help="seconds between reads of the ledger")
    add_web_options(s, default="127.0.0.1:8080")


def run_dashboard(args: argparse.Namespace, out: Any) -> int:
    """Serve the ledger's page until Ctrl-C, SIGTERM or SIGHUP; exit 0."""
    from fusebook.cli.ledger_cmd import ledger_target

    if not args.poll > 0:
        raise InputError("--poll must be more than 0 seconds")
    settings = _settings(args, default="127.0.0.1:8080")
    target = ledger_target(args)
    path = api.ledger_file(target)
    if path is not None and not path.is_file():
        raise InputError(f"{target}: no ledger here", hint="give --ledger PATH|URL (or set FUSEBOOK_LEDGER)")
    ledger = api.open_ledger(target, create=False)
    board = api.ledger_board(f"ledger {ledger.where}", ledger, poll_s=args.poll)
    server = api.web_server(board, settings, ledger=ledger)
    done = threading.Event()
    try:
        board.refresh()
        server.start()
        board.start()
        if out.fmt == "json":
            sys.stdout.write(json.dumps({"url": server.url, "ledger": ledger.where}) + "\n")
            sys.stdout.flush()
        _announce(server, "dashboard")
        with _until_signal(done):
            while not done.wait(0.2):
                pass
    finally:
        board.stop()
        server.stop()
        ledger.close()
    return 0


@contextlib.contextmanager
def _until_signal(done: threading.Event) -> Iterator[None]:
    from fusebook.cli.main import STOP_SIGNALS

    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    for s in STOP_SIGNALS:
        signal.signal(s, lambda *_: done.set())
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
