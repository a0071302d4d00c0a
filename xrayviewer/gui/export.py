"""Worklist to CSV: the columns and formatting of ``xrayviewer predict`` (both use
:mod:`xrayviewer.model.results_table`), then, at the end, what a reader needs to trust a row
later: the model that scored it, its threshold, and the probability as the panel showed it."""

from __future__ import annotations

from typing import Iterable

from ..atomic import atomic_open
from ..model.results_table import CSV_COLUMNS, result_row, write_csv_rows
from . import wording
from .worklist import DONE, WorkItem

__all__ = ["CSV_COLUMNS", "WORKLIST_COLUMNS", "item_row", "write_csv"]
#: The predict columns, then the worklist's own (new columns only ever go at the end).
WORKLIST_COLUMNS = [*CSV_COLUMNS, "model", "threshold", "probability_shown"]


def item_row(item: WorkItem) -> dict:
    """The predict row of ``item`` (exactly the CLI's, for the CLI's columns)."""
    p = item.prediction if item.status == DONE else None
    error = item.error or ("" if p is not None else f"not scored ({item.status})")
    return result_row(item.path, p, error)


def worklist_row(item: WorkItem, model_name: str = "") -> dict:
    p = item.prediction if item.status == DONE else None
    return {**item_row(item), "model": model_name if p is not None else "",
            "threshold": None if p is None else round(float(p.threshold), 6),
            "probability_shown": None if p is None else wording.percent(p.probability)}


def write_csv(path: str, items: Iterable[WorkItem], model_name: str = "") -> int:
    """Write the rows in the given order; returns how many.

    The file appears whole or not at all: rows go to a temporary file beside it, which then
    replaces ``path``. A full disk or a lost network share midway used to leave a truncated
    CSV in place of the one the user chose to overwrite. OSError still reaches the caller.
    """
    with atomic_open(path, "w", prefix=".worklist-", newline="", encoding="utf-8") as fh:
        return write_csv_rows(fh, (worklist_row(item, model_name) for item in items), WORKLIST_COLUMNS)
