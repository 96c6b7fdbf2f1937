"""What an operator sees of a station: a live table on a terminal, log lines elsewhere, a summary.

Both views render the station's event stream and its workers' current status; neither
knows how a unit is burned. The live table is drawn by `rich`, which handles terminal
sizes, redraws and colour; when output is not a terminal, every event is one plain line.
"""

from __future__ import annotations

import threading
from typing import Any, TextIO

from fusebook import api

#: How the states read in the table (FAILED shouts: an operator must act).
_LABELS = {"failed": "FAILED", "stopped": "STOPPED"}
_STYLES = {"ok": "bold green", "failed": "bold red", "stopped": "bold yellow", "burning": "magenta",
           "verifying": "cyan", "planning": "blue", "connecting": "blue", "waiting": "dim"}


def label(state: str) -> str:
    return _LABELS.get(state, state)


def _clock(iso: str) -> str:
    return iso[11:19]


def event_line(e: api.UnitEvent) -> str:
    """One event as one log line: time, port, unit, state, identity, message."""
    parts = [_clock(e.time), e.port, f"#{e.unit}", label(e.state)]
    if e.chip:
        parts.append(e.chip)
    if e.factory_mac:
        parts.append(e.factory_mac)
    if e.index is not None:
        parts.append(f"index {e.index}")
    if e.state in ("ok", "failed", "stopped"):
        parts.append(f"{e.elapsed_s:.2f}s")
    if e.exit_code:
        parts.append(f"exit {e.exit_code}")
    line = " ".join(parts)
    if e.message:
        line += f": {e.message}"
    if e.hint and e.state != "ok":
        line += f" (hint: {e.hint})"
    return line


class PlainLog:
    """A listener printing each event as a line (output that is not a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, event: api.UnitEvent) -> None:
        self.stream.write(event_line(event) + "\n")
        self.stream.flush()


class LiveTable:
    """The station as a table, one row per port, redrawn a few times a second (rich.live)."""

    def __init__(self, station: api.Station, stream: TextIO) -> None:
        from rich.console import Console

        self.station = station
        self.console = Console(file=stream, force_terminal=True)
        self._live: Any = None
        self._lock = threading.Lock()

    def table(self) -> Any:
        from rich.table import Table

        report = self.station.report()
        title = f"fusebook station: {self.station.loaded.name} on {len(self.station.workers)} port(s)"
        caption = (f"ok {report.ok}  failed {report.failed}"
                   + (f"  stopped {report.stopped}" if report.stopped else "")
                   + f"  {report.units_per_hour:.0f} units/hour"
                   + (f"  stopping ({self.station.stop_reason})" if self.station.stop_reason else ""))
        t = Table(title=title, caption=caption, expand=False)
        for column in ("port", "unit", "state", "chip", "factory MAC", "index", "elapsed", "last message"):
            t.add_column(column, no_wrap=column != "last message", overflow="ellipsis")
        for w in self.station.workers:
            s = w.status
            t.add_row(w.port, str(s.unit), f"[{_STYLES.get(s.state, '')}]{label(s.state)}[/]", s.chip or "",
                      s.factory_mac or "", "" if s.index is None else str(s.index), f"{s.elapsed_s:.1f}s",
                      s.message)
        return t

    def __enter__(self) -> LiveTable:
        from rich.live import Live

        self._live = Live(get_renderable=self.table, console=self.console, refresh_per_second=4,
                          redirect_stdout=False, redirect_stderr=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self.table(), refresh=True)
            self._live.__exit__(None, None, None)


def summary_text(report: api.StationReport) -> str:
    """The station's end: totals, then every unit that did not end ok and what to do."""
    stopped = f", {report.stopped} stopped" if report.stopped else ""
    lines = [f"station: {len(report.units)} unit(s): {report.ok} ok, {report.failed} failed{stopped} "
             f"in {report.wall_s:.1f} s ({report.units_per_hour:.0f} units/hour)"]
    if report.stopped_by:
        lines.append(f"stopped by {report.stopped_by}")
    for u in report.units:
        if u.state == "ok":
            continue
        who = " ".join(x for x in (u.chip, u.factory_mac, None if u.index is None else f"index {u.index}") if x)
        first = (u.error or "").split("\n")
        lines.append(f"{label(u.state)} {u.port} #{u.unit} {who}: exit {u.exit_code}: {first[0]}")
        lines += [f"    {x}" for x in first[1:] if x]
        if u.hint:
            lines.append(f"    hint: {u.hint}")
    lines.append(f"exit {report.exit_code}")
    return "\n".join(lines)
