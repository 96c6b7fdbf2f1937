"""`fusebook station` through the command line against a virtual fleet on real sockets.

The station is a subprocess; the fleet is `serve-virtual --count` (a subprocess) or a
VirtualFleet in the test's process, which also lets a test put a faulty chip among good
ones. Every test checks the exit code, the summary, the ledger and the event stream.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from fusebook.chips.loader import load_chip
from fusebook.ledger import Ledger
from fusebook.virtual.chip import open_virtual
from fusebook.virtual.fleet import VirtualFleet
from fusebook.virtual.server import FaultPlan, VirtualRomServer

from .conftest import ROOT, fusebook

SCHEMA = json.loads((ROOT / "schemas" / "station-event.schema.json").read_text())
CHIP = load_chip("esp32c3")

RECIPE = """\
fusebook: 1
name: line
chip: esp32c3
indices: "1-500"
unique: [CUSTOM_MAC]
steps:
  - burn_custom_mac: "{{ '02:00:00:00:00:00' | mac_add(index) }}"
  - burn_efuse: {DIS_USB_JTAG: 1, SECURE_VERSION: 1}
ensure:
  - that: "efuses.DIS_USB_JTAG"
"""


def events_of(path: Path) -> list[dict]:
    events = [json.loads(line) for line in path.read_text().splitlines()]
    for e in events:
        jsonschema.validate(e, SCHEMA)
    return events


def states_by_unit(events: list[dict]) -> dict[tuple[str, int], list[str]]:
    out: dict[tuple[str, int], list[str]] = {}
    for e in events:
        out.setdefault((e["port"], e["unit"]), []).append(e["state"])
    return out


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    p = tmp_path / "line.yaml"
    p.write_text(RECIPE)
    return p


def station(recipe: Path, tmp_path: Path, *args: str, timeout: float = 60):
    return fusebook("station", recipe, "--yes", "--ledger", tmp_path / "l.sqlite", *args, timeout=timeout)


def test_once_burns_every_port_with_its_own_index_and_records_every_unit(recipe: Path, tmp_path: Path) -> None:
    events = tmp_path / "ev.jsonl"
    with VirtualFleet(CHIP, 3) as fleet:
        ports = tmp_path / "ports.txt"
        ports.write_text("# the fixtures\n" + "\n".join(fleet.urls) + "\n\n")
        r = station(recipe, tmp_path, "--ports-from", ports, "--once", "--events", events, "--poll", "0.1")
        macs = {p.macs[0] for p in fleet.ports}
        urls = fleet.urls
    assert r.code == 0, r.out + r.err
    lines = r.out.splitlines()  # not a terminal: one plain line per state change
    for url in urls:
        for state in ("connecting", "planning", "burning", "verifying", "ok"):
            assert sum(f" {url} #1 {state}" in x for x in lines) == 1, (url, state, r.out)
    assert "\x1b[" not in r.out
    assert "3 unit(s): 3 ok, 0 failed" in r.out and r.out.rstrip().endswith("exit 0")
    with Ledger(tmp_path / "l.sqlite") as ledger:
        records = ledger.list()
    assert sorted(x.index for x in records) == [1, 2, 3]
    assert {x.factory_mac for x in records} == macs and {x.outcome for x in records} == {"ok"}
    evs = events_of(events)
    for states in states_by_unit(evs).values():
        assert states == ["connecting", "planning", "burning", "verifying", "ok"]
    finals = [e for e in evs if e["state"] == "ok"]
    assert sorted(e["index"] for e in finals) == [1, 2, 3]
    assert all(e["record_id"] and e["exit_code"] == 0 and e["factory_mac"] in macs for e in finals)
    assert [e["seq"] for e in evs] == list(range(1, len(evs) + 1))
    assert set(finals[0]["durations"]) == {"connecting", "planning", "burning", "verifying"}


def test_a_failing_unit_does_not_stop_the_others_and_the_worst_class_is_the_exit(
        recipe: Path, tmp_path: Path) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_url = f"socket://127.0.0.1:{dead.getsockname()[1]}"
    dead.close()  # nothing listens there: a fixture with no board (exit 4)
    bad_chip = open_virtual(CHIP, tmp_path / "bad.efuse", factory_mac="7c:df:a1:00:0b:ad")
    with VirtualFleet(CHIP, 2) as fleet, \
            VirtualRomServer(bad_chip, CHIP, faults=FaultPlan(fail_programs=99)) as bad:
        r = station(recipe, tmp_path, "--once", "--format", "json", "--events", tmp_path / "ev.jsonl",
                    *sum((["--port", u] for u in [fleet.urls[0], bad.url, dead_url, fleet.urls[1]]), []))
    assert r.code == 5, r.err
    report = r.json
    by_port = {u["port"]: u for u in report["units"]}
    assert by_port[fleet.urls[0]]["state"] == by_port[fleet.urls[1]]["state"] == "ok"
    assert by_port[bad.url]["state"] == "failed" and by_port[bad.url]["exit_code"] == 5
    assert "after 3 programs" in by_port[bad.url]["error"] and by_port[bad.url]["hint"]
    assert by_port[bad.url]["index"] in (1, 2, 3)  # the failed unit's index, for resuming it
    assert by_port[dead_url]["exit_code"] == 4 and "cannot open port" in by_port[dead_url]["error"]
    assert report["ok"] == 2 and report["failed"] == 2
    assert "FAILED" in r.err  # the log went to stderr, stdout is one JSON document
    with Ledger(tmp_path / "l.sqlite") as ledger:
        outcomes = sorted(x.outcome for x in ledger.list())
    assert outcomes == ["failed", "ok", "ok"]
    events_of(tmp_path / "ev.jsonl")


def _read_events(proc: subprocess.Popen, until, deadline_s: float = 60) -> list[dict]:
    """Events from the station's stdout (`--events -`) until `until(events)` holds."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf, events = b"", []
    deadline = time.monotonic() + deadline_s
    while not until(events):
        assert time.monotonic() < deadline and proc.poll() is None, events[-3:]
        if select.select([fd], [], [], 0.1)[0]:
            chunk = os.read(fd, 65536)
            buf += chunk
            *lines, buf = buf.split(b"\n")
            events += [json.loads(x) for x in lines if x]
    return events


@pytest.fixture
def fleet_process(tmp_path: Path) -> Iterator[tuple[list[str], Path]]:
    """`serve-virtual --count 2 --swap-after 1 --latency 4` as an operator's bench: a swap per unit."""
    boards = tmp_path / "boards"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fusebook", "serve-virtual", "--chip", "esp32c3", "--count", "2",
         "--swap-after", "1", "--latency", "4", "--efuse-dir", str(boards)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    urls = [proc.stdout.readline().strip() for _ in range(2)]
    try:
        yield urls, boards
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def test_continuous_takes_each_new_board_and_sigint_stops_mid_burn_without_cutting_a_program(
        recipe: Path, tmp_path: Path, fleet_process: tuple[list[str], Path]) -> None:
    urls, boards = fleet_process
    env = {k: v for k, v in os.environ.items() if k != "FUSEBOOK_DEBUG"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fusebook", "station", str(recipe), "--yes", "--ledger", str(tmp_path / "l.sqlite"),
         "--events", "-", "--poll", "0.05", *sum((["--port", u] for u in urls), [])],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        # a unit done on each port (the next board comes after a swap), then stop while one burns
        events = _read_events(proc, lambda evs: sum(e["state"] == "ok" for e in evs) >= 2 and any(
            e["state"] == "burning" and e["unit"] >= 2 for e in evs))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    events += [json.loads(x) for x in out.decode().splitlines() if x.startswith("{")]
    for e in events:
        jsonschema.validate(e, SCHEMA)
    ended = {(e["port"], e["unit"]): e for e in events if e["state"] in ("ok", "failed", "stopped")}
    begun = {(e["port"], e["unit"]) for e in events if e["state"] == "planning"}
    assert begun == set(ended)  # every unit that began reported its end
    stopped = [e for e in ended.values() if e["state"] == "stopped"]
    assert stopped and all(e["outcome"] in ("partial", "aborted") for e in stopped)
    assert proc.returncode == max(e["exit_code"] for e in ended.values())
    assert proc.returncode in (4, 130), err.decode()
    assert b"SIGINT: stopping every port" in err
    assert f"{len(stopped)} stopped in".encode() in err  # the summary, after the log, on stderr
    oks = [e for e in ended.values() if e["state"] == "ok"]
    assert len({e["factory_mac"] for e in ended.values()}) == len(ended)  # one board, one unit
    assert len({e["index"] for e in ended.values()}) == len(ended)
    with Ledger(tmp_path / "l.sqlite") as ledger:
        records = {x.factory_mac: x for x in ledger.list(limit=None)}
    assert all(x.finished for x in records.values())
    for e in stopped:  # a partial burn is recorded; one stopped before its record began has none
        record = records.get(e["factory_mac"])
        assert (record.outcome if record else "aborted") == e["outcome"]
    assert len(oks) >= 2
    # no block of a stopped unit was cut: each is as before or as planned (the chip checks its own)
    check = fusebook("check-error", "--virt", "--chip", "esp32c3", "--efuse-file",
                     sorted(boards.iterdir())[-1])
    assert check.code == 0, check.out


def test_no_key_material_in_output_or_events(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    (tmp_path / "fe.bin").write_bytes(key)
    recipe = tmp_path / "key.yaml"
    recipe.write_text(
        "fusebook: 1\nname: keyed\nchip: esp32c3\ninputs:\n  fe: {file: fe.bin, format: binary, secret: true}\n"
        "steps:\n  - burn_key: {block: BLOCK_KEY0, purpose: XTS_AES_128_KEY, data: \"{{ inputs.fe | hex }}\"}\n"
    )
    with VirtualFleet(CHIP, 2) as fleet:
        r = station(recipe, tmp_path, "--once", "--events", tmp_path / "ev.jsonl",
                    *sum((["--port", u] for u in fleet.urls), []))
        j = station(recipe, tmp_path, "--once", "--format", "json", "--events", tmp_path / "ev2.jsonl",
                    *sum((["--port", u] for u in fleet.urls), []))
    assert r.code == 0 and j.code == 0, r.out + r.err
    assert "2 ok" in r.out and json.loads(j.out)["ok"] == 2  # the second run: nothing to do
    text = r.out + r.err + j.out + j.err + (tmp_path / "ev.jsonl").read_text() + (tmp_path / "ev2.jsonl").read_text()
    for form in (key, key[::-1]):
        for shown in (form.hex(), form.hex().upper(), form[:8].hex()):
            assert shown not in text
    events_of(tmp_path / "ev.jsonl")


def test_refusals_are_invalid_input_and_touch_no_port(recipe: Path, tmp_path: Path) -> None:
    bad_ports = tmp_path / "ports.txt"
    bad_ports.write_text("socket://127.0.0.1:1 socket://127.0.0.1:2\n")
    typo = tmp_path / "typo.yaml"
    typo.write_text(RECIPE.replace("DIS_USB_JTAG: 1", "DIS_USB_JTAGG: 1"))
    with VirtualFleet(CHIP, 1) as fleet:
        url = fleet.urls[0]
        cases = [
            fusebook("station", recipe, "--port", url, "--once"),  # no --yes
            station(recipe, tmp_path, "--port", url, "--once", "--index", "5"),
            station(recipe, tmp_path, "--once"),  # no ports
            station(recipe, tmp_path, "--ports-from", bad_ports),
            station(recipe, tmp_path, "--ports", "auto:xyz:1"),
            station(recipe, tmp_path, "--port", url, "--no-ledger"),  # the recipe's indices need it
            station(tmp_path / "missing.yaml", tmp_path, "--port", url),
            station(typo, tmp_path, "--port", url, "--once"),  # every unit would fail alike
        ]
        connections = fleet.ports[0].server.connections
    for r in cases:
        assert r.code == 2 and "Traceback" not in r.err, r.err
    assert "--yes" in cases[0].err and "--index auto" in cases[1].err
    assert f"{bad_ports}:1" in cases[3].err
    assert f"{typo}:8" in cases[-1].err and "DIS_USB_JTAG" in cases[-1].err
    assert connections == 0


def test_the_live_table_on_a_terminal(recipe: Path, tmp_path: Path) -> None:
    with VirtualFleet(CHIP, 2) as fleet:
        master, slave = os.openpty()
        env = {k: v for k, v in os.environ.items() if k != "FUSEBOOK_DEBUG"}
        env.update(COLUMNS="160", LINES="40")
        proc = subprocess.Popen(
            [sys.executable, "-m", "fusebook", "station", str(recipe), "--yes", "--once",
             "--ledger", str(tmp_path / "l.sqlite"), *sum((["--port", u] for u in fleet.urls), [])],
            cwd=ROOT, env=env, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL,
        )
        os.close(slave)
        out = b""
        while True:
            ready = select.select([master], [], [], 30)[0]
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        proc.wait(timeout=30)
        os.close(master)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "\x1b[" in text  # drawn, not logged
    for heading in ("port", "state", "factory MAC", "index", "last message", "units/hour"):
        assert heading in text
    assert "2 unit(s): 2 ok" in text
    assert f"{fleet.urls[0]} #1 ok" not in text  # no log lines on a terminal


def test_two_stations_on_one_postgresql_ledger_never_share_an_index(recipe: Path, postgres) -> None:
    """Two station processes at once, 3 ports each, one PostgreSQL ledger: 6 units, 6 indices."""
    url = postgres.create_ledger()
    with VirtualFleet(CHIP, 6) as fleet:
        env = {k: v for k, v in os.environ.items() if k != "FUSEBOOK_DEBUG"}
        procs = [subprocess.Popen(
            [sys.executable, "-m", "fusebook", "station", str(recipe), "--yes", "--once", "--ledger", url,
             "--format", "json", *sum((["--port", u] for u in urls), [])],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ) for urls in (fleet.urls[:3], fleet.urls[3:])]
        results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    indices = [u["index"] for out, _ in results for u in json.loads(out)["units"]]
    assert sorted(indices) == [1, 2, 3, 4, 5, 6]
    with Ledger(url) as ledger:
        records = ledger.list(limit=None)
    assert sorted(r.index for r in records if r.outcome == "ok") == [1, 2, 3, 4, 5, 6]
    assert len({r.unique_values["CUSTOM_MAC"] for r in records}) == 6
