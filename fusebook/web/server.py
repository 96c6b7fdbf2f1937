"""The page's web server: uvicorn on a thread of its own, with an event loop of its own.

A station's workers are threads burning chips; the page must never slow them. So the
server runs beside them on one more thread, fed only through the board (a short lock and
a non-blocking wake per event, see fusebook.web.app.Hub). The listening socket is opened
by the caller's thread before the server starts, so a taken port or a bad address is a
clear error at once, before any unit is burned.

Where it listens: loopback unless the user names another host with `--web-host`; then
every request must carry a token (given with `--web-token`, or made here and printed once).
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from fusebook.errors import InputError

DEFAULT_PORT = 8080
#: A token shorter than this could be guessed; a made one is 32 characters.
MIN_TOKEN = 16


@dataclass(frozen=True)
class WebSettings:
    """Where the page listens and whether it asks for a token."""

    host: str
    port: int
    token: str | None
    loopback_only: bool
    token_made: bool = False


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[IPv6]:PORT` or `PORT` (on 127.0.0.1); port 0 picks a free one."""
    from fusebook.addresses import host_port

    return host_port(text, "--web", "127.0.0.1:8080")


def web_settings(web: str | None, web_host: str | None, web_token: str | None) -> WebSettings:
    """The page's settings from `--web` (default 127.0.0.1:8080), `--web-host` and `--web-token`."""
    host, port = parse_address(web or f"127.0.0.1:{DEFAULT_PORT}")
    if web_host is None and not is_loopback(host.strip("[]")):
        raise InputError(f"--web {web}: the page listens on loopback only (127.0.0.1, ::1, localhost)",
                         hint=f"to serve other hosts, add --web-host {host}: every request then needs a token")
    if web_token is not None and len(web_token) < MIN_TOKEN:
        raise InputError(f"the web token is {len(web_token)} characters: a token that short can be guessed",
                         hint=f"use {MIN_TOKEN} or more random characters, or give none to get one made")
    if web_host is not None:
        if not web_host.strip():
            raise InputError("--web-host is empty", hint="e.g. --web-host 0.0.0.0 for every interface")
        made = web_token is None
        return WebSettings(web_host.strip().strip("[]"), port, web_token or secrets.token_urlsafe(24),
                           loopback_only=False, token_made=made)
    return WebSettings(host.strip("[]"), port, web_token, loopback_only=True)


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise InputError(f"--web host {host!r}: {e.strerror}", hint="give an address of this host") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(64)
    except OSError as e:
        sock.close()
        raise InputError(f"cannot serve the page on {host}:{port}: {e.strerror or e}",
                         hint="pick another port (--web HOST:PORT) or stop what listens there") from None
    sock.setblocking(False)
    return sock


class WebServer:
    """The page over `board`, served from a thread (`start`, `stop`, or a context manager)."""

    def __init__(self, board: Any, settings: WebSettings, open_ledger: Any = None, *, ledger: Any = None) -> None:
        """`open_ledger` opens the ledger the search reads (and the server closes), or `ledger`
        is one the caller keeps; with neither, the page has no ledger search."""
        from fusebook.web.app import Hub, LedgerSearch, create_app

        self.settings = settings
        self.board = board
        self.hub = Hub(board)
        self.search = LedgerSearch(open_ledger, ledger=ledger)
        self.app = create_app(board, self.hub, self.search, token=settings.token,
                              loopback_only=settings.loopback_only)
        self._server: Any = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None
        self.port = settings.port

    @property
    def url(self) -> str:
        host = self.settings.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}/"

    @property
    def url_with_token(self) -> str:
        return self.url + (f"?token={self.settings.token}" if self.settings.token else "")

    def start(self, timeout_s: float = 10.0) -> None:
        import uvicorn

        self._sock = _bind(self.settings.host, self.settings.port)
        self.port = int(self._sock.getsockname()[1])
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                loop="asyncio", http="h11", ws="none", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="web-page", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if self._failure is not None or not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise InputError(f"the page's server did not start on {self.url}: {self._failure or 'timed out'}")
            time.sleep(0.01)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self.hub.attach(loop)
        try:
            loop.run_until_complete(self._server.serve(sockets=[self._sock]))
        except BaseException as e:  # noqa: BLE001 - reported by start() or lost with the page only
            self._failure = e
        finally:
            loop.close()

    def stop(self) -> None:
        """End every stream, stop the server, close the search's ledger; waits a few seconds at most."""
        loop, server = self._loop, self._server
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.hub.close)
            except RuntimeError:
                pass
        if server is not None:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)
        if self._sock is not None:
            self._sock.close()
        self.search.close()

    def __enter__(self) -> WebServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
