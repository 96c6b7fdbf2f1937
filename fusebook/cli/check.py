"""`fusebook check`: the CI batch dry-run, with text, JSON and JUnit output.

The recipe is loaded and compiled once, its key files parsed once; each index is rendered
and planned against the same snapshot, for every chip the recipe lists (a blank chip of
each, unless `--chip` or a snapshot picks one). Every failure is reported (not only the
first); the same failure at many indices is one line with their ranges. The values of the
fields listed in `unique:` must be distinct across the whole batch. A recipe that never
reads `index` is the same for every unit, so it is planned once and needs no `--indices`.
Plan warnings are listed the same way, folded over indices; they do not fail the check.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from typing import Any
from xml.sax.saxutils import quoteattr

from fusebook import api
from fusebook.api import FusebookError


def _failure(chip: str, index: int | None, e: FusebookError) -> dict[str, Any]:
    return {
        "chip": chip,
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


def ranges(indices: list[int | None]) -> str:
    """[1, 2, 3, 7, 9, 10] -> '1-3, 7, 9-10' (None: the one unit of a recipe without index)."""
    nums = sorted(i for i in indices if i is not None)
    if not nums:
        return "-"
    parts: list[str] = []
    start = prev = nums[0]
    for n in [*nums[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(parts)


def _indices(args: argparse.Namespace, loaded: api.LoadedRecipe) -> list[int | None]:
    spec = args.indices or loaded.recipe.indices
    if spec:
        return list(api.indices(str(spec)))
    if loaded.uses_index:
        from fusebook.cli.main import UsageError

        raise UsageError(f"{loaded.name} uses `index`: say which units to check",
                         hint="pass --indices, e.g. --indices 1-10000 (or declare `indices:` in the recipe)")
    return [None]


def _check_chip(loaded: api.LoadedRecipe, chip: str, snapshot: str,
                indices: list[int | None], progress: Any) -> dict[str, Any]:
    image = api.load_snapshot(snapshot, chip)
    failures: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], list[int | None]] = {}
    warned: dict[tuple[str, str], list[int | None]] = {}
    start = time.perf_counter()
    for n, (index, result) in enumerate(api.iter_plans(loaded, image, indices), start=1):
        if isinstance(result, FusebookError):
            failures.append(_failure(image.chip.name, index, result))
        else:
            for name, value in result.unique_values.items():
                seen.setdefault((name, value), []).append(index)
            for w in result.plan.warnings:
                where = str(w.origin.location) if w.origin and w.origin.location else ""
                warned.setdefault((where, w.message), []).append(index)
        progress(n, start)
    duplicates = [
        {"chip": image.chip.name, "field": name, "value": value, "indices": idx}
        for (name, value), idx in seen.items()
        if len(idx) > 1
    ]
    warnings = [
        {"chip": image.chip.name, "location": where, "message": message, "indices": idx}
        for (where, message), idx in warned.items()
    ]
    return {"chip": image.chip.name, "failures": failures, "duplicates": duplicates,
            "warnings": warnings, "seconds": time.perf_counter() - start}


def _folded(failures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failures that are the same but for the index, as one entry with all their indices."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for f in failures:
        key = (f["chip"], f["location"], f["message"], f["exit_code"])
        if key not in groups:
            groups[key] = {**f, "indices": []}
        groups[key]["indices"].append(f["index"])
    return list(groups.values())


def run_check(args: argparse.Namespace, out: Any) -> int:
    from fusebook.cli.main import _pairs

    loaded = api.load_recipe(
        args.recipe,
        input_overrides=_pairs(args.input, "--input"),
        set_vars=_pairs(args.set, "--set"),
        extend_efuse_table=args.extend_efuse_table,
    )
    if args.chip:
        chips = [args.chip]
    elif args.snapshot in (None, "blank"):
        chips = list(loaded.chips)  # a blank chip of every chip the recipe is for
    else:
        chips = [loaded.chips[0]]  # a snapshot file names its own chip
    indices = _indices(args, loaded)
    total = len(indices) * len(chips)
    show_progress = out.fmt == "text" and sys.stderr.isatty()
    done = 0

    def progress(n: int, start: float) -> None:
        nonlocal done
        done += 1
        if show_progress and (done % 250 == 0 or done == total):
            _progress(done, total, start)

    results = [_check_chip(loaded, chip, args.snapshot or "blank", indices, progress) for chip in chips]
    if show_progress:
        sys.stderr.write("\n")
    failures = [f for r in results for f in r["failures"]]
    duplicates = [d for r in results for d in r["duplicates"]]
    warnings = [w for r in results for w in r["warnings"]]
    elapsed = sum(r["seconds"] for r in results)
    body = {
        "recipe": loaded.name,
        "chip": results[0]["chip"],
        "chips": [r["chip"] for r in results],
        "uses_index": loaded.uses_index,
        "total": total,
        "planned": total - len(failures),
        "failed": len(failures),
        "failures": failures,
        "folded": _folded(failures),
        "duplicates": duplicates,
        "warnings": warnings,
        "seconds": round(elapsed, 3),
        "chips_per_second": round(total / elapsed, 1) if elapsed else None,
    }
    if args.junit:
        args.junit.write_text(_junit(body, indices))

    def text() -> str:
        lines = []
        several = len(chips) > 1
        for f in body["folded"]:
            where = f"{f['location']}: " if f["location"] else ""
            who = f"{f['chip']} " if several else ""
            units = f"index {ranges(f['indices'])}" if loaded.uses_index or indices != [None] else "the recipe"
            count = f" ({len(f['indices'])} units)" if len(f["indices"]) > 1 else ""
            lines.append(f"{who}{units}{count}: {where}error: {f['message']}")
        for w in warnings:
            where = f"{w['location']}: " if w["location"] else ""
            who = f"{w['chip']} " if several else ""
            units = f"index {ranges(w['indices'])}" if indices != [None] else "the recipe"
            count = f" ({len(w['indices'])} units)" if len(w["indices"]) > 1 else ""
            lines.append(f"{who}{units}{count}: {where}warning: {w['message']}")
        for d in duplicates:
            who = f"{d['chip']}: " if several else ""
            lines.append(f"{who}duplicate {d['field']} = {d['value']} at indices {ranges(d['indices'])}")
        on = f" on {', '.join(chips)}" if several else ""
        once = "" if indices != [None] else " (the recipe does not use `index`: planned once)"
        lines.append(
            f"{body['planned']}/{body['total']} plan{on}{once}; {len(failures)} failed; "
            f"{len(duplicates)} duplicate value(s); {len(warnings)} warning(s); "
            f"{body['chips_per_second']} chips/s"
        )
        return "\n".join(lines)

    out.emit(body, text)
    if failures:
        return int(max(f["exit_code"] for f in failures))
    return 3 if duplicates else 0


def _junit(body: dict[str, Any], indices: list[int | None]) -> str:
    """One test case per chip and index (a recipe without `index`: one per chip)."""
    failed = {(f["chip"], f["index"]): f for f in body["failures"]}
    dup_of: dict[tuple[str, int | None], list[str]] = {}
    for d in body["duplicates"]:
        for i in d["indices"]:
            dup_of.setdefault((d["chip"], i), []).append(
                f"duplicate {d['field']} = {d['value']} (indices {d['indices']})")
    failures = len(set(failed) | set(dup_of))
    several = len(body["chips"]) > 1
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuite name={quoteattr("fusebook check " + body["recipe"])} tests="{len(indices) * len(body["chips"])}" '
        f'failures="{failures}" errors="0" time="{body["seconds"]}">',
    ]
    for chip, i in itertools.product(body["chips"], indices):
        name = ("index " + str(i)) if i is not None else "recipe"
        name = f"{chip} {name}" if several else name
        parts.append(f'  <testcase classname={quoteattr(body["recipe"])} name={quoteattr(name)}>')
        if (chip, i) in failed:
            f = failed[(chip, i)]
            msg = f"{f['location'] + ': ' if f['location'] else ''}{f['message']}"
            parts.append(f"    <failure message={quoteattr(msg)} type={quoteattr(f['kind'])}/>")
        for msg in dup_of.get((chip, i), []):
            parts.append(f'    <failure message={quoteattr(msg)} type="duplicate"/>')
        parts.append("  </testcase>")
    parts.append("</testsuite>")
    return "\n".join(parts) + "\n"
