"""The one definition of a prediction row: `xrayviewer predict` and the GUI's worklist export
write the same columns with the same formatting from here."""

from __future__ import annotations

import csv
from typing import Iterable, Optional, Sequence, TextIO

#: Column order is a contract (scripts read it): new columns only ever go at the end.
CSV_COLUMNS = ["path", "probability", "prediction", "error", "ood_score", "out_of_distribution", "ood_reason"]
#: A calibrated probability is never certain, and the panel says ">99%" / "<1%" at the ends:
#: the file never says 1.0 or 0.0 either (six decimals, like the stored thresholds).
PROBABILITY_BOUNDS = (0.000001, 0.999999)


def probability_cell(probability: float) -> float:
    low, high = PROBABILITY_BOUNDS
    return min(max(round(float(probability), 6), low), high)


def result_row(path: str, prediction=None, error: str = "") -> dict:
    """A row as Python values (None where empty); probabilities with 6 decimals, the same
    precision as stored thresholds, so the shown number and the verdict always agree."""
    p: Optional[object] = prediction
    return {
        "path": path,
        "probability": None if p is None else probability_cell(p.probability),
        "prediction": None if p is None else p.label,
        "error": (error or "").replace("\n", " "),
        "ood_score": None if p is None or p.ood_score is None else round(p.ood_score, 2),
        "out_of_distribution": None if p is None else p.out_of_distribution,
        # Why a row is unreliable ("patient aged 62 years, ..."), so an exported worklist
        # keeps what the panel said.
        "ood_reason": None if p is None or not p.out_of_distribution else p.ood_reason,
    }


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):  # plain decimals: str() writes 1e-06
        text = f"{value:.6f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    return str(value)


def write_csv_rows(fh: TextIO, rows: Iterable[dict], columns: Sequence[str] = tuple(CSV_COLUMNS)) -> int:
    """Header plus rows; returns how many rows. ``columns``: CSV_COLUMNS, or those plus more
    at the end (the worklist export)."""
    writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    n = 0
    for row in rows:
        writer.writerow({k: csv_cell(row.get(k)) for k in columns})
        n += 1
    return n


class RowStream:
    """Rows written one at a time as CSV (header first) or as a JSON list, so that a long run
    shows (and keeps) each result as it is made. ``close()`` ends the table; with no rows
    it is just the CSV header, or ``[]``.

    JSON gives ``"error": null`` for a scored row (None is JSON's "nothing"); the CSV keeps
    its empty cell, as ``write_csv_rows`` does.
    """

    def __init__(self, fh: TextIO, fmt: str = "csv"):
        import json

        self.fh, self.fmt, self.rows = fh, fmt, 0
        self._json = json
        if fmt == "csv":
            self._writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, lineterminator="\n")
            self._writer.writeheader()
        elif fmt != "json":
            raise ValueError(f"unknown format {fmt!r}")

    def write(self, row: dict) -> None:
        if self.fmt == "csv":
            self._writer.writerow({k: csv_cell(row[k]) for k in CSV_COLUMNS})
        else:
            item = {k: row[k] for k in CSV_COLUMNS}
            item["error"] = item["error"] or None
            text = self._json.dumps(item, indent=2, ensure_ascii=False)
            self.fh.write(("[\n" if self.rows == 0 else ",\n") + "  " + text.replace("\n", "\n  "))
        self.rows += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.fh.write("[]\n" if self.rows == 0 else "\n]\n")
