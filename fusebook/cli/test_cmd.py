"""`fusebook test`: run recipe test cases and print them as pytest does (see fusebook.testing)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from fusebook import api


def run_test(args: argparse.Namespace, out: Any) -> int:
    from fusebook.testing import report as rep

    def each(result: Any) -> None:
        out.note(rep.result_line(result))

    report = api.run_tests(args.paths or ["."], on_result=each)
    if args.junit:
        from fusebook.cli.main import _write_output

        _write_output(args.junit, rep.junit(report))
    if out.fmt == "json":
        sys.stdout.write(json.dumps(rep.to_json(report), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(rep.details_text(report) + "\n")
    return report.exit_code
