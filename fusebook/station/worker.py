"""One port's worker: a plain state machine that burns one unit after another.

Every unit goes the way `fusebook apply` goes, through the same api calls: connect,
identify (chip, factory MAC), index, plan, burn, verify, `ensure`, ledger record. The
worker only adds what a line needs around that: it never prompts (the station runs with
`--yes`), it turns every end of a unit into a result instead of an exit, and between
units it waits for the next board on its port.

The next board is the first one that answers with another factory MAC than the unit
just finished, or any board once the port has been seen empty (a board taken out and put
back: a unit that failed can be resumed that way).

Stopping follows apply's rules. `Station.stop` sets the worker's StopRequest: before the
plan is confirmed the unit ends at once (nothing was sent, exit 130); during the burn
the program command in flight, its wait and read-back finish and the burn stops at the
next block boundary (partial, exit 4), and either way the ledger records it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fusebook import api
from fusebook.errors import Aborted, FusebookError, LinkError, Stopped
from fusebook.station.events import FINAL_STATES, EventStream

if TYPE_CHECKING:
    from fusebook.ledger.store import Ledger

#: Seconds between two looks for the next board on a port.
DEFAULT_POLL_S = 1.0


@dataclass(frozen=True)
class StationOptions:
    """What every worker of a station shares: connection, index, and the line's rhythm."""

    chip: str | None = None  # None: detect
    baud: int = 115200
    before: str = "default-reset"
    after: str = "hard-reset"
    timeout: float | None = None
    index: int | str | None = None  # api.AUTO_INDEX, or None for recipes without per-unit values
    indices: str | None = None  # the range for AUTO_INDEX (default: the recipe's `indices:`)
    once: bool = False
    poll_s: float = DEFAULT_POLL_S


@dataclass
class UnitResult:
    """How one unit ended, for the summary."""

    port: str
    unit: int
    state: str
    exit_code: int
    chip: str | None = None
    factory_mac: str | None = None
    index: int | None = None
    outcome: str | None = None
    error: str | None = None
    hint: str | None = None
    elapsed_s: float = 0.0


@dataclass
class UnitStatus:
    """The unit on a port now, as the live view shows it (read from the view's thread)."""

    unit: int
    state: str = "waiting"
    chip: str | None = None
    factory_mac: str | None = None
    index: int | None = None
    message: str = ""
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    @property
    def elapsed_s(self) -> float:
        return (self.ended or time.monotonic()) - self.started


def headline(text: str) -> str:
    return text.split("\n", 1)[0]


class PortWorker:
    """Burns units on one port until told to stop (or, with `once`, after one unit)."""

    def __init__(
        self,
        port: str,
        loaded: api.LoadedRecipe,
        options: StationOptions,
        events: EventStream,
        station_id: str,
        ledger_factory: Callable[[], Ledger] | None,
        stopping: threading.Event,
    ) -> None:
        self.port = port
        self.loaded = loaded
        self.options = options
        self.events = events
        self.station_id = station_id
        self.ledger_factory = ledger_factory
        self.stopping = stopping
        self.results: list[UnitResult] = []
        self.status = UnitStatus(1)
        self.stop_reason: str | None = None
        self._stop_request: api.StopRequest | None = None
        self._durations: dict[str, float] = {}
        self._entered = False
        self._state_since = time.monotonic()
        self._lock = threading.Lock()

    # -- stopping ----------------------------------------------------------------------
    def stop(self, reason: str) -> None:
        """Ask the worker to stop (from a signal handler or another thread): never waits."""
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = reason
            request = self._stop_request
        if request is not None:
            request.request(reason)

    # -- states ------------------------------------------------------------------------
    def _new_unit(self, number: int) -> None:
        self.status = UnitStatus(number)
        self._entered = False
        self._durations = {}
        self._state_since = time.monotonic()

    def _enter(self, state: str, message: str = "", **fields: Any) -> None:
        """Move the unit to `state` and publish the change."""
        s = self.status
        now = time.monotonic()
        if self._entered:  # the time in the state the unit leaves (a new unit has none yet)
            self._durations[s.state] = round(self._durations.get(s.state, 0.0) + now - self._state_since, 4)
        self._entered = True
        self._state_since = now
        s.state = state
        s.message = message
        for key in ("chip", "factory_mac", "index"):
            if fields.get(key) is not None:
                setattr(s, key, fields[key])
        if state in FINAL_STATES:
            s.ended = now
        self.events.publish(
            station=self.station_id, port=self.port, unit=s.unit, state=state, chip=s.chip,
            factory_mac=s.factory_mac, index=s.index, elapsed_s=round(s.elapsed_s, 4),
            durations=dict(self._durations), message=message or None,
            exit_code=fields.get("exit_code"), outcome=fields.get("outcome"),
            record_id=fields.get("record_id"), error=fields.get("error"), hint=fields.get("hint"),
        )

    def _end(self, state: str, exit_code: int, *, outcome: str | None, message: str,
             error: FusebookError | str | None = None, record_id: int | None = None,
             index: int | None = None) -> None:
        hint = error.hint if isinstance(error, FusebookError) else None
        text = error.message if isinstance(error, FusebookError) else error
        self._enter(state, message, exit_code=exit_code, outcome=outcome, error=text, hint=hint,
                    record_id=record_id, index=index)
        s = self.status
        self.results.append(UnitResult(self.port, s.unit, state, exit_code, s.chip, s.factory_mac, s.index,
                                       outcome, text, hint, round(s.elapsed_s, 3)))

    # -- the loop ----------------------------------------------------------------------
    def run(self) -> None:
        """The thread's body: open this worker's own ledger, then one unit after another."""
        ledger = None
        try:
            if self.ledger_factory is not None:
                try:
                    ledger = self.ledger_factory()
                except FusebookError as e:
                    self._end("failed", e.exit_code, outcome=None, message=headline(e.message),
                              error=e)
                    return
            self._units(ledger)
        finally:
            if ledger is not None:
                ledger.close()

    def _units(self, ledger: Ledger | None) -> None:
        last_mac: str | None = None
        number = 0
        while self.stop_reason is None:
            number += 1
            self._new_unit(number)
            got = self._next_board(last_mac, first=number == 1)
            if got is None:
                return
            session, mac = got
            self._burn(session, mac, ledger)
            last_mac = mac
            if self.options.once:
                return

    def _connect(self) -> api.Session:
        o = self.options
        return api.connect(api.ConnectOptions(port=self.port, chip=o.chip, baud=o.baud, before=o.before,
                                              after=o.after, timeout=o.timeout))

    def _next_board(self, last_mac: str | None, first: bool) -> tuple[api.Session, str] | None:
        """Connect to the next board and read its factory MAC; None when stopped (or, once, failed)."""
        empty_seen = first
        announced = ""
        if first:
            self._enter("connecting", f"connecting to {self.port}")
        else:
            self._enter("waiting", f"remove {last_mac or 'the board'}, insert the next one")
        while True:
            if self.stop_reason is not None:
                if first and self.options.once:
                    self._end("stopped", Aborted.exit_code, outcome="aborted",
                              message=f"stopped by {self.stop_reason}: nothing was sent to the chip")
                return None
            try:
                session = self._connect()
            except FusebookError as e:
                if self.options.once:
                    self._end("failed", e.exit_code, outcome=None, message=headline(e.message),
                              error=e)
                    return None
                empty_seen = empty_seen or isinstance(e, LinkError)
                if headline(e.message) != announced:
                    announced = headline(e.message)
                    self._enter("waiting", f"no unit: {announced}")
                self._pause()
                continue
            try:
                mac = session.read_factory_mac()
            except FusebookError as e:
                session.close()
                if self.options.once:
                    self._end("failed", e.exit_code, outcome=None, message=headline(e.message),
                              error=e)
                    return None
                self._pause()
                continue
            if self.stop_reason is not None:  # stopped while it connected: the unit never began
                session.close()
                continue
            if mac == last_mac and not empty_seen:
                session.close()
                self._pause()
                continue
            return session, mac

    def _pause(self) -> None:
        deadline = time.monotonic() + self.options.poll_s
        while self.stop_reason is None and time.monotonic() < deadline:
            time.sleep(min(0.05, self.options.poll_s))

    def _burn(self, session: api.Session, mac: str, ledger: Ledger | None) -> None:
        """One unit, from its identified board to its result."""
        chip = session.chip
        stop = api.StopRequest()
        with self._lock:
            self._stop_request = stop
            if self.stop_reason is not None:
                stop.request(self.stop_reason)
        self._enter("planning", f"{chip.description} identified; planning", chip=chip.name, factory_mac=mac)

        def confirm(plan: Any) -> bool:
            if stop.requested:
                raise Aborted(f"stopped by {stop.reason} before the burn: nothing was sent to the chip")
            self._enter("burning", f"{len(plan.writes)} block write(s)")
            return True

        def on_event(event: api.CommitEvent) -> None:
            if event.kind == "verified" and event.write is not None:
                self.status.message = f"{event.write.block_name} verified ({event.index + 1}/{event.total})"
            elif event.kind == "done":
                self._enter("verifying", "reading back, checking ensure")

        def on_index(index: int | None) -> None:
            self.status.index = index

        try:
            with session:
                outcome = api.apply(self.loaded, session, self.options.index, confirm=confirm,
                                    ledger=ledger, stop=stop, on_event=on_event,
                                    indices=self.options.indices, on_index=on_index)
        except Stopped as e:
            self._end("stopped", e.exit_code, outcome="partial", message=headline(e.message), error=e)
        except Aborted as e:
            self._end("stopped", e.exit_code, outcome="aborted", message=headline(e.message), error=e)
        except FusebookError as e:
            refused = e.exit_code in (2, 3)  # nothing was sent: the ledger calls it a refusal
            self._end("failed", e.exit_code, outcome="refused" if refused else "failed",
                      message=headline(e.message), error=e, index=getattr(e, "index", None))
        except Exception as e:  # noqa: BLE001 - one unit's bug must not stop the line
            self._end("failed", 1, outcome=None, message=f"internal error: {type(e).__name__}",
                      error=f"internal error: {type(e).__name__}: {e}")
        else:
            if outcome.burned and outcome.result is not None:
                text = (f"burned and verified {len(outcome.result.verified)} block write(s) "
                        f"({outcome.result.programs} programs)")
                word = "ok"
            else:
                text, word = "nothing to burn: the chip already matches the recipe", "nothing-to-do"
            self._end("ok", 0, outcome=word, message=text, record_id=outcome.record_id, index=outcome.index)
        finally:
            with self._lock:
                self._stop_request = None
