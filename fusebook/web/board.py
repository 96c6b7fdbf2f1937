"""What the operator's page shows: tiles, totals and the last units, as plain JSON values.

Two sources feed the same page. A running station's `StationBoard` listens to its event
stream (one tile per port); `LedgerBoard` reads a ledger (one tile per unit seen lately
on each host), for a supervisor watching several stations on one PostgreSQL ledger. Both
give the same `snapshot()`, so the page and the JSON endpoints never depend on where the
data came from, and neither board knows anything about the web.

Nothing here can carry key material: events carry none, and ledger records are reduced to
the fields `fusebook ledger list` and `show` print, without tokens, plans or fingerprints.

A board tells its listeners (the web server's loop) that it changed through `on_change`
callbacks, which must not block: the station's workers call them while publishing.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from fusebook.station.events import FINAL_STATES, UnitEvent

#: How many ended units the page lists, newest first.
RECENT = 20
#: How many raw events a board keeps for the event stream (a client that falls further behind
#: gets a fresh snapshot instead).
EVENT_BUFFER = 1000
#: A ledger board's tiles: the units seen in this many newest records, at most this many tiles.
LEDGER_WINDOW = 200
LEDGER_TILES = 24

Wake = Callable[[], None]

#: The ledger's outcomes as the states a tile shows.
_OUTCOME_STATE = {
    "in-progress": "burning", "ok": "ok", "nothing-to-do": "ok", "failed": "failed", "refused": "failed",
    "interrupted": "failed", "partial": "stopped", "aborted": "stopped",
}
#: What to do about a unit the ledger shows ended badly (the ledger keeps the error, not its hint).
_OUTCOME_HINT = {
    "failed": "set the unit aside and read it (`fusebook summary`) before trying again",
    "refused": "nothing was burned; read the reason, fix the recipe or set the unit aside",
    "interrupted": "the station that burned it stopped without a word: read the chip to see what was burned",
    "partial": "put the unit back in a station: it resumes where the burn stopped",
    "aborted": "nothing was sent to the chip; burn it again",
}


def _utc(iso: str) -> datetime:
    return datetime.strptime(iso.rstrip("Z")[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def headline(text: str | None) -> str | None:
    return None if text is None else text.split("\n", 1)[0]


def totals(ok: int, failed: int, stopped: int, in_progress: int, per_hour: float,
           since: str | None) -> dict[str, Any]:
    """The totals bar, in the station's words: a stopped unit (partial, aborted) is not a failure but
    not done either, so yield is ok over ok and failed (None before the first of them)."""
    judged = ok + failed
    return {"ok": ok, "failed": failed, "stopped": stopped, "in_progress": in_progress,
            "units_per_hour": round(per_hour, 1), "yield": round(ok / judged, 4) if judged else None,
            "since": since}


def record_summary(record: Any) -> dict[str, Any]:
    """A ledger record as the page and /api/ledger show it: the columns of `ledger list`, with
    its end (exit code, error) and host from `ledger show`; never tokens, plans or fingerprints."""
    return {
        "id": record.id, "started_at": record.started_at, "finished_at": record.finished_at,
        "chip": record.chip_type, "factory_mac": record.factory_mac, "recipe": record.recipe_name,
        "index": record.index, "outcome": record.outcome, "exit_code": record.exit_code,
        "error": record.error, "host": record.host,
    }


class Board:
    """What both boards share: change listeners and a version that counts changes."""

    kind = "board"

    def __init__(self, title: str) -> None:
        self.title = title
        self._lock = threading.Lock()
        self._wakes: list[Wake] = []
        self.version = 0

    def on_change(self, wake: Wake) -> Callable[[], None]:
        """Call `wake()` (from any thread, never blocking) after each change; returns the undo."""
        with self._lock:
            self._wakes.append(wake)

        def remove() -> None:
            with self._lock:
                if wake in self._wakes:
                    self._wakes.remove(wake)

        return remove

    def _changed(self) -> None:
        with self._lock:
            self.version += 1
            wakes = list(self._wakes)
        for wake in wakes:
            wake()

    def events_after(self, seq: int) -> list[dict[str, Any]]:
        """Raw station events after `seq` (a ledger has none)."""
        return []

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError


class StationBoard(Board):
    """A running station's page, fed by its EventStream (subscribe the board itself).

    A tile is the unit on its port now. While a port waits for its next board, the tile
    keeps showing how the last unit ended (`last`), so a failure stays red, with its reason
    and what to do, until the operator has put another board in.
    """

    kind = "station"

    def __init__(self, title: str, ports: Iterable[str]) -> None:
        super().__init__(title)
        self._started = time.monotonic()
        self._since = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        self._tiles: dict[str, dict[str, Any]] = {}
        self._seen_at: dict[str, float] = {}
        for port in ports:
            self._tiles[port] = self._tile(port)
            self._seen_at[port] = self._started
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self._events: deque[dict[str, Any]] = deque(maxlen=EVENT_BUFFER)
        self._ended = {"ok": 0, "failed": 0, "stopped": 0}

    @staticmethod
    def _tile(port: str) -> dict[str, Any]:
        return {"key": port, "title": port, "port": port, "unit": 0, "state": "waiting", "display": "waiting",
                "chip": None, "factory_mac": None, "index": None, "elapsed_s": 0.0, "live": True,
                "message": "no unit yet", "error": None, "hint": None, "exit_code": None, "outcome": None,
                "record_id": None, "time": None, "last": None}

    def __call__(self, event: UnitEvent) -> None:
        """The EventStream listener: O(1) under a short lock, then a non-blocking wake."""
        now = time.monotonic()
        data = event.to_json()
        ended = event.state in FINAL_STATES
        with self._lock:
            old = self._tiles.get(event.port) or self._tile(event.port)
            last = old["last"]
            if old["unit"] != event.unit and old["state"] in FINAL_STATES:
                last = {k: old[k] for k in ("unit", "state", "chip", "factory_mac", "index", "elapsed_s",
                                             "message", "error", "hint", "exit_code", "outcome", "time")}
            if event.state not in ("waiting", "connecting"):
                last = None  # a new unit is on the port: the last one's end is history
            tile = {
                "key": event.port, "title": event.port, "port": event.port, "unit": event.unit,
                "state": event.state, "chip": event.chip, "factory_mac": event.factory_mac,
                "index": event.index, "elapsed_s": event.elapsed_s, "live": not ended,
                "message": event.message, "error": event.error, "hint": event.hint,
                "exit_code": event.exit_code, "outcome": event.outcome, "record_id": event.record_id,
                "time": event.time, "last": last,
            }
            tile["display"] = last["state"] if last is not None else event.state
            self._tiles[event.port] = tile
            self._seen_at[event.port] = now
            self._events.append(data)
            if ended:
                self._ended[event.state] += 1
                self._recent.appendleft({
                    "time": event.time, "port": event.port, "unit": event.unit, "state": event.state,
                    "chip": event.chip, "factory_mac": event.factory_mac, "index": event.index,
                    "outcome": event.outcome, "exit_code": event.exit_code, "elapsed_s": event.elapsed_s,
                    "error": headline(event.error), "record_id": event.record_id,
                })
        self._changed()

    def events_after(self, seq: int) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._events if e["seq"] > seq]

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            units = []
            for port, tile in self._tiles.items():
                t = dict(tile)
                if t["live"]:  # the time in the unit so far, on the server's clock
                    t["elapsed_s"] = round(t["elapsed_s"] + now - self._seen_at[port], 3)
                units.append(t)
            wall = now - self._started
            in_progress = sum(1 for t in units if t["state"] in ("planning", "burning", "verifying"))
            return {
                "source": self.kind, "title": self.title, "version": self.version,
                "units": units, "recent": list(self._recent),
                "totals": totals(self._ended["ok"], self._ended["failed"], self._ended["stopped"], in_progress,
                                 self._ended["ok"] * 3600 / wall if wall > 0 else 0.0, self._since),
            }


class LedgerBoard(Board):
    """A ledger's page: tiles from its newest records, one per unit (factory MAC) and host.

    `refresh()` reads the ledger through the Ledger's public methods only (`list`,
    `outcome_counts`), so an SQLite file and a PostgreSQL database read alike; `start()`
    refreshes every `poll_s` seconds on a thread of its own.
    """

    kind = "ledger"

    def __init__(self, title: str, ledger: Any, poll_s: float = 2.0) -> None:
        super().__init__(title)
        self.ledger = ledger
        self.poll_s = poll_s
        self._state: dict[str, Any] = {"units": [], "recent": [], "totals": totals(0, 0, 0, 0, 0.0, None)}
        self._key: Any = None
        self._read_at = time.monotonic()
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> bool:
        """Read the ledger once; True when what the page shows has changed."""
        from fusebook.errors import FusebookError

        try:
            records = self.ledger.list(limit=LEDGER_WINDOW)
            counts = self.ledger.outcome_counts()
            hour_ago = _iso(datetime.now(timezone.utc) - timedelta(hours=1))
            last_hour = self.ledger.outcome_counts(since=hour_ago)
        except FusebookError as e:  # the ledger's server went away: say so, keep the last view
            changed = self.error != e.message
            self.error = e.message
            if changed:
                self._changed()
            return changed
        key = ([(r.id, r.outcome) for r in records], sorted(counts.items()), sorted(last_hour.items()))
        now = datetime.now(timezone.utc)
        tiles: dict[tuple[str, str], dict[str, Any]] = {}
        for r in records:  # newest first: the first record of a unit on a host is its tile
            if (r.host, r.factory_mac) not in tiles and len(tiles) < LEDGER_TILES:
                tiles[(r.host, r.factory_mac)] = self._tile(r, now)
        units = [tiles[k] for k in sorted(tiles, key=lambda k: (k[0], -tiles[k]["record_id"]))]
        recent = [{
            "time": r.finished_at, "port": r.host, "unit": None, "state": _OUTCOME_STATE.get(r.outcome, "failed"),
            "chip": r.chip_type, "factory_mac": r.factory_mac, "index": r.index, "outcome": r.outcome,
            "exit_code": r.exit_code, "elapsed_s": self._elapsed(r, now), "error": headline(r.error),
            "record_id": r.id,
        } for r in records if r.finished_at is not None][:RECENT]
        good = counts.get("ok", 0) + counts.get("nothing-to-do", 0)
        running = counts.get("in-progress", 0)
        stopped = counts.get("partial", 0) + counts.get("aborted", 0)
        bad = sum(counts.values()) - good - running - stopped
        per_hour = last_hour.get("ok", 0) + last_hour.get("nothing-to-do", 0)
        first = records[-1].started_at if records else None
        with self._lock:
            self._state = {"units": units, "recent": recent,
                           "totals": totals(good, bad, stopped, running, float(per_hour), first)}
            self._read_at = time.monotonic()
            changed = key != self._key or self.error is not None
            self._key = key
            self.error = None
        if changed:
            self._changed()
        return changed

    @staticmethod
    def _elapsed(r: Any, now: datetime) -> float:
        end = _utc(r.finished_at) if r.finished_at else now
        return round(max(0.0, (end - _utc(r.started_at)).total_seconds()), 3)

    def _tile(self, r: Any, now: datetime) -> dict[str, Any]:
        state = _OUTCOME_STATE.get(r.outcome, "failed")
        live = r.outcome == "in-progress"
        message = (f"{r.recipe_name}: burning (record {r.id})" if live
                   else f"{r.recipe_name}: {r.outcome} (record {r.id})")
        return {
            "key": f"{r.host} {r.factory_mac}", "title": r.host, "port": None, "unit": None, "state": state,
            "display": state, "chip": r.chip_type, "factory_mac": r.factory_mac, "index": r.index,
            "elapsed_s": self._elapsed(r, now), "live": live, "message": message,
            "error": r.error if state != "ok" else None,
            "hint": _OUTCOME_HINT.get(r.outcome) if state != "ok" else None,
            "exit_code": r.exit_code, "outcome": r.outcome, "record_id": r.id, "time": r.started_at,
            "last": None,
        }

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            units = []
            for tile in self._state["units"]:
                t = dict(tile)
                if t["live"]:
                    t["elapsed_s"] = round(t["elapsed_s"] + now - self._read_at, 3)
                units.append(t)
            return {"source": self.kind, "title": self.title, "version": self.version, "units": units,
                    "recent": list(self._state["recent"]), "totals": dict(self._state["totals"]),
                    "error": self.error}

    # -- polling ---------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._poll, name="dashboard-ledger", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.refresh()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.poll_s + 5)
