"""The operator's page in a real browser (headless chromium) against real processes: a station
burning a virtual fleet with one faulty chip, and a dashboard over a ledger served off loopback.

Screenshots go to test-artifacts/ (gitignored). FUSEBOOK_DOCS_SCREENSHOT=1 also writes the
station's to docs/img/station-dashboard.png, the picture in docs/station.md.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fusebook.ledger import Ledger
from tests.ledger.units import unit

from . import browser as chromium
from .live import RECIPE, dashboard, faulty_chip, fleet, get_json, station

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img" / "station-dashboard.png"

#: Every change of a tile's state, as the page makes it, kept in window.seen[key]; every
#: number the "ok" total showed, in window.oks.
RECORD_STATES = """
window.seen = {};
window.oks = [];
new MutationObserver((changes) => {
  for (const c of changes) {
    const el = c.target;
    if (el.id === "t-ok" && window.oks[window.oks.length - 1] !== Number(el.textContent)) {
      window.oks.push(Number(el.textContent));
    }
    if (el.classList && el.classList.contains("tile") && el.dataset.state) {
      const list = (window.seen[el.dataset.key] = window.seen[el.dataset.key] || []);
      if (list[list.length - 1] !== el.dataset.state) list.push(el.dataset.state);
    }
  }
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"]});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the module (skipped, saying how to enable it, where it is missing)."""
    reason = chromium.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium.CHROMIUM), args=chromium.ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    chromium.ARTIFACTS.mkdir(exist_ok=True)
    path = chromium.ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_tiles_change_live_a_failed_unit_turns_red_with_its_reason_and_the_ledger_finds_it(
        page: Any, tmp_path: Path) -> None:
    recipe = tmp_path / "line.yaml"
    recipe.write_text(RECIPE)
    with fleet(3, latency=5, swap_after=1) as good, faulty_chip() as bad, \
            station(recipe, tmp_path / "l.sqlite", [*good, bad]) as (_, url):
        page.add_init_script(RECORD_STATES)
        page.goto(url)
        page.wait_for_function(  # every good port seen working, then ok; the faulty one failed
            """([bad, good]) => {
                 const tile = document.querySelector(`.tile[data-key="${bad}"]`);
                 const live = good.every((port) => {
                   const states = window.seen[port] || [];
                   const ok = states.lastIndexOf("ok");
                   return ok > 0 && states.slice(0, ok).some((s) => ["planning", "burning", "verifying"].includes(s));
                 });
                 return live && tile && tile.dataset.state === "failed";
               }""", arg=[bad, good], timeout=30000)
        seen, oks = page.evaluate("[window.seen, window.oks]")
        tile = page.locator(f'.tile[data-key="{bad}"]')
        reason, todo = tile.locator(".error").inner_text(), tile.locator(".hint").inner_text()
        colour = tile.locator(".state").evaluate("el => getComputedStyle(el).backgroundColor")
        word = tile.locator(".word").inner_text()
        bad_mac = tile.locator(".mac").inner_text()
        failed_total = page.locator("#t-failed").inner_text()
        assert tile.locator(".todo").is_visible() and tile.locator(".reason").is_visible()
        api = get_json(url + "api/totals")

        page.fill("#q-mac", bad_mac)
        page.click("#search button")
        page.wait_for_selector("#found tbody tr")
        rows = page.locator("#found tbody tr").all_inner_texts()
        screenshot(page, "station-page.png")
        if os.environ.get("FUSEBOOK_DOCS_SCREENSHOT"):
            DOCS_IMG.parent.mkdir(exist_ok=True)
            shutil.copyfile(chromium.ARTIFACTS / "station-page.png", DOCS_IMG)
    for port in good:  # each port went through its states while the page watched
        states = seen.get(port, [])
        assert "ok" in states and {"planning", "burning", "verifying"} & set(states), (port, states)
    assert len(oks) >= 2 and oks == sorted(oks), oks  # the totals grew while the page watched
    assert word == "FAILED" and colour == "rgb(211, 47, 47)"
    assert "BLOCK_USR_DATA" in reason and "programs" in reason and todo
    assert failed_total == "1" and api["failed"] == 1 and api["ok"] >= 3
    assert len(rows) == 1 and bad_mac in rows[0] and "failed" in rows[0]


def test_off_loopback_the_page_needs_its_token(page: Any, tmp_path: Path) -> None:
    ledger_path = tmp_path / "l.sqlite"
    with Ledger(ledger_path) as ledger:
        ledger.finish(ledger.begin(**unit(1, "7c:df:a1:00:00:01")), "ok")
        ledger.finish(ledger.begin(**unit(2, "7c:df:a1:00:00:02")), "refused", error="already burned as index 2")
    with dashboard(str(ledger_path), "--web-host", "127.0.0.1") as (_, url):
        base, token = url.split("?token=")
        refused = page.goto(base)
        assert refused is not None and refused.status == 401
        assert "a token is required" in page.inner_text("body")
        assert page.goto(base + "?token=" + "x" * len(token)).status == 401
        page.goto(url)
        assert page.url == base  # the token went into a cookie, out of the address bar
        page.wait_for_selector('#link[data-link="live"]')
        page.wait_for_selector('.tile[data-state="failed"]')
        assert page.locator(".tile").count() == 2 and page.locator("#t-yield").inner_text() == "50.0 %"
        assert "already burned" in page.locator('.tile[data-state="failed"] .error').inner_text()
        screenshot(page, "dashboard-page.png")
