"""Worklist to CSV, in exactly the columns and formatting of ``xrayviewer predict``
(both use :mod:`xrayviewer.model.results_table`)."""

from __future__ import annotations

from typing import Iterable

from ..atomic import atomic_open
from ..model.results_table import CSV_COLUMNS, result_row, write_csv_rows
from .worklist import DONE, WorkItem

__all__ = ["CSV_COLUMNS", "item_row", "write_csv"]


def item_row(item: WorkItem) -> dict:
    p = item.prediction if item.status == DONE else None
    error = item.error or ("" if p is not None else f"not scored ({item.status})")
    return result_row(item.path, p, error)


def write_csv(path: str, items: Iterable[WorkItem]) -> int:
    """Write the rows in the given order; returns how many.

    The file appears whole or not at all: rows go to a temporary file beside it, which then
    replaces ``path``. A full disk or a lost network share midway used to leave a truncated
    CSV in place of the one the user chose to overwrite. OSError still reaches the caller.
    """
    with atomic_open(path, "w", prefix=".worklist-", newline="", encoding="utf-8") as fh:
        return write_csv_rows(fh, (item_row(item) for item in items))
