"""The reads log as CSV: ``xrayviewer reads export`` and the window's File > Export Reads...
write exactly these columns (documented in README.md, "Reads export").

The file is also a labelled-cases CSV: ``evaluate``/``calibrate --labels`` match its rows to
image files by ``image_sha256`` (falling back to ``file_name``) and take ``read`` P/N as ground
truth, skipping U. So by default only each image's current (latest) read is written: one
label per case. ``history=True`` writes every read, superseded ones marked ``current=false``.
"""

from __future__ import annotations

import csv
from typing import Iterable, Optional

from ..atomic import atomic_open
from .log import ReadRecord, ReadsLog

#: Column order is a contract (scripts and --labels read it): new columns only ever go at the end.
READS_COLUMNS = ["time_utc", "reader", "image_sha256", "file_name", "read", "note", "model_name", "model_sha256",
                 "probability", "threshold", "verdict", "out_of_distribution", "ood_reasons", "current"]


def record_row(record: ReadRecord) -> dict:
    def cell(value):
        if value is None:
            return ""
        return str(value).lower() if isinstance(value, bool) else str(value)

    return {name: cell(getattr(record, name)) for name in READS_COLUMNS}


def write_reads_rows(fh, records: Iterable[ReadRecord]) -> int:
    writer = csv.DictWriter(fh, fieldnames=READS_COLUMNS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for record in records:
        writer.writerow(record_row(record))
        n += 1
    return n


def export_reads(log: ReadsLog, path, since: Optional[str] = None, history: bool = False) -> int:
    """Write the log's reads to ``path`` atomically; returns the number of rows."""
    records = log.reads(since=since, history=history)
    with atomic_open(path, "w", prefix=".reads-", newline="", encoding="utf-8") as fh:
        return write_reads_rows(fh, records)
