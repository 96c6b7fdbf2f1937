"""`make mutate`: the mutation score of the core, module by module.

Reads mutmut's results (run `mutmut run` first) and the reviewed survivors
(tools/mutation_equivalent.txt: one mutant name a line, then `#`, "equivalent" or "wording",
and why). Equivalent mutants leave the score's denominator; wording-only survivors stay in
it (they are real differences the tests accept). A survivor on neither list is a gap in the
tests: it is named, and the exit status is 1, so a new gap does not go unnoticed.

mutmut numbers a function's mutants in order, so editing a function renumbers them and a
reviewed name can come to mean another mutant. Each reviewed line therefore carries the
fingerprint of the edit it was reviewed for (`NAME  @1a2b3c4d  # equivalent: why`, taken from
mutants/): a line whose fingerprint no longer matches is not counted as reviewed but named
for review again, as is a line for a mutant that no longer survives. `--stamp` writes the
fingerprint of every reviewed line that has none yet (run it after reviewing new lines).
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "tools" / "mutation_equivalent.txt"
MUTANTS = ROOT / "mutants"
_KIND = re.compile(r"equivalent|wording")
_LINE = re.compile(r"^(?P<name>\S+)(?:\s+@(?P<stamp>[0-9a-f]{8}))?\s*#\s*(?P<reason>.*)$")


def reviewed(path: Path = EQUIVALENT) -> dict[str, tuple[str, str | None]]:
    """Reviewed survivors: mutant name -> ("equivalent" or "wording", fingerprint or None).

    A line that is neither a comment, blank, nor a well-formed entry is an error, not skipped:
    a mistyped kind or a lost `#` would otherwise drop or miscount a review without a word.
    """
    kinds = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        m = _LINE.match(text)
        kind = _KIND.match(m["reason"]) if m else None
        if m is None or kind is None:
            raise ValueError(f"{path.name}:{number}: expected 'NAME  [@fingerprint]  # equivalent: why' "
                             f"(or '# wording: why'), got {text!r}")
        if m["name"] in kinds:
            raise ValueError(f"{path.name}:{number}: {m['name']} is listed twice")
        kinds[m["name"]] = (kind[0], m["stamp"])
    return kinds


def fingerprints(mutants: Path = MUTANTS) -> dict[str, str]:
    """Mutant name -> 8 hex digits of the lines its edit removes and adds.

    Read from mutmut's copy of the tree, where each mutant is a function beside its
    `__mutmut_orig`; the fingerprint ignores the function's position, so it survives edits
    elsewhere in the module and changes only when this name points at another edit.
    """
    prints = {}
    for source in mutants.glob("fusebook/**/*.py"):
        text = source.read_text(encoding="utf-8")
        if "__mutmut_orig" not in text:
            continue
        module = ".".join(source.relative_to(mutants).with_suffix("").parts)
        lines = text.splitlines()
        bodies = {node.name: lines[node.lineno:node.end_lineno]
                  for node in ast.walk(ast.parse(text))
                  if isinstance(node, ast.FunctionDef) and "__mutmut_" in node.name}
        for name, body in bodies.items():
            base, _, number = name.rpartition("__mutmut_")
            original = bodies.get(f"{base}__mutmut_orig")
            if number.isdigit() and original is not None:
                edit = [line for line in difflib.unified_diff(original, body, lineterm="", n=0)
                        if line[:1] in "-+" and line[:3] not in ("---", "+++")]
                digest = hashlib.sha256("\n".join(edit).encode()).hexdigest()[:8]
                prints[f"{module}.{name}"] = digest
    return prints


def stamp(path: Path = EQUIVALENT, prints: dict[str, str] | None = None) -> int:
    """Write the current fingerprint into each reviewed line that has none; returns how many."""
    prints = fingerprints() if prints is None else prints
    lines, added = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _LINE.match(line.strip())
        if m and not line.lstrip().startswith("#") and m["stamp"] is None and m["name"] in prints:
            line = f"{m['name']}  @{prints[m['name']]}  # {m['reason']}"
            added += 1
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return added


def stale(kinds: dict[str, tuple[str, str | None]], statuses: dict[str, str],
          prints: dict[str, str]) -> dict[str, str]:
    """Reviewed lines that no longer stand, with why: they must be reviewed again or dropped."""
    found = {}
    for name, (_, mark) in kinds.items():
        status = statuses.get(name)
        if status is None:
            found[name] = "no such mutant now"
        elif status == "not checked":
            continue  # judged once mutmut has run it
        elif status not in ("survived", "no tests"):
            found[name] = f"listed, but {status}"
        elif mark is None:
            found[name] = "no fingerprint (review it, then run --stamp)"
        elif prints.get(name) != mark:
            found[name] = "now names another edit (the function changed): review again"
    return found


def results(mutmut: str) -> list[tuple[str, str]]:
    """(mutant name, status) for every mutant mutmut knows of."""
    out = subprocess.run([mutmut, "results", "--all", "true"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name.startswith("fusebook."):
            rows.append((name, status.strip()))
    return rows


def module_of(name: str) -> str:
    """fusebook.efuse.coding.x_rs_encode__mutmut_3 -> efuse/coding.py"""
    parts = name.split(".")
    return "/".join(parts[1:3]) + ".py"


def main() -> int:
    args = sys.argv[1:]
    if "--stamp" in args:
        print(f"fingerprints written: {stamp()}")
        return 0
    mutmut = args[0] if args else "mutmut"
    rows = results(mutmut)
    kinds = reviewed()
    unsound = stale(kinds, dict(rows), fingerprints())
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    gaps = []
    for name, status in rows:
        c = counts[module_of(name)]
        c["total"] += 1
        if status in ("killed", "timeout", "segfault"):
            c["killed"] += 1
        elif status in ("survived", "no tests") and name in kinds and name not in unsound:
            c[kinds[name][0]] += 1
        elif status in ("survived", "no tests"):
            c["survived"] += 1
            gaps.append(name)
        else:
            c["other"] += 1  # not checked yet, skipped, interrupted
    print(f"{'module':24} {'killed':>7} {'equiv':>6} {'wording':>8} {'survived':>9} {'unrun':>6} "
          f"{'total':>6}  score")
    total: Counter[str] = Counter()
    for module in sorted(counts):
        c = counts[module]
        total.update(c)
        print(_row(module, c))
    print(_row("all", total))
    print("score = killed / (total - unrun - equiv); survived: no test notices it (or none reaches it), "
          "not reviewed; unrun: not checked yet")
    for name in gaps:
        print(f"survived, not reviewed: {name}", flush=True)
    for name, why in unsound.items():
        print(f"reviewed line to mend: {name}: {why}", flush=True)
    return 1 if gaps or unsound else 0


def _row(label: str, c: Counter[str]) -> str:
    """Score = killed / (checked - equivalent): the share of the catchable mutants caught."""
    catchable = c["total"] - c["other"] - c["equivalent"]
    score = f"{100 * c['killed'] / catchable:5.1f}%" if catchable else "    -"
    return (f"{label:24} {c['killed']:7} {c['equivalent']:6} {c['wording']:8} {c['survived']:9} "
            f"{c['other']:6} {c['total']:6}  {score}")


if __name__ == "__main__":
    sys.exit(main())
