"""An apply whose process died between begin and finish reads "interrupted", never "ok"."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from fusebook.ledger import Ledger
from fusebook.ledger.owner import Writer

ROOT = Path(__file__).resolve().parents[2]

BEGIN_AND_EXIT = """
import sys
from fusebook.ledger import Ledger
from tests.ledger.units import unit
ledger = Ledger(sys.argv[1])
print(ledger.begin(**unit(5)))
"""


def test_a_record_left_open_by_a_dead_process_becomes_interrupted(ledger_target: str) -> None:
    path = ledger_target
    done = subprocess.run([sys.executable, "-c", BEGIN_AND_EXIT, str(path)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    record_id = int(done.stdout)
    with Ledger(path) as ledger:
        r = ledger.get(record_id)
        assert r is not None
        assert (r.outcome, r.finished_at, r.exit_code) == ("interrupted", None, None)
        assert r.error and "read the chip" in r.error
        # It may still be on that chip: its values stay claimed.
        assert ledger.conflicts(dict(r.unique_values), "7c:df:a1:00:00:99")
        # A writer wrongly declared gone (another PID namespace, say) can still finish.
        ledger.finish(record_id, "ok", after_token="EFSR:late")
        r = ledger.get(record_id)
        assert r is not None and (r.outcome, r.after_token) == ("ok", "EFSR:late")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_writer_is_gone_only_when_that_can_be_proved() -> None:
    me = Writer.current()
    assert me.boot_id and me.pid_namespace, "a Linux host exposes boot id and PID namespace"
    assert not me.is_gone(me)
    assert not replace(me, pid=os.getppid()).is_gone(me)  # alive
    assert replace(me, pid=_dead_pid()).is_gone(me)
    assert replace(me, boot_id="another-boot").is_gone(me)  # the host restarted since
    assert not replace(me, host="station-2", pid=_dead_pid()).is_gone(me)
    assert not replace(me, pid_namespace="pid:[1]", pid=_dead_pid()).is_gone(me)
