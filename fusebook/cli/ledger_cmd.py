"""`fusebook ledger list|show|export`: reading the burn ledger."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from fusebook import api
from fusebook.api import InputError
from fusebook.cli.render import table


def ledger_target(args: argparse.Namespace) -> str:
    """`--ledger`, else $FUSEBOOK_LEDGER, else fusebook-ledger.sqlite: a path or a postgresql:// URL."""
    return str(args.ledger or os.environ.get("FUSEBOOK_LEDGER") or "fusebook-ledger.sqlite")


#: How much of a record's recipe digest `ledger list` shows: enough to tell recipes apart.
DIGEST_SHOWN = 12


def show_text(data: dict[str, Any]) -> str:
    """`ledger show`: a line per field; the files the plan read a line each, under it."""
    lines = []
    for k, v in data.items():
        if k == "recipe_files":
            lines.append(f"{k}:" + ("" if v else " (not recorded)"))
            lines += [f"  {f['path']}  {f['digest']}" for f in v]
        else:
            lines.append(f"{k}: {v}")
    return "\n".join(lines)


def run_ledger(args: argparse.Namespace, out: Any) -> int:
    target = ledger_target(args)
    path = api.ledger_file(target)
    if path is not None:
        if args.action == "export" and args.output is not None and args.output.resolve() == path.resolve():
            raise InputError(f"-o {args.output} is the ledger itself", hint="export to another file")
        if not path.exists():
            raise InputError(f"{path}: no ledger here", hint="give --ledger PATH|URL (or set FUSEBOOK_LEDGER)")
    with api.open_ledger(target, create=False, check_pages=args.action == "check") as ledger:
        if args.action == "check":  # the open above checked the schema (and an SQLite file's pages)
            pages = ledger.kind == "sqlite"
            out.emit({"ledger": ledger.where, "ok": True, "pages_checked": pages,
                      "pages_checked_at": ledger.pages_checked_at},
                     f"ledger {ledger.where}: sound (" + (
                         "every page read" if pages else
                         "tables, columns and triggers; the server checks its own pages") +
                     f", schema version {ledger.schema_version})")
            return 0
        if args.action == "list" and args.allocations:
            allocations = ledger.allocations(args.limit, args.chip_mac, args.recipe)
            out.emit(
                {"allocations": [a.to_json() for a in allocations]},
                lambda: table(
                    ((a.id, a.allocated_at, a.recipe_name, a.index, a.factory_mac, a.index_range,
                      a.host, a.state or "-") for a in allocations),
                    ("id", "allocated", "recipe", "index", "factory MAC", "range", "host", "state"),
                ),
            )
            return 0
        if args.allocations:
            raise InputError("--allocations goes with `ledger list`")
        if args.action == "list":
            records = list(ledger.list(args.limit, args.chip_mac, args.recipe))
            out.emit(
                {"records": [r.to_json() for r in records]},
                lambda: table(
                    ((r.id, r.started_at, r.chip_type, r.factory_mac, r.recipe_name,
                      "" if r.index is None else r.index, r.outcome, r.recipe_sha256[:DIGEST_SHOWN])
                     for r in records),
                    ("id", "started", "chip", "factory MAC", "recipe", "index", "outcome", "recipe digest"),
                ),
            )
            return 0
        if args.action == "show":
            if args.id is None:
                raise InputError("`ledger show` needs a record id")
            record = ledger.get(args.id)
            if record is None:
                raise InputError(f"no ledger record {args.id} in {ledger.where}")
            data = record.to_json()
            out.emit(data, lambda: show_text(data))
            return 0
        if not args.csv and out.fmt != "json":
            raise InputError("`ledger export` writes CSV: add --csv")
        if args.output:
            try:
                f = open(args.output, "w", newline="")
            except (OSError, ValueError) as e:
                raise InputError(f"cannot write {args.output}: {getattr(e, 'strerror', None) or e}",
                                 hint="give -o a path in a folder that exists and is writable") from None
            with f:
                n = ledger.export_csv(f, args.chip_mac, args.recipe)
            out.emit({"written": str(args.output), "records": n}, f"wrote {n} records to {args.output}")
        else:
            ledger.export_csv(sys.stdout, args.chip_mac, args.recipe)
        return 0
