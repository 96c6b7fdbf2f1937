"""The page's server in this process, on a real socket: endpoints, the live stream, the token,
read-only, loopback Host names, and a browser that stops reading is dropped without ever
slowing the station's publishing."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fusebook.errors import InputError
from fusebook.ledger import Ledger
from fusebook.station.events import EventStream
from fusebook.web.board import StationBoard
from fusebook.web.server import WebServer, web_settings
from tests.ledger.units import unit

from .live import first_events, get, get_json, wait_for

PORTS = ["socket://127.0.0.1:1", "socket://127.0.0.1:2", "socket://127.0.0.1:3"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[EventStream, WebServer]]:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.finish(ledger.begin(**unit(7, "7c:df:a1:00:00:07")), "ok")
        ledger.finish(ledger.begin(**unit(8, "7c:df:a1:00:00:08")), "failed", error="BLOCK_KEY0: not verified")
    stream = EventStream()
    board = StationBoard("line", PORTS)
    stream.subscribe(board)
    with WebServer(board, web_settings("127.0.0.1:0", None, None), lambda: Ledger(tmp_path / "l.sqlite")) as server:
        yield stream, server


def test_the_json_endpoints_and_the_live_stream(served: tuple[EventStream, WebServer]) -> None:
    stream, server = served
    base = server.url
    assert base.startswith("http://127.0.0.1:") and server.port != 0
    status, headers, body = get(base)
    assert status == 200 and b"<title>fusebook station</title>" in body
    assert "default-src 'self'" in headers["content-security-policy"] and headers["cache-control"] == "no-store"
    assert get(base + "static/app.js")[0] == 200 and get(base + "static/../board.py")[0] == 404
    assert [t["port"] for t in get_json(base + "api/units")["units"]] == PORTS

    events: list[tuple[str, object]] = []
    reader = threading.Thread(target=lambda: events.extend(first_events(base + "api/events", 3)))
    reader.start()
    wait_for(lambda: server.hub.clients)
    stream.publish(station="h:1", port=PORTS[0], unit=1, state="ok", factory_mac="7c:df:a1:00:00:01",
                   index=1, exit_code=0, outcome="ok", elapsed_s=1.0)
    reader.join(10)
    kinds = [k for k, _ in events]
    assert kinds == ["state", "unit", "state"], kinds
    assert events[1][1]["state"] == "ok" and events[1][1]["seq"] == 1  # the raw event, as --events writes it
    assert events[2][1]["units"][0]["display"] == "ok" and events[2][1]["totals"]["ok"] == 1
    totals = get_json(base + "api/totals")
    assert (totals["ok"], totals["failed"], totals["yield"]) == (1, 0, 1.0)
    assert get_json(base + "api/recent")["units"][0]["factory_mac"] == "7c:df:a1:00:00:01"


def test_the_ledger_search_shows_what_ledger_list_shows(served: tuple[EventStream, WebServer]) -> None:
    _, server = served
    found = get_json(server.url + "api/ledger?mac=7C:DF:A1:00:00:08")["records"]
    assert [(r["index"], r["outcome"], r["error"]) for r in found] == [(8, "failed", "BLOCK_KEY0: not verified")]
    assert set(found[0]) == {"id", "started_at", "finished_at", "chip", "factory_mac", "recipe", "index",
                             "outcome", "exit_code", "error", "host"}  # no tokens, plans, fingerprints
    assert [r["factory_mac"] for r in get_json(server.url + "api/ledger?index=7")["records"]] == ["7c:df:a1:00:00:07"]
    assert len(get_json(server.url + "api/ledger")["records"]) == 2
    for bad in ("index=x", "index=-1", "limit=0", "limit=100000"):
        assert get(server.url + "api/ledger?" + bad)[0] == 400


def test_read_only_and_only_loopback_names_without_a_token(served: tuple[EventStream, WebServer]) -> None:
    _, server = served
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"POST /api/units HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 405")
    status, _, body = get(server.url + "api/units", {"Host": "attacker.example:8080"})
    assert status == 421 and b"loopback" in body
    assert get(server.url + "api/units", {"Host": f"localhost:{server.port}"})[0] == 200


def test_off_loopback_every_request_needs_the_token() -> None:
    settings = web_settings("127.0.0.1:0", "127.0.0.1", None)  # --web-host: a token is made
    assert settings.token and len(settings.token) >= 32 and settings.token_made and not settings.loopback_only
    board = StationBoard("line", PORTS)
    with WebServer(board, settings) as server:
        base, token = server.url, settings.token
        for path in ("", "api/units", "api/totals", "api/events", "api/ledger", "static/app.js"):
            status, headers, _ = get(base + path)
            assert status == 401 and headers["www-authenticate"].startswith("Bearer"), path
        assert get(base + "api/units", {"Authorization": "Bearer " + token[:-1] + "x"})[0] == 401
        assert get(base + "api/units", {"Authorization": f"Bearer {token}"})[0] == 200
        status, headers, _ = get(f"{base}?token={token}")  # the printed URL: a cookie, and the token leaves the URL
        assert status == 303 and headers["location"] == "/"
        cookie = headers["set-cookie"].split(";")[0]
        assert "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
        assert get(base + "api/totals", {"Cookie": cookie})[0] == 200
        assert get(base + "api/totals", {"Host": "far.example"})[0] == 401  # any Host, but never without the token
        assert get_json(base + "api/units", {"Cookie": cookie, "Host": "far.example"})["units"]
        assert get(base + "api/ledger", {"Cookie": cookie})[0] == 404  # this station has no ledger


def test_settings_refuse_what_would_expose_the_page() -> None:
    with pytest.raises(InputError, match="loopback only"):
        web_settings("0.0.0.0:8080", None, None)
    with pytest.raises(InputError, match="can be guessed"):
        web_settings("127.0.0.1:8080", "0.0.0.0", "short")
    with pytest.raises(InputError, match="not HOST:PORT"):
        web_settings("127.0.0.1:http", None, None)
    assert web_settings("[::1]:9000", None, None).host == "::1"
    given = web_settings("8081", "0.0.0.0", "x" * 20)
    assert (given.host, given.port, given.token, given.token_made) == ("0.0.0.0", 8081, "x" * 20, False)


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = WebServer(StationBoard("line", PORTS), web_settings(f"127.0.0.1:{port}", None, None))
        with pytest.raises(InputError, match="cannot serve the page"):
            server.start()


def test_a_browser_that_stops_reading_is_dropped_and_never_slows_publishing() -> None:
    stream, board = EventStream(), StationBoard("line", PORTS)
    stream.subscribe(board)
    with WebServer(board, web_settings("127.0.0.1:0", None, None)) as server:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", server.port))
        stalled.sendall(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # and never read again
        wait_for(lambda: server.hub.clients)
        slowest = 0.0
        big = "m" * 16384
        for n in range(1, 1501):
            t = time.perf_counter()
            stream.publish(station="h:1", port=PORTS[n % 3], unit=n, state="burning", message=big)
            slowest = max(slowest, time.perf_counter() - t)
            if n % 100 == 0:
                time.sleep(0.01)  # let the server's loop run
        wait_for(lambda: server.hub.dropped == 1, timeout=20)
        assert not server.hub.clients
        assert slowest < 0.25, slowest  # the worker's publish never waited for the browser
        assert get_json(server.url + "api/totals")["in_progress"] == 3  # the page still answers
        stalled.close()
