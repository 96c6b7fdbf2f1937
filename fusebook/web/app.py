"""The operator's page as a Starlette application: one HTML page, its JSON and its live stream.

Routes (all GET, read-only; docs/station.md documents them):

    /                  the page (static HTML, CSS and JS shipped with fusebook)
    /api/units         {"units": [tile, ...]}: one tile per port (station) or unit (ledger)
    /api/totals        ok, failed, in_progress, units_per_hour, yield, since
    /api/recent        {"units": [...]}: the last units that ended, newest first
    /api/state         all three at once, as the stream's `state` messages carry them
    /api/events        server-sent events: `state` (a snapshot) after every change, and
                       `unit` (the station's raw event, as `--events` writes it)
    /api/ledger        ?mac=..&index=..&limit=..: ledger records, as `fusebook ledger list` shows them

Live updates reach the browsers through a `Hub` on the server's event loop. The board
only calls `Hub.wake` (thread-safe, never blocking, at most one call pending); the hub then
copies what changed into each browser's bounded queue. A browser that does not keep up
fills its queue and is dropped; its page reconnects and starts again from a snapshot. No
worker ever waits for a browser.

`Guard` wraps the application: only GET and HEAD; a token on every request when one is
set (compared in constant time); and, bound to loopback without a token, only requests
that name a loopback host, so a web page elsewhere cannot reach the station through the
operator's browser (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from fusebook.web.board import Board, record_summary

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Messages one browser may be behind before it is dropped.
CLIENT_BACKLOG = 256
#: Seconds between two snapshots sent to an idle browser (keeps totals fresh and the link alive).
REFRESH_S = 5.0
#: The cookie that carries the token once a browser has opened the page's URL with `?token=`.
COOKIE = "fusebook_web_token"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
#: The most records one ledger search returns.
SEARCH_LIMIT = 200

_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
]


def sse(kind: str, data: Any) -> str:
    """One server-sent event; JSON never holds a raw newline, so it is one `data:` line."""
    return f"event: {kind}\ndata: {json.dumps(data, sort_keys=True)}\n\n"


class _Client:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=CLIENT_BACKLOG)
        self.dropped = False

    def offer(self, messages: list[str]) -> bool:
        """Queue `messages`, or drop this client when they do not fit; False once dropped."""
        if self.dropped:
            return False
        try:
            for m in messages:
                self.queue.put_nowait(m)
        except asyncio.QueueFull:
            self.end()
            self.dropped = True
            return False
        return True

    def end(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class Hub:
    """The browsers following the board, fed on the server's event loop."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clients: set[_Client] = set()
        self.dropped = 0
        self.closed = False
        self._pending = threading.Event()
        self._seq = 0
        self._undo = board.on_change(self.wake)

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._seq = max((e["seq"] for e in self.board.events_after(0)), default=0)

    def wake(self) -> None:
        """From any thread: schedule one pump, unless one is already pending. Never blocks."""
        loop = self.loop
        if loop is None or self._pending.is_set():
            return
        self._pending.set()
        try:
            loop.call_soon_threadsafe(self._pump)
        except RuntimeError:  # the loop has closed: the server is gone
            pass

    def _pump(self) -> None:
        self._pending.clear()
        events = self.board.events_after(self._seq)
        if events:
            self._seq = events[-1]["seq"]
        if not self.clients:
            return
        messages = [sse("unit", e) for e in events] + [sse("state", self.board.snapshot())]
        for client in list(self.clients):
            if not client.offer(messages):
                self.clients.discard(client)
                self.dropped += 1

    def join(self) -> _Client:
        client = _Client()
        if self.closed:
            client.end()
        else:
            self.clients.add(client)
        return client

    def leave(self, client: _Client) -> None:
        self.clients.discard(client)

    def close(self) -> None:
        """End every stream (on the loop's thread): the server is stopping."""
        self.closed = True
        self._undo()
        for client in list(self.clients):
            client.end()
        self.clients.clear()


class Guard:
    """Read-only, token and Host checks around the whole application (plain ASGI, so the
    event stream is guarded like every other response)."""

    def __init__(self, app: ASGI, *, token: str | None, loopback_only: bool) -> None:
        self.app = app
        self.token = token.encode() if token else None
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _HEADERS
            await send(message)

        if scope["method"] not in ("GET", "HEAD"):
            await _plain(send_with_headers, 405, "the page is read-only", [(b"allow", b"GET, HEAD")])
            return
        if self.loopback_only and _host_name(headers.get("host", "")) not in LOOPBACK_NAMES:
            await _plain(send_with_headers, 421, "this page answers only to a loopback address "
                         "(open http://127.0.0.1:PORT/); to serve other hosts, start it with --web-host")
            return
        if self.token is not None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            offered, by_query = _offered(headers, query)
            if offered is None or not hmac.compare_digest(offered.encode(), self.token):
                await _plain(send_with_headers, 401, "a token is required: open the URL the station printed "
                             "(http://HOST:PORT/?token=...) or send `Authorization: Bearer TOKEN`",
                             [(b"www-authenticate", b'Bearer realm="fusebook"')])
                return
            if by_query and scope["path"] == "/":  # keep the token out of the address bar and history
                rest = urlencode({k: v for k, v in query.items() if k != "token"}, doseq=True)
                cookie = f"{COOKIE}={offered}; HttpOnly; SameSite=Strict; Path=/".encode()
                await _plain(send_with_headers, 303, "see /",
                             [(b"location", ("/?" + rest if rest else "/").encode()), (b"set-cookie", cookie)])
                return
        await self.app(scope, receive, send_with_headers)


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _offered(headers: dict[str, str], query: dict[str, list[str]]) -> tuple[str | None, bool]:
    """The token a request carries: Authorization: Bearer, the page's cookie, or ?token=."""
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip(), False
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value, False
    if query.get("token"):
        return query["token"][0], True
    return None, False


async def _plain(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


class LedgerSearch:
    """Ledger reads for the page's search, through the Ledger's public `list`; the ledger is
    opened on first use (a station without a ledger has no search)."""

    def __init__(self, open_ledger: Callable[[], Any] | None, *, ledger: Any = None) -> None:
        self._open = open_ledger
        self._ledger: Any = ledger
        self._owned = ledger is None  # a ledger it opened itself, it closes
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self._open is not None or self._ledger is not None

    def search(self, mac: str | None, index: int | None, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            if self._ledger is None:
                assert self._open is not None
                self._ledger = self._open()
            ledger = self._ledger
        return [record_summary(r) for r in ledger.list(limit=limit, chip_mac=mac or None, index=index)]

    def close(self) -> None:
        with self._lock:
            if self._ledger is not None and self._owned:
                self._ledger.close()
                self._ledger = None


def _static() -> StaticFiles:
    return StaticFiles(packages=[("fusebook.web", "static")])


def create_app(board: Board, hub: Hub, search: LedgerSearch, *, token: str | None = None,
               loopback_only: bool = True) -> Guard:
    """The page over `board`, with `search` behind /api/ledger, wrapped in the Guard."""
    from fusebook.errors import FusebookError

    static = _static()
    index_html = static.lookup_path("index.html")[0]

    async def page(request: Request) -> Response:
        return FileResponse(index_html, media_type="text/html; charset=utf-8")

    async def units(request: Request) -> Response:
        return JSONResponse({"units": board.snapshot()["units"]})

    async def totals(request: Request) -> Response:
        return JSONResponse(board.snapshot()["totals"])

    async def recent(request: Request) -> Response:
        return JSONResponse({"units": board.snapshot()["recent"]})

    async def state(request: Request) -> Response:
        return JSONResponse({**board.snapshot(), "ledger_search": search.available})

    async def events(request: Request) -> Response:
        client = hub.join()
        first = sse("state", {**board.snapshot(), "ledger_search": search.available})

        async def stream() -> Any:
            try:
                yield "retry: 2000\n\n" + first
                while True:
                    try:
                        message = await asyncio.wait_for(client.queue.get(), REFRESH_S)
                    except asyncio.TimeoutError:
                        message = sse("state", board.snapshot())
                    if message is None:
                        return
                    yield message
            finally:
                hub.leave(client)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})

    async def ledger(request: Request) -> Response:
        if not search.available:
            return JSONResponse({"error": "this station runs without a ledger (--no-ledger): nothing to search"},
                                status_code=404)
        q = request.query_params
        mac = (q.get("mac") or "").strip() or None
        try:
            index = int(q["index"]) if (q.get("index") or "").strip() else None
            limit = int(q.get("limit") or 50)
        except ValueError:
            return JSONResponse({"error": "index and limit are whole numbers"}, status_code=400)
        if (index is not None and index < 0) or not 1 <= limit <= SEARCH_LIMIT:
            return JSONResponse({"error": f"index is 0 or more; limit is 1 to {SEARCH_LIMIT}"}, status_code=400)
        if mac is not None and len(mac) > 64:
            return JSONResponse({"error": "a MAC is at most 64 characters"}, status_code=400)
        try:
            records = await run_in_threadpool(search.search, mac, index, limit)
        except FusebookError as e:
            return JSONResponse({"error": e.message, "hint": e.hint}, status_code=503)
        return JSONResponse({"records": records})

    app = Starlette(routes=[
        Route("/", page), Route("/api/units", units), Route("/api/totals", totals),
        Route("/api/recent", recent), Route("/api/state", state), Route("/api/events", events),
        Route("/api/ledger", ledger), Mount("/static", static, name="static"),
    ])
    return Guard(app, token=token, loopback_only=loopback_only)
