"""`fusebook test`: run recipe test cases and print them as pytest does (see fusebook.testing)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from fusebook import api


def run_test(args: argparse.Namespace, out: Any) -> int:
    def each(result: Any) -> None:
        out.note(result.line())

    report = api.run_tests(args.paths or ["."], on_result=each)
    if args.junit:
        from fusebook.cli.main import _write_output

        _write_output(args.junit, report.junit())
    if out.fmt == "json":
        sys.stdout.write(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(report.text() + "\n")
    return report.exit_code
