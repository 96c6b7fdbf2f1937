"""`python -m fusebook` that sends itself a real signal at one commit event, for the signal tests.

    python -m tests.e2e.signal_child SIGNAL[,SIGNAL...] EVENT INDEX -- fusebook arguments...

The signals are real and go through the handlers `main()` installs; only the moment is
chosen: right after commit() reports EVENT (start, program, verified, done) for the write
at INDEX (the plan's length for start and done). A burn on the in-process virtual chip
takes milliseconds, so a signal sent from outside could not land at a chosen point.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from fusebook import api
from fusebook.cli import main as cli


def run(argv: list[str]) -> int:
    names, kind, index = argv[0].split(","), argv[1], int(argv[2])
    rest = argv[argv.index("--") + 1:]
    real = api.commit

    def commit(plan: Any, controller: Any, *, stop: Any = None, on_event: Any = None, **more: Any) -> Any:
        def hook(event: Any) -> None:
            if on_event is not None:
                on_event(event)
            if event.kind == kind and event.index == index:
                for name in names:
                    os.kill(os.getpid(), getattr(signal, name))

        return real(plan, controller, stop=stop, on_event=hook, **more)

    api.commit = commit  # type: ignore[assignment]
    return cli.main(rest)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
