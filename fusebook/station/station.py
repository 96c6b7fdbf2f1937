"""A station: one worker thread per port, all burning at once, one event stream, one summary.

The wire waits, so threads are enough: each worker spends its time waiting for answers
from its chip, and one core serves many ports. Each worker opens its own ledger
connection (a SQLite connection belongs to its thread; a PostgreSQL one serialises its
calls), so units record concurrently and the ledger's transactions keep them apart.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fusebook import api
from fusebook.station.events import EventStream
from fusebook.station.worker import PortWorker, StationOptions, UnitResult

if TYPE_CHECKING:
    from fusebook.ledger.store import Ledger


def station_id() -> str:
    """host:pid: which station process an event or record came from."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class StationReport:
    """Every unit's result, and the totals an operator and a script look at."""

    units: list[UnitResult]
    wall_s: float
    stopped_by: str | None = None

    @property
    def ok(self) -> int:
        return sum(1 for u in self.units if u.state == "ok")

    @property
    def failed(self) -> int:
        return sum(1 for u in self.units if u.state == "failed")

    @property
    def stopped(self) -> int:
        """Units a stop ended early (partial or aborted): not failures, but not done either."""
        return sum(1 for u in self.units if u.state == "stopped")

    @property
    def units_per_hour(self) -> float:
        return self.ok * 3600 / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """0 when every unit is ok, else the worst class in the contract's order (2, 3, 4, 5, 130)."""
        return max((u.exit_code for u in self.units), default=0)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "failed": self.failed, "stopped": self.stopped, "wall_s": round(self.wall_s, 3),
            "units_per_hour": round(self.units_per_hour, 1), "exit_code": self.exit_code,
            "stopped_by": self.stopped_by,
            "units": [vars(u) for u in self.units],
        }


def validate(loaded: api.LoadedRecipe) -> None:
    """The recipe's checks for its chips (`fusebook validate`), once for the whole line.

    A recipe problem would otherwise fail every unit alike; found here, it is exit 2
    before any port is opened.
    """
    from fusebook.recipe.document import RecipeErrors
    from fusebook.recipe.static_checks import validate_recipe

    chips = [api.load_chip(c) for c in loaded.chips]
    if loaded.extension is not None and not getattr(loaded.recipe, "extend_efuse_table", None):
        chips = [api.extend_table(c, *loaded.extension) for c in chips]
    problems = validate_recipe(loaded.recipe, chips)
    if problems:
        raise RecipeErrors(problems)


class Station:
    """Workers over `ports`, sharing one recipe (loaded and validated once) and one event stream."""

    def __init__(
        self,
        loaded: api.LoadedRecipe,
        ports: Sequence[str],
        options: StationOptions,
        *,
        ledger_factory: Callable[[], Ledger] | None = None,
        events: EventStream | None = None,
    ) -> None:
        validate(loaded)
        self.loaded = loaded
        self.options = options
        self.events = events or EventStream()
        self.id = station_id()
        self._stopping = threading.Event()
        self.stop_reason: str | None = None
        self.started = time.monotonic()
        self.workers = [PortWorker(p, loaded, options, self.events, self.id, ledger_factory, self._stopping)
                        for p in ports]
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.started = time.monotonic()
        for n, w in enumerate(self.workers):
            t = threading.Thread(target=w.run, name=f"station-port-{n}", daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self, reason: str) -> int:
        """Ask every worker to stop (safe from a signal handler); returns how many units are burning."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stopping.set()
        for w in self.workers:
            w.stop(reason)
        return sum(1 for w in self.workers if w.status.state in ("burning", "verifying"))

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def wait(self, poll_s: float = 0.1) -> StationReport:
        """Until every worker is done; short joins, so the main thread keeps taking signals."""
        for t in self._threads:
            while t.is_alive():
                t.join(poll_s)
        return self.report()

    def report(self) -> StationReport:
        units = [u for w in self.workers for u in w.results]
        return StationReport(units, time.monotonic() - self.started, self.stop_reason)

    def run(self) -> StationReport:
        self.start()
        return self.wait()


__all__ = ["Station", "StationOptions", "StationReport", "station_id"]
