"""`fusebook render RECIPE --index N`: what a recipe's templates give for one unit.

For debugging templates: the resolved vars, the inputs (secret ones as fingerprints),
each `require` with its outcome, and every step with its `when` and whether it applies,
its arguments as rendered. Nothing is planned or burned. An item whose template fails
shows its error in place; the exit code is then that error's (2).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from fusebook import api
from fusebook.api import FusebookError, Secret, SecretValue

EXIT_OK = 0


def _plain(value: Any) -> Any:
    """A rendered value as JSON can hold it: secrets as their fingerprint text, bytes as hex."""
    if isinstance(value, (Secret, SecretValue)):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _shown(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False)


def _indented(e: FusebookError, by: str) -> str:
    return "\n".join(by + line.strip() for line in e.render().splitlines())


def _error(e: FusebookError | None) -> dict[str, Any] | None:
    return None if e is None else e.to_json()


def to_json(r: api.UnitRendering) -> dict[str, Any]:
    return {
        "index": r.index,
        "chip": r.chip,
        "source": r.source,
        "inputs": [dict(i) for i in r.inputs],
        "vars": {v.name: _plain(v.value) if v.error is None else {"error": _error(v.error)} for v in r.vars},
        "require": [
            {"that": a.name, "location": str(a.origin) if a.origin else None, "holds": a.applies,
             "error": _error(a.error)}
            for a in r.require
        ],
        "steps": [
            {"kind": s.kind, "name": s.name, "location": str(s.origin) if s.origin else None,
             "when": s.when, "applies": s.applies, "args": _plain(s.value), "error": _error(s.error)}
            for s in r.steps
        ],
    }


def to_text(r: api.UnitRendering) -> str:
    index = "no --index" if r.index is None else f"index {r.index}"
    lines = [f"{r.chip} ({r.source}), {index}"]
    if r.inputs:
        lines += ["", "inputs:"]
        for i in r.inputs:
            lines.append(f"  {i['name']}: {i['file']}: {i['value']}"
                         + (f" (file {i['digest']})" if i["digest"] and not i["secret"] else ""))
    if r.vars:
        lines += ["", "vars:"]
        for v in r.vars:
            lines.append(f"  {v.name} = {_shown(v.value)}" if v.error is None else
                         f"  {v.name}: error\n{_indented(v.error, '    ')}")
    if r.require:
        lines += ["", "require:"]
        for a in r.require:
            outcome = "error" if a.error else ("holds" if a.applies else "does not hold")
            lines.append(f"  {a.origin}: {a.name} -> {outcome}")
            if a.error:
                lines.append(_indented(a.error, "    "))
    lines += ["", "steps:"]
    for n, s in enumerate(r.steps, start=1):
        label = f"{s.name} ({s.kind})" if s.name else s.kind
        when = f" when {s.when} -> {'true' if s.applies else 'false'}" if s.when and not s.error else ""
        if s.error:
            lines.append(f"  {n}. {s.origin}: {label}: error")
            lines.append(_indented(s.error, "     "))
        elif s.applies:
            lines.append(f"  {n}. {s.origin}: {label}{when}")
            lines.append(f"     {_shown(s.value)}")
        else:
            lines.append(f"  {n}. {s.origin}: {label}{when}: skipped")
    return "\n".join(lines)


def run_render(args: argparse.Namespace, out: Any) -> int:
    from fusebook.cli.main import _image_from, _load

    loaded = _load(args)
    if args.snapshot or args.port or args.virt:
        if args.chip in (None, "auto") and not args.port:
            args.chip = loaded.chips[0]
        image, source = _image_from(args)
    else:
        chip = loaded.chips[0] if args.chip in (None, "auto") else args.chip
        image, source = api.load_snapshot("blank", chip), "blank chip"
    rendering = api.render_unit(loaded, image, args.index, source)
    out.emit(to_json(rendering), lambda: to_text(rendering))
    errors = [x.error for x in (*rendering.vars, *rendering.require, *rendering.steps) if x.error]
    return max((e.exit_code for e in errors), default=EXIT_OK)
