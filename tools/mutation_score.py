"""`make mutate`: the mutation score of the core, module by module.

Reads mutmut's results (run `mutmut run` first) and the reviewed survivors
(tools/mutation_equivalent.txt: one mutant name a line, then `#`, "equivalent" or "wording",
and why). Equivalent mutants leave the score's denominator; wording-only survivors stay in
it (they are real differences the tests accept). A survivor on neither list is a gap in the
tests: it is named, and the exit status is 1, so a new gap does not go unnoticed.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / "tools" / "mutation_equivalent.txt"


def reviewed() -> dict[str, str]:
    """Reviewed survivors: mutant name -> "equivalent" or "wording" (comment lines skipped)."""
    kinds = {}
    for line in EQUIVALENT.read_text(encoding="utf-8").splitlines():
        name, _, reason = line.partition("#")
        if name.strip():
            kinds[name.strip()] = "wording" if reason.strip().startswith("wording") else "equivalent"
    return kinds


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
    mutmut = sys.argv[1] if len(sys.argv) > 1 else "mutmut"
    kinds = reviewed()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    gaps = []
    for name, status in results(mutmut):
        c = counts[module_of(name)]
        c["total"] += 1
        if status in ("killed", "timeout", "segfault"):
            c["killed"] += 1
        elif status in ("survived", "no tests") and name in kinds:
            c[kinds[name]] += 1
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
    return 1 if gaps else 0


def _row(label: str, c: Counter[str]) -> str:
    """Score = killed / (checked - equivalent): the share of the catchable mutants caught."""
    catchable = c["total"] - c["other"] - c["equivalent"]
    score = f"{100 * c['killed'] / catchable:5.1f}%" if catchable else "    -"
    return (f"{label:24} {c['killed']:7} {c['equivalent']:6} {c['wording']:8} {c['survived']:9} "
            f"{c['other']:6} {c['total']:6}  {score}")


if __name__ == "__main__":
    sys.exit(main())
