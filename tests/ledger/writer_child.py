"""A station writing to a ledger, run as a subprocess by the crash and concurrency tests.

    writer_child.py DB loop RUN    begin/finish records forever, printing "B id" after begin
                                   and "F id" after finish returned; killed by the test
    writer_child.py DB claim MAC N up|down
                                   after a line on stdin, try to claim per-unit values 0..N-1
                                   (in that order) for chip MAC, printing "F id" for each value won and "D i"
                                   for each refused
"""

from __future__ import annotations

import sys
import time

from fusebook.ledger import DuplicateUnitValue, Ledger
from tests.ledger.units import unit


def after_token(record_id: int) -> str:
    return f"EFSR:after-{record_id}"


def loop(path: str, run: int) -> None:
    ledger = Ledger(path)
    print("ready", flush=True)
    deadline = time.monotonic() + 20
    n = 0
    while time.monotonic() < deadline:
        n += 1
        index = run * 100_000 + n
        record_id = ledger.begin(**unit(index, factory_mac=f"7c:df:a1:{run:02x}:00:01"))
        print(f"B {record_id}", flush=True)
        ledger.finish(record_id, "ok", after_token=after_token(record_id))
        print(f"F {record_id}", flush=True)


def claim(path: str, mac: str, count: int, order: str) -> None:
    ledger = Ledger(path)
    print("ready", flush=True)
    sys.stdin.readline()  # start together with the other station
    for i in range(count) if order == "up" else reversed(range(count)):
        try:
            record_id = ledger.begin(**unit(i, factory_mac=mac))
        except DuplicateUnitValue:
            print(f"D {i}", flush=True)
            continue
        ledger.finish(record_id, "ok", after_token=after_token(record_id))
        print(f"F {record_id}", flush=True)


if __name__ == "__main__":
    if sys.argv[2] == "loop":
        loop(sys.argv[1], int(sys.argv[3]))
    else:
        claim(sys.argv[1], sys.argv[3], int(sys.argv[4]), sys.argv[5])
