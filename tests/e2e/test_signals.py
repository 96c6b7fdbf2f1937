"""A signal during `apply` never cuts a program: the chip holds whole planned block writes only.

Every test runs the real command line in a subprocess and sends it a real SIGINT, SIGTERM
or SIGHUP, at a chosen point: from the burn's own progress events (tests.e2e.signal_child,
for the in-process chip, where a burn takes milliseconds), from outside while serve-virtual
answers slowly (`--latency`), or at the BURN prompt on a pseudo-terminal. Each checks the
exit code, the report, the ledger record, the chip file, and that a re-run completes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fusebook import api
from fusebook.chips.loader import load_chip
from fusebook.ledger import Ledger
from fusebook.plan.model import BurnPlan
from fusebook.virtual.chip import VirtualChip, open_virtual
from fusebook.virtual.server import VirtualRomServer

from .conftest import ROOT, fusebook
from .terminal import Prompted

CHIP = "esp32c3"
SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"]

RECIPE = """\
fusebook: 1
name: signal-test
chip: esp32c3
steps:
  - burn_block_data: {block: BLOCK3, offset: 0, data: "01020304"}
  - burn_block_data: {block: BLOCK_KEY5, offset: 0, data: "a1a2a3a4"}
  - burn_block_data: {block: BLOCK_KEY4, offset: 0, data: "b1b2b3b4"}
  - burn_efuse: {SECURE_VERSION: 3}
  - write_protect_efuse: [SECURE_VERSION]
"""


@pytest.fixture
def unit(tmp_path: Path) -> Iterator[tuple[Path, Path, Path, BurnPlan]]:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE)
    efuse = tmp_path / "chip.efuse"
    # the unit as it leaves the factory: blank but for its factory MAC
    open_virtual(load_chip(CHIP), efuse, factory_mac="7c:df:a1:00:51:61")
    plan = api.plan(api.load_recipe(recipe), api.load_snapshot(str(efuse), CHIP)).plan
    assert len(plan.writes) == 5 and [w.phase for w in plan.writes][-1] == "lock"
    yield recipe, efuse, tmp_path / "ledger.sqlite", plan


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FUSEBOOK_DEBUG", None)
    return env


def _prefix_image(plan: BurnPlan, k: int) -> tuple[int, ...]:
    blocks = list(plan.before.blocks)
    for w in plan.writes[:k]:
        blocks[w.block] = w.expected
    return tuple(blocks)


def _chip_blocks(efuse: Path) -> tuple[int, ...]:
    if not efuse.exists():
        return api.load_snapshot("blank", CHIP).blocks
    return api.load_snapshot(str(efuse), CHIP).blocks


def _whole_writes(plan: BurnPlan, efuse: Path) -> int:
    """How many of the plan's writes the chip holds; fails unless it is exactly a prefix of them."""
    blocks = _chip_blocks(efuse)
    for k in range(len(plan.writes) + 1):
        if blocks == _prefix_image(plan, k):
            return k
    raise AssertionError(f"the chip holds something other than whole planned writes: {blocks}")


def _last_record(ledger: Path):
    with Ledger(ledger) as db:
        records = db.list(limit=None)
    return max(records, key=lambda r: r.id) if records else None


def _done_line(plan: BurnPlan, k: int) -> str:
    names = ", ".join(f"{w.block_name} ({w.phase})" for w in plan.writes[:k])
    return "programmed and verified: " + (names or "nothing")


def _rerun_completes(conn: list[str], recipe: Path, ledger: Path, plan: BurnPlan, efuse: Path) -> None:
    done_before = _whole_writes(plan, efuse) == len(plan.writes)
    again = fusebook("apply", recipe, *conn, "--yes", "--ledger", ledger)
    assert again.code == 0, again.err
    held = _whole_writes(plan, efuse)
    assert held == len(plan.writes)
    rec = _last_record(ledger)
    assert rec is not None and rec.outcome == ("nothing-to-do" if done_before else "ok")


def _check_partial(r: subprocess.CompletedProcess[str], plan: BurnPlan, efuse: Path, ledger: Path,
                   k: int, signame: str) -> None:
    assert r.returncode == 4, (r.stdout, r.stderr)
    assert _whole_writes(plan, efuse) == k
    assert _done_line(plan, k) in r.stdout
    assert "in flight when it stopped: nothing" in r.stdout
    assert "not done: " + ", ".join(f"{w.block_name} ({w.phase})" for w in plan.writes[k:]) in r.stdout
    assert f"stopped by {signame} during the burn" in r.stderr
    assert "Traceback" not in r.stderr
    rec = _last_record(ledger)
    assert rec is not None and (rec.outcome, rec.exit_code) == ("partial", 4)
    assert rec.finished_at is not None and rec.error and _done_line(plan, k) in rec.error


def _self_signal(names: str, event: str, index: int, recipe: Path, conn: list[str], ledger: Path,
                 *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.e2e.signal_child", names, event, str(index), "--",
         "apply", str(recipe), *conn, "--yes", "--ledger", str(ledger), *extra],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def socket_chip(unit: tuple[Path, Path, Path, BurnPlan]) -> Iterator[str]:
    efuse = unit[1]
    chip = api.load_chip(CHIP)
    server = VirtualRomServer(VirtualChip(chip, efuse), chip).start()
    try:
        yield server.url
    finally:
        server.stop()


def _conn(transport: str, efuse: Path, url: str | None) -> list[str]:
    if transport == "virt":
        return ["--virt", "--chip", CHIP, "--efuse-file", str(efuse)]
    assert url is not None
    return ["--port", url, "--before", "no-reset", "--chip", CHIP]


# -- at chosen points of the burn, both transports ----------------------------------------
# (event, index into the plan, whole writes the chip then holds, exit code)
POINTS = [
    ("start", 5, 0, 130),     # confirmed, record begun, nothing sent yet
    ("program", 0, 1, 4),     # the first program in flight: it finishes, then the burn stops
    ("verified", 1, 2, 4),    # between two blocks
    ("program", 4, 5, 0),     # the last program in flight: nothing left to stop
    ("done", 5, 5, 0),        # after the last verify
]


# Every signal on the in-process chip; over a socket (slower to open) SIGTERM stands for all
# three, which the tests from outside below send over a socket too.
CASES = [("virt", s) for s in SIGNALS] + [("socket", "SIGTERM")]


@pytest.mark.parametrize("transport,signame", CASES, ids=[f"{t}-{s}" for t, s in CASES])
@pytest.mark.parametrize("event,index,held,code", POINTS, ids=[f"{p[0]}{p[1]}" for p in POINTS])
def test_a_signal_at_a_chosen_point_leaves_whole_writes_and_a_true_record(
    unit: tuple[Path, Path, Path, BurnPlan], request: pytest.FixtureRequest, transport: str, signame: str,
    event: str, index: int, held: int, code: int,
) -> None:
    recipe, efuse, ledger, plan = unit
    url = request.getfixturevalue("socket_chip") if transport == "socket" else None
    conn = _conn(transport, efuse, url)
    r = _self_signal(signame, event, index, recipe, conn, ledger)
    assert "Traceback" not in r.stderr
    assert r.returncode == code, (r.stdout, r.stderr)
    assert _whole_writes(plan, efuse) == held
    rec = _last_record(ledger)
    assert rec is not None and rec.finished_at is not None and rec.exit_code == code
    if code == 130:
        assert rec.outcome == "aborted"
        assert "nothing was sent to the chip" in r.stderr
    elif code == 4:
        _check_partial(r, plan, efuse, ledger, held, signame)
    else:
        assert rec.outcome == "ok" and "burned and verified 5 block write(s)" in r.stdout
    assert "Block writes, in burn order" in r.stdout  # the plan reached stdout before the burn
    _rerun_completes(conn, recipe, ledger, plan, efuse)


def test_a_second_signal_still_waits_for_the_program_in_flight(unit: tuple[Path, Path, Path, BurnPlan]) -> None:
    recipe, efuse, ledger, plan = unit
    conn = _conn("virt", efuse, None)
    r = _self_signal("SIGINT,SIGINT", "program", 1, recipe, conn, ledger)
    _check_partial(r, plan, efuse, ledger, 2, "SIGINT")
    assert "stopping after the program in flight" in r.stderr
    assert "SIGINT again: still finishing the program in flight" in r.stderr


def test_a_stopped_burn_is_one_complete_json_document(unit: tuple[Path, Path, Path, BurnPlan]) -> None:
    recipe, efuse, ledger, plan = unit
    conn = _conn("virt", efuse, None)
    r = _self_signal("SIGTERM", "verified", 2, recipe, conn, ledger, "--format", "json")
    assert r.returncode == 4, r.stderr
    body = json.loads(r.stdout)
    assert body["outcome"] == "partial" and body["error"]["kind"] == "stopped"
    assert body["report"][0] == _done_line(plan, 3)
    assert len(body["writes"]) == 5
    r = _self_signal("SIGTERM", "start", 2, recipe, conn, ledger, "--format", "json")  # 2 writes left
    assert r.returncode == 130
    assert json.loads(r.stdout)["outcome"] == "aborted"
    assert _whole_writes(plan, efuse) == 3


# -- from outside, against serve-virtual slowed down --------------------------------------
def _serve_virtual(efuse: Path, latency_ms: int) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "fusebook", "serve-virtual", "--chip", CHIP, "--listen", "127.0.0.1:0",
         "--efuse-file", str(efuse), "--latency", str(latency_ms)],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    assert "listening on socket://" in line, line
    return server, line.split("listening on ")[1].split()[0]


def _wait_for_writes(plan: BurnPlan, efuse: Path, k: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if _whole_writes(plan, efuse) >= k:
                return
        except Exception:  # noqa: BLE001 - not yet readable: the chip file is made on the first program
            pass
        time.sleep(0.002)
    raise AssertionError(f"the burn never reached write {k}")


@pytest.mark.parametrize("signame", SIGNALS)
@pytest.mark.parametrize("after_writes", [1, 2])
def test_a_signal_from_outside_mid_burn_stops_at_the_next_block(
    unit: tuple[Path, Path, Path, BurnPlan], signame: str, after_writes: int,
) -> None:
    """The program of block k is on the chip; its read-back is under way when the signal lands."""
    recipe, efuse, ledger, plan = unit
    server, url = _serve_virtual(efuse, latency_ms=4)
    try:
        conn = ["--port", url, "--before", "no-reset"]
        out = efuse.parent / "stdout.txt"
        with out.open("w") as stdout:  # a redirected stdout must still get the plan and the report
            proc = subprocess.Popen(
                [sys.executable, "-m", "fusebook", "apply", str(recipe), *conn, "--yes", "--ledger", str(ledger)],
                cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, text=True,
            )
            _wait_for_writes(plan, efuse, after_writes, proc)
            proc.send_signal(getattr(signal, signame))
            _, err = proc.communicate(timeout=30)
        r = subprocess.CompletedProcess(proc.args, proc.returncode, out.read_text(), err)
        assert "Block writes, in burn order" in r.stdout
        _check_partial(r, plan, efuse, ledger, after_writes, signame)
        _rerun_completes(conn, recipe, ledger, plan, efuse)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_signal_from_outside_after_the_last_program_is_a_success(
    unit: tuple[Path, Path, Path, BurnPlan],
) -> None:
    recipe, efuse, ledger, plan = unit
    server, url = _serve_virtual(efuse, latency_ms=4)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fusebook", "apply", str(recipe), "--port", url, "--before", "no-reset",
             "--yes", "--ledger", str(ledger)],
            cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        _wait_for_writes(plan, efuse, 5, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "burned and verified 5 block write(s)" in out
        rec = _last_record(ledger)
        assert rec is not None and rec.outcome == "ok"
    finally:
        server.terminate()
        server.wait(timeout=10)


# -- the BURN prompt on a real terminal ---------------------------------------------------
def test_typing_burn_at_the_prompt_burns(unit: tuple[Path, Path, Path, BurnPlan]) -> None:
    recipe, efuse, ledger, plan = unit
    p = Prompted(["apply", str(recipe), *_conn("virt", efuse, None), "--ledger", str(ledger)])
    p.wait_for_prompt()
    p.type(b"BURN\n")
    code, out, err = p.finish()
    assert code == 0, err
    assert _whole_writes(plan, efuse) == 5


@pytest.mark.parametrize("answer", [b"burn\n", b"\n", b"\x03", b"\x04"], ids=["other", "empty", "ctrl-c", "eof"])
def test_anything_but_burn_at_the_prompt_burns_nothing(unit: tuple[Path, Path, Path, BurnPlan],
                                                       answer: bytes) -> None:
    recipe, efuse, ledger, plan = unit
    before = efuse.read_bytes()
    p = Prompted(["apply", str(recipe), *_conn("virt", efuse, None), "--ledger", str(ledger)])
    p.wait_for_prompt()
    p.type(answer)
    code, _, err = p.finish()
    assert code == 130, err
    assert "Traceback" not in err
    assert _whole_writes(plan, efuse) == 0 and efuse.read_bytes() == before
    assert _last_record(ledger) is None  # nothing begun: nothing was about to be sent


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_signal_at_the_prompt_exits_130_over_a_socket(unit: tuple[Path, Path, Path, BurnPlan],
                                                        socket_chip: str, signame: str) -> None:
    recipe, efuse, ledger, plan = unit
    p = Prompted(["apply", str(recipe), *_conn("socket", efuse, socket_chip), "--ledger", str(ledger)])
    p.wait_for_prompt()
    p.proc.send_signal(getattr(signal, signame))
    code, _, err = p.finish()
    assert code == 130, err
    assert _whole_writes(plan, efuse) == 0


# -- no terminal, no --yes ----------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_apply_without_yes_and_without_a_terminal_fails_before_connecting(tmp_path: Path, fmt: str) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE)
    # Nothing listens on this port: had apply tried to connect, it would fail with exit 4.
    r = fusebook("apply", recipe, "--port", "socket://127.0.0.1:9", "--before", "no-reset",
                 "--ledger", tmp_path / "l.sqlite", "--format", fmt, stdin="BURN\n", timeout=30)
    assert r.code == 2
    if fmt == "json":
        assert json.loads(r.out)["error"]["message"] == "stdin is not a terminal: pass --yes"
    else:
        assert "stdin is not a terminal: pass --yes" in r.err
    assert not (tmp_path / "l.sqlite").exists()
