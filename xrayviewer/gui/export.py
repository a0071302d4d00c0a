"""Worklist to CSV, in exactly the columns and formatting of ``xrayviewer predict``
(both use :mod:`xrayviewer.model.results_table`)."""

from __future__ import annotations

from typing import Iterable

from ..model.results_table import CSV_COLUMNS, result_row, write_csv_rows
from .worklist import DONE, WorkItem

__all__ = ["CSV_COLUMNS", "item_row", "write_csv"]


def item_row(item: WorkItem) -> dict:
    p = item.prediction if item.status == DONE else None
    error = item.error or ("" if p is not None else f"not scored ({item.status})")
    return result_row(item.path, p, error)


def write_csv(path: str, items: Iterable[WorkItem]) -> int:
    """Write the rows in the given order; returns how many."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        return write_csv_rows(fh, (item_row(item) for item in items))
