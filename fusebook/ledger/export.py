"""The ledger as CSV: one row per record, oldest first, for spreadsheets and MES imports.

Mappings (input digests, per-unit values, key fingerprints), the recipe's files and the plan are written as
compact JSON text in their cells, so a row holds the whole record and nothing is lost.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, TextIO

from fusebook.ledger.record import LedgerRecord

CSV_COLUMNS = (
    "id", "started_at", "finished_at", "outcome", "exit_code", "error",
    "chip_type", "revision", "factory_mac", "recipe_name", "recipe_sha256", "recipe_files", "index",
    "input_digests", "unique_values", "key_fingerprints", "plan_digest",
    "before_token", "after_token", "plan", "host", "pid", "fusebook_version",
)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def write_csv(records: Iterable[LedgerRecord], stream: TextIO) -> int:
    """Write a header and one row per record; returns the number of rows.

    Open a file for this with `newline=""`, as the csv module asks, so cells holding
    line breaks (error messages) stay in one row.
    """
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for record in records:
        body = record.to_json()
        body["plan"] = record.plan_json
        writer.writerow([_cell(body[c]) for c in CSV_COLUMNS])
        count += 1
    return count
