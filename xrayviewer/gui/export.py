"""Worklist to CSV, in exactly the columns and formatting of ``xrayviewer predict``.

The formatting mirrors ``xrayviewer.cli._result_row``; the gui layer may not import the cli
(the layer above it), so tests/gui/test_export.py holds the two to the same output.
"""

from __future__ import annotations

import csv
from typing import Iterable

from .worklist import DONE, WorkItem

CSV_COLUMNS = ["path", "probability", "prediction", "error", "ood_score", "out_of_distribution"]


def item_row(item: WorkItem) -> dict:
    p = item.prediction if item.status == DONE else None
    error = item.error or ("" if p is not None else f"not scored ({item.status})")
    return {
        "path": item.path,
        "probability": None if p is None else round(p.probability, 6),
        "prediction": None if p is None else p.label,
        "error": error.replace("\n", " "),
        "ood_score": None if p is None or p.ood_score is None else round(p.ood_score, 2),
        "out_of_distribution": None if p is None else p.out_of_distribution,
    }


def _cell(value) -> str:
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def write_csv(path: str, items: Iterable[WorkItem]) -> int:
    """Write the rows in the given order; returns how many."""
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for item in items:
            row = item_row(item)
            writer.writerow({k: _cell(row[k]) for k in CSV_COLUMNS})
            n += 1
    return n
