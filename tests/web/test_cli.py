"""`station --web` and `fusebook dashboard` as an operator runs them: real processes, a virtual
fleet, real ledgers, plain HTTP; bad options refused before any port is touched."""

from __future__ import annotations

import json
import secrets
import socket
from pathlib import Path

import pytest

from fusebook.ledger import Ledger
from fusebook.virtual.fleet import VirtualFleet
from tests.e2e.conftest import fusebook
from tests.ledger.units import unit

from .live import RECIPE, dashboard, first_events, fleet, get, get_json, station, wait_for


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    p = tmp_path / "line.yaml"
    p.write_text(RECIPE)
    return p


def test_bad_page_options_are_invalid_input_and_touch_no_port(recipe: Path, tmp_path: Path) -> None:
    from fusebook.chips.loader import load_chip

    with socket.socket() as taken, VirtualFleet(load_chip("esp32c3"), 1) as one:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        url, ledger = one.urls[0], tmp_path / "l.sqlite"
        runs = [
            fusebook("station", recipe, "--yes", "--ledger", ledger, "--port", url, "--web", "0.0.0.0:8080"),
            fusebook("station", recipe, "--yes", "--ledger", ledger, "--port", url, "--web", "127.0.0.1:0",
                     "--web-host", "0.0.0.0", "--web-token", "short"),
            fusebook("station", recipe, "--yes", "--ledger", ledger, "--port", url, "--web-token", "x" * 20),
            fusebook("station", recipe, "--yes", "--ledger", ledger, "--port", url,
                     "--web", f"127.0.0.1:{taken.getsockname()[1]}"),
            fusebook("dashboard", "--ledger", tmp_path / "missing.sqlite", "--web", "127.0.0.1:0"),
        ]
        connections = one.ports[0].server.connections
    for r in runs:
        assert r.code == 2 and "Traceback" not in r.err, r.err
    assert "--web-host 0.0.0.0" in runs[0].err and "can be guessed" in runs[1].err
    assert "--web-token goes with --web" in runs[2].err and "cannot serve the page" in runs[3].err
    assert "no ledger here" in runs[4].err
    assert connections == 0 and not ledger.exists()


def test_a_station_page_shows_no_key_material(ledger_target: str, tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    (tmp_path / "fe.bin").write_bytes(key)
    recipe = tmp_path / "key.yaml"
    recipe.write_text(
        "fusebook: 1\nname: keyed\nchip: esp32c3\ninputs:\n  fe: {file: fe.bin, format: binary, secret: true}\n"
        "steps:\n  - burn_key: {block: BLOCK_KEY0, purpose: XTS_AES_128_KEY, data: \"{{ inputs.fe | hex }}\"}\n"
    )
    with fleet(2, latency=0) as urls, station(recipe, ledger_target, urls) as (_, page):
        wait_for(lambda: get_json(page + "api/totals")["ok"] == 2)
        mac = get_json(page + "api/units")["units"][0]["last"]["factory_mac"]
        texts = [get(page + p)[2].decode() for p in ("", "api/units", "api/totals", "api/recent", "api/state",
                                                      "api/ledger", f"api/ledger?mac={mac}")]
        texts.append(json.dumps(first_events(page + "api/events", 1)))
    found = json.loads(texts[-2])["records"]
    assert [r["factory_mac"] for r in found] == [mac] and found[0]["outcome"] == "ok"
    text = "\n".join(texts)
    assert "token" not in text.replace("ledger_search", "")  # neither the ledger's tokens nor a web token
    for form in (key, key[::-1]):
        for shown in (form.hex(), form.hex().upper(), form[:8].hex()):
            assert shown not in text


def test_the_dashboard_over_a_ledger(ledger_target: str, tmp_path: Path) -> None:
    with Ledger(ledger_target) as ledger:
        ledger.finish(ledger.begin(**unit(1, "7c:df:a1:00:00:01")), "ok")
        ledger.finish(ledger.begin(**unit(2, "7c:df:a1:00:00:02")), "failed", error="BLOCK_KEY0: not verified")
        with dashboard(ledger_target) as (_, page):
            first = get_json(page + "api/totals")
            assert (first["ok"], first["failed"], first["yield"]) == (1, 1, 0.5)
            ledger.begin(**unit(3, "7c:df:a1:00:00:03"))  # another station begins a unit
            wait_for(lambda: get_json(page + "api/totals")["in_progress"] == 1, timeout=10)
            tiles = {t["factory_mac"]: t for t in get_json(page + "api/units")["units"]}
            found = get_json(page + "api/ledger?index=2")["records"]
            assert get(page + "api/units", {"Host": "elsewhere.example"})[0] == 421
    assert tiles["7c:df:a1:00:00:03"]["display"] == "burning"
    assert tiles["7c:df:a1:00:00:02"]["display"] == "failed" and tiles["7c:df:a1:00:00:02"]["error"]
    assert [(r["factory_mac"], r["outcome"]) for r in found] == [("7c:df:a1:00:00:02", "failed")]
