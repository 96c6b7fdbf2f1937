"""Real processes for the page's tests: a virtual fleet, a faulty chip, a station or dashboard
serving its page, and plain HTTP against them (urllib: no client library between test and server)."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

RECIPE = """\
fusebook: 1
name: line
chip: esp32c3
indices: "1-5000"
unique: [CUSTOM_MAC]
steps:
  - burn_custom_mac: "{{ '02:00:00:00:00:00' | mac_add(index) }}"
  - burn_efuse: {DIS_USB_JTAG: 1, SECURE_VERSION: 1}
ensure:
  - that: "efuses.DIS_USB_JTAG"
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FUSEBOOK_DEBUG", "FUSEBOOK_WEB_TOKEN")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def spawn(*args: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "fusebook", *map(str, args)], cwd=ROOT, env=_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def read_until(proc: subprocess.Popen[bytes], pattern: str, *, stream: str = "stderr", count: int = 1,
               timeout: float = 30) -> list[str]:
    """The first `count` matches of `pattern` in the process's output, as it writes them."""
    pipe = proc.stderr if stream == "stderr" else proc.stdout
    assert pipe is not None
    fd, buf, found = pipe.fileno(), b"", []
    deadline = time.monotonic() + timeout
    while len(found) < count:
        assert time.monotonic() < deadline, f"no {pattern!r} in {buf.decode(errors='replace')!r}"
        if proc.poll() is not None and not select.select([fd], [], [], 0)[0]:
            raise AssertionError(f"exit {proc.returncode} before {pattern!r}: {buf.decode(errors='replace')}")
        if select.select([fd], [], [], 0.1)[0]:
            chunk = os.read(fd, 65536)
            buf += chunk
            found = re.findall(pattern, buf.decode(errors="replace"))
    return found[:count]


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
    return proc.returncode


@contextmanager
def fleet(count: int, *, latency: float = 5, swap_after: int | None = None) -> Iterator[list[str]]:
    """`serve-virtual --count N`: N virtual chips, one socket:// URL each."""
    args = ["serve-virtual", "--chip", "esp32c3", "--count", count, "--latency", latency]
    if swap_after is not None:
        args += ["--swap-after", swap_after]
    proc = spawn(*args)
    try:
        yield read_until(proc, r"socket://[0-9.:]+", stream="stdout", count=count)
    finally:
        stop(proc)


@contextmanager
def faulty_chip() -> Iterator[str]:
    """One virtual chip whose eFuse programs all fail (`serve-virtual --fault fail-programs=99`)."""
    proc = spawn("serve-virtual", "--chip", "esp32c3", "--listen", "127.0.0.1:0", "--fault", "fail-programs=99")
    try:
        yield read_until(proc, r"socket://[0-9.:]+", stream="stdout")[0]
    finally:
        stop(proc)


PAGE = r"the live page is at (http://\S+)"


@contextmanager
def station(recipe: Path, ledger: Path | str, ports: list[str], *args: Any) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`fusebook station --web 127.0.0.1:0` burning on `ports`, continuously; yields it and its page's URL."""
    proc = spawn("station", recipe, "--yes", "--ledger", ledger, "--poll", "0.1", "--web", "127.0.0.1:0",
                 *sum((["--port", p] for p in ports), []), *args)
    try:
        yield proc, read_until(proc, PAGE)[0]
    finally:
        stop(proc, signal.SIGINT)


@contextmanager
def dashboard(ledger: str, *args: Any) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    proc = spawn("dashboard", "--ledger", ledger, "--poll", "0.2", "--web", "127.0.0.1:0", *args)
    try:
        yield proc, read_until(proc, PAGE)[0]
    finally:
        stop(proc)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a GET (no redirects followed: the token's 303 is seen)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: Any, **k: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    status, _, body = get(url, headers)
    assert status == 200, (status, body)
    return json.loads(body)


def wait_for(predicate: Any, timeout: float = 30, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)


def first_events(url: str, count: int, timeout: float = 10) -> list[tuple[str, Any]]:
    """The first `count` server-sent events of `url` (kind, parsed data)."""
    out: list[tuple[str, Any]] = []
    with urllib.request.urlopen(url, timeout=timeout) as r:
        kind = ""
        for raw in r:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                out.append((kind, json.loads(line[6:])))
                if len(out) >= count:
                    break
    return out
