"""`fusebook test` reports: lines as pytest prints them, JSON, and JUnit XML for CI."""

from __future__ import annotations

import shutil
from typing import Any
from xml.sax.saxutils import quoteattr

from fusebook.testing.runner import CaseResult, Report


def result_line(r: CaseResult) -> str:
    """`file::id PASSED`, one line a case, as `pytest -v` prints it."""
    return f"{r.case.name} {r.status.upper()}"


def _rule(title: str, char: str = "=") -> str:
    width = max(40, min(shutil.get_terminal_size((80, 24)).columns, 100))
    title = f" {title} "
    left = max(3, (width - len(title)) // 2)
    return char * left + title + char * max(3, width - left - len(title))


def summary(report: Report) -> str:
    """`2 failed, 5 passed, 1 error in 0.31s`, as pytest's last line."""
    parts = []
    for status, word in (("failed", "failed"), ("passed", "passed"), ("error", "error")):
        n = report.count(status)
        if n:
            parts.append(f"{n} {word}" + ("s" if word == "error" and n > 1 else ""))
    if report.errors:
        n = len(report.errors)
        parts.append(f"{n} error{'s' if n > 1 else ''} during collection")
    if not parts:
        parts.append("no tests ran")
    return _rule(f"{', '.join(parts)} in {report.seconds:.2f}s")


def details_text(report: Report) -> str:
    """The sections after the case lines: collection errors, then each failure and error."""
    lines: list[str] = []
    if report.errors:
        lines.append(_rule("ERRORS"))
        for e in report.errors:
            lines.append(e.render())
        if not report.results:
            lines.append("nothing was run: fix the test files above")
    for title, status in (("FAILURES", "failed"), ("ERRORS", "error")):
        bad = [r for r in report.results if r.status == status]
        if bad:
            lines.append(_rule(title))
            for r in bad:
                lines.append(_rule(r.case.name, "_"))
                lines.extend(r.details)
    if not report.results and not report.errors:
        lines.append("no recipe tests found (NAME.test.yaml files, or `tests:` in a recipe)")
    lines.append(summary(report))
    return "\n".join(lines)


def to_json(report: Report) -> dict[str, Any]:
    return {
        "exit_code": report.exit_code,
        "passed": report.count("passed"),
        "failed": report.count("failed"),
        "errors": report.count("error") + len(report.errors),
        "seconds": round(report.seconds, 3),
        "collection_errors": [e.to_json() for e in report.errors],
        "cases": [{"id": r.case.spec.id, "file": r.case.file, "name": r.case.name,
                   "location": str(r.case.location), "status": r.status, "details": r.details,
                   "seconds": round(r.seconds, 4)} for r in report.results],
    }


def junit(report: Report) -> str:
    """JUnit XML: one testcase a case (classname the file), failures and errors with their details."""
    failures, errors = report.count("failed"), report.count("error") + len(report.errors)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="fusebook test" tests="{len(report.results)}" failures="{failures}" '
        f'errors="{errors}" time="{report.seconds:.3f}">',
        f'  <testsuite name="fusebook test" tests="{len(report.results)}" failures="{failures}" '
        f'errors="{errors}" time="{report.seconds:.3f}">',
    ]
    for e in report.errors:
        where = str(e.location.file) if e.location else "collection"
        parts.append(f'    <testcase classname={quoteattr(where)} name="collection">')
        parts.append(f"      <error message={quoteattr(e.message)} type={quoteattr(e.kind)}>"
                     f"{_text(e.render())}</error>")
        parts.append("    </testcase>")
    for r in report.results:
        parts.append(f"    <testcase classname={quoteattr(r.case.file)} name={quoteattr(r.case.spec.id)} "
                     f'time="{r.seconds:.4f}">')
        if r.status in ("failed", "error"):
            tag = "failure" if r.status == "failed" else "error"
            headline = r.details[0] if r.details else r.status
            parts.append(f"      <{tag} message={quoteattr(headline)}>{_text(chr(10).join(r.details))}</{tag}>")
        parts.append("    </testcase>")
    parts += ["  </testsuite>", "</testsuites>"]
    return "\n".join(parts) + "\n"


def _text(s: str) -> str:
    from xml.sax.saxutils import escape

    return escape(s)
