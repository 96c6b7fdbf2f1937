"""The station's event stream: one event per state change of a unit, for any number of listeners.

Each port's worker is a small state machine (waiting, connecting, planning, burning,
verifying, then ok, failed or stopped); every change is a `UnitEvent` published on an
`EventStream`. The terminal view, the `--events` JSON Lines file and a factory's MES or
dashboard are all subscribers of the same stream, so they never disagree.

An event carries what identifies the unit and how it went: never key material. Errors
are fusebook's own messages, which name blocks and fields, never their secret contents
(key data is a `Secret` wherever it travels). docs/station.md documents the fields and
schemas/station-event.schema.json is their JSON Schema.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, TextIO

#: A unit's states, in the order a unit goes through them; the last three end it.
State = Literal["waiting", "connecting", "planning", "burning", "verifying", "ok", "failed", "stopped"]
STATES: tuple[str, ...] = ("waiting", "connecting", "planning", "burning", "verifying", "ok", "failed",
                           "stopped")
FINAL_STATES = frozenset({"ok", "failed", "stopped"})
#: Version of the event format; a consumer checks it (schemas/station-event.schema.json).
EVENT_VERSION = 1


def utc_now() -> str:
    """ISO-8601 UTC with milliseconds: sorts as text, reads as a time."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class UnitEvent:
    """One state change of one unit on one port of one station."""

    seq: int  # per station, from 1, in publishing order
    time: str
    station: str  # host:pid of the station process
    port: str
    unit: int  # the unit's serial number on its port, from 1
    state: State
    chip: str | None = None
    factory_mac: str | None = None
    index: int | None = None
    elapsed_s: float = 0.0  # since the unit began
    durations: dict[str, float] = field(default_factory=dict)  # seconds spent in each earlier state
    exit_code: int | None = None  # the contract's exit class, once the unit ended
    outcome: str | None = None  # the ledger's word: ok, nothing-to-do, partial, aborted, failed, refused
    record_id: int | None = None  # the unit's ledger record, when there is one
    message: str | None = None  # one line for an operator
    error: str | None = None  # the error, when the unit failed or stopped
    hint: str | None = None  # what to do about it
    version: int = EVENT_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Listener = Callable[[UnitEvent], None]


class EventStream:
    """Publish and subscribe, from any thread; listeners hear every event in `seq` order.

    A listener that raises is dropped from the stream (and the error kept in `errors`),
    so a broken consumer cannot stop the workers.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._seq = 0
        self.errors: list[BaseException] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Hear every later event; returns the call that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, **fields: Any) -> UnitEvent:
        """Stamp (seq, time) and deliver one event to every listener."""
        with self._lock:
            self._seq += 1
            event = UnitEvent(seq=self._seq, time=utc_now(), **fields)
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception as e:  # noqa: BLE001 - a consumer's bug must not stop a burn
                    self.errors.append(e)
                    self._listeners.remove(listener)
        return event


class JsonLinesSink:
    """A listener writing each event as one JSON line (`--events FILE|-`), flushed at once."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, event: UnitEvent) -> None:
        self.stream.write(json.dumps(event.to_json(), sort_keys=True) + "\n")
        self.stream.flush()
