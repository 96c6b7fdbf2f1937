"""What the page shows, without a browser: a station's board fed by a real EventStream, and
a ledger's board over real ledgers (SQLite and PostgreSQL) through the Ledger's public reads."""

from __future__ import annotations

import json

from fusebook.ledger import Ledger
from fusebook.station.events import EventStream
from fusebook.web.board import RECENT, LedgerBoard, StationBoard
from tests.ledger.units import KEY, unit

PORTS = ["socket://127.0.0.1:1", "socket://127.0.0.1:2"]


def publish_unit(stream: EventStream, port: str, number: int, end: str, mac: str, index: int, **fields: object) -> None:
    """The events a worker publishes for one unit, ending in `end`."""
    common = {"station": "host:1", "port": port, "unit": number, "chip": "esp32c3"}
    stream.publish(**common, state="waiting" if number > 1 else "connecting", message="insert the next one")
    stream.publish(**common, state="planning", factory_mac=mac)
    stream.publish(**common, state="burning", factory_mac=mac, index=index)
    stream.publish(**common, state=end, factory_mac=mac, index=index, elapsed_s=1.5,
                   exit_code=0 if end == "ok" else 5, **fields)


def test_tiles_follow_each_port_and_a_failure_stays_shown_until_the_next_board_is_in() -> None:
    stream, board = EventStream(), StationBoard("line", PORTS)
    stream.subscribe(board)
    woken: list[int] = []
    board.on_change(lambda: woken.append(board.version))
    first = board.snapshot()
    assert [t["port"] for t in first["units"]] == PORTS and {t["display"] for t in first["units"]} == {"waiting"}

    publish_unit(stream, PORTS[0], 1, "ok", "7c:df:a1:00:00:01", 1)
    publish_unit(stream, PORTS[1], 1, "failed", "7c:df:a1:00:00:02", 2, error="BLOCK3: not verified",
                 hint="set the unit aside")
    tiles = {t["port"]: t for t in board.snapshot()["units"]}
    assert tiles[PORTS[0]]["display"] == "ok" and tiles[PORTS[0]]["index"] == 1 and not tiles[PORTS[0]]["live"]
    bad = tiles[PORTS[1]]
    assert (bad["display"], bad["error"], bad["hint"]) == ("failed", "BLOCK3: not verified", "set the unit aside")

    # the port waits for its next board: the tile still shows the failure, and what to do
    stream.publish(station="host:1", port=PORTS[1], unit=2, state="waiting", message="remove it, insert the next one")
    bad = {t["port"]: t for t in board.snapshot()["units"]}[PORTS[1]]
    assert bad["state"] == "waiting" and bad["display"] == "failed"
    assert bad["last"]["error"] == "BLOCK3: not verified" and bad["last"]["factory_mac"] == "7c:df:a1:00:00:02"
    stream.publish(station="host:1", port=PORTS[1], unit=2, state="waiting", message="no unit: cannot open port")
    assert {t["port"]: t for t in board.snapshot()["units"]}[PORTS[1]]["display"] == "failed"

    # a new board is being planned: the last unit's end is history
    stream.publish(station="host:1", port=PORTS[1], unit=2, state="planning", factory_mac="7c:df:a1:00:00:03")
    now = {t["port"]: t for t in board.snapshot()["units"]}[PORTS[1]]
    assert (now["display"], now["last"], now["factory_mac"], now["live"]) == ("planning", None, "7c:df:a1:00:00:03", True)
    assert woken == sorted(woken) and len(woken) == 11  # one wake per event


def test_totals_yield_and_last_units() -> None:
    stream, board = EventStream(), StationBoard("line", PORTS)
    stream.subscribe(board)
    ends = {n: "failed" if n % 4 == 0 else "stopped" if n % 5 == 0 else "ok" for n in range(1, RECENT + 3)}
    for n, end in ends.items():
        publish_unit(stream, PORTS[n % 2], n, end, f"7c:df:a1:00:01:{n:02x}", n)
    snap = board.snapshot()
    ok, failed, stopped = (sum(1 for e in ends.values() if e == word) for word in ("ok", "failed", "stopped"))
    assert (snap["totals"]["ok"], snap["totals"]["failed"], snap["totals"]["stopped"]) == (ok, failed, stopped)
    assert stopped and snap["totals"]["yield"] == round(ok / (ok + failed), 4)  # a stopped unit is not judged yet
    assert snap["totals"]["units_per_hour"] > 0
    assert [u["index"] for u in snap["recent"]] == list(range(RECENT + 2, 2, -1))  # newest first, bounded
    assert len(board.events_after(0)) == 4 * (RECENT + 2)
    assert [e["seq"] for e in board.events_after(80)] == list(range(81, 4 * (RECENT + 2) + 1))
    assert json.loads(json.dumps(snap)) == snap  # plain JSON


def test_an_empty_station_has_no_yield_yet() -> None:
    totals = StationBoard("line", PORTS).snapshot()["totals"]
    assert (totals["ok"], totals["failed"], totals["yield"]) == (0, 0, None)


def _record(ledger: Ledger, index: int, mac: str, outcome: str | None, error: str | None = None) -> int:
    record_id = ledger.begin(**unit(index, mac))
    if outcome is not None:
        ledger.finish(record_id, outcome, error=error, exit_code=None if outcome == "ok" else 5)
    return record_id


def test_ledger_reads_by_index_and_outcome_counts(ledger_target: str) -> None:
    with Ledger(ledger_target) as ledger:
        _record(ledger, 1, "7c:df:a1:00:00:01", "ok")
        _record(ledger, 2, "7c:df:a1:00:00:02", "failed", "BLOCK_KEY0: not verified")
        _record(ledger, 2, "7c:df:a1:00:00:03", "refused", "already burned")
        _record(ledger, 3, "7c:df:a1:00:00:04", None)
        assert [r.factory_mac for r in ledger.list(index=2)] == ["7c:df:a1:00:00:03", "7c:df:a1:00:00:02"]
        assert [r.index for r in ledger.list(index=2, chip_mac="7C:DF:A1:00:00:02")] == [2]
        assert ledger.list(index=9) == []
        assert ledger.outcome_counts() == {"ok": 1, "failed": 1, "refused": 1, "in-progress": 1}
        assert ledger.outcome_counts(since="9999") == {}


def test_the_ledger_board_shows_each_units_newest_record_and_the_ledgers_totals(ledger_target: str) -> None:
    with Ledger(ledger_target) as ledger:
        board = LedgerBoard("ledger", ledger)
        assert board.refresh() and not board.refresh()  # nothing new: no change
        _record(ledger, 1, "7c:df:a1:00:00:01", "failed", "BLOCK_KEY0: not verified\nsecond line")
        _record(ledger, 1, "7c:df:a1:00:00:01", "ok")  # the same unit, burned again: its tile is ok
        _record(ledger, 2, "7c:df:a1:00:00:02", "interrupted")
        _record(ledger, 3, "7c:df:a1:00:00:03", None)
        _record(ledger, 4, "7c:df:a1:00:00:04", "partial", "stopped by SIGINT between two blocks")
        assert board.refresh()
        snap = board.snapshot()
    tiles = {t["factory_mac"]: t for t in snap["units"]}
    assert set(tiles) == {"7c:df:a1:00:00:01", "7c:df:a1:00:00:02", "7c:df:a1:00:00:03", "7c:df:a1:00:00:04"}
    assert tiles["7c:df:a1:00:00:01"]["display"] == "ok" and tiles["7c:df:a1:00:00:01"]["error"] is None
    assert tiles["7c:df:a1:00:00:02"]["display"] == "failed" and "read the chip" in tiles["7c:df:a1:00:00:02"]["hint"]
    assert tiles["7c:df:a1:00:00:03"]["display"] == "burning" and tiles["7c:df:a1:00:00:03"]["live"]
    assert tiles["7c:df:a1:00:00:04"]["display"] == "stopped" and "resumes" in tiles["7c:df:a1:00:00:04"]["hint"]
    t = snap["totals"]
    assert (t["ok"], t["failed"], t["stopped"], t["in_progress"]) == (1, 2, 1, 1)
    assert t["units_per_hour"] == 1.0 and t["yield"] == round(1 / 3, 4)
    assert [u["outcome"] for u in snap["recent"]] == ["partial", "interrupted", "ok", "failed"]
    assert snap["recent"][3]["error"] == "BLOCK_KEY0: not verified"  # the headline
    text = json.dumps(snap)
    assert KEY.fingerprint not in text and "EFSR:" not in text  # no tokens, no fingerprints
