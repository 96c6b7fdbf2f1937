"""`fusebook check`: the CI batch dry-run, with text, JSON and JUnit output.

The recipe is loaded and compiled once; each index is rendered and planned against the
same snapshot. Every failure is reported (not only the first), and the values of the
fields listed in `unique:` must be distinct across the whole batch.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any
from xml.sax.saxutils import quoteattr

from fusebook import api
from fusebook.errors import FusebookError, InputError


def _failure(index: int, e: FusebookError) -> dict[str, Any]:
    return {
        "index": index,
        "exit_code": e.exit_code,
        "kind": e.kind,
        "location": str(e.location) if e.location else None,
        "message": e.message.splitlines()[0],
        "hint": e.hint,
    }


def _progress(done: int, total: int, start: float) -> None:
    rate = done / max(time.perf_counter() - start, 1e-9)
    width = 30
    filled = int(width * done / total)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({rate:,.0f}/s)")
    sys.stderr.flush()


def run_check(args: argparse.Namespace, out: Any) -> int:
    from fusebook.cli.main import _pairs

    loaded = api.load_recipe(
        args.recipe,
        input_overrides=_pairs(args.input, "--input"),
        set_vars=_pairs(args.set, "--set"),
        extend_efuse_table=args.extend_efuse_table,
    )
    chip = args.chip or loaded.chips[0]
    image = api.load_snapshot(args.snapshot, chip)
    if args.indices is None and loaded.recipe.indices is None:
        raise InputError("check needs --indices, or an `indices:` range in the recipe",
                         hint="pass e.g. --indices 1-10000")
    indices = api.indices(args.indices if args.indices is not None else loaded.recipe.indices)
    show_progress = out.fmt == "text" and sys.stderr.isatty()
    start = time.perf_counter()
    failures: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], list[int]] = {}
    for n, (index, result) in enumerate(api.iter_plans(loaded, image, indices), start=1):
        if isinstance(result, FusebookError):
            failures.append(_failure(index, result))
        else:
            for name, value in result.unique_values.items():
                seen.setdefault((name, value), []).append(index)
        if show_progress and (n % 250 == 0 or n == len(indices)):
            _progress(n, len(indices), start)
    elapsed = time.perf_counter() - start
    if show_progress:
        sys.stderr.write("\n")
    duplicates = [
        {"field": name, "value": value, "indices": idx}
        for (name, value), idx in seen.items()
        if len(idx) > 1
    ]
    body = {
        "recipe": loaded.name,
        "chip": image.chip.name,
        "total": len(indices),
        "planned": len(indices) - len(failures),
        "failed": len(failures),
        "failures": failures,
        "duplicates": duplicates,
        "seconds": round(elapsed, 3),
        "chips_per_second": round(len(indices) / elapsed, 1) if elapsed else None,
    }
    if args.junit:
        args.junit.write_text(_junit(body, indices))

    def text() -> str:
        lines = []
        for f in failures:
            where = f"{f['location']}: " if f["location"] else ""
            lines.append(f"index {f['index']}: {where}error: {f['message']}")
        for d in duplicates:
            lines.append(f"duplicate {d['field']} = {d['value']} at indices {', '.join(map(str, d['indices']))}")
        lines.append(
            f"{body['planned']}/{body['total']} indices plan; {len(failures)} failed; "
            f"{len(duplicates)} duplicate value(s); {body['chips_per_second']} chips/s"
        )
        return "\n".join(lines)

    out.emit(body, text)
    if failures:
        return max(f["exit_code"] for f in failures)
    return 3 if duplicates else 0


def _junit(body: dict[str, Any], indices: list[int]) -> str:
    failed = {f["index"]: f for f in body["failures"]}
    dup_of: dict[int, list[str]] = {}
    for d in body["duplicates"]:
        for i in d["indices"]:
            dup_of.setdefault(i, []).append(f"duplicate {d['field']} = {d['value']} (indices {d['indices']})")
    failures = len(set(failed) | set(dup_of))
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuite name={quoteattr("fusebook check " + body["recipe"])} tests="{len(indices)}" '
        f'failures="{failures}" errors="0" time="{body["seconds"]}">',
    ]
    for i in indices:
        parts.append(f'  <testcase classname={quoteattr(body["recipe"])} name="index {i}">')
        if i in failed:
            f = failed[i]
            msg = f"{f['location'] + ': ' if f['location'] else ''}{f['message']}"
            parts.append(f"    <failure message={quoteattr(msg)} type={quoteattr(f['kind'])}/>")
        for msg in dup_of.get(i, []):
            parts.append(f'    <failure message={quoteattr(msg)} type="duplicate"/>')
        parts.append("  </testcase>")
    parts.append("</testsuite>")
    return "\n".join(parts) + "\n"
