"""The reads audit log: one SQLite file in the per-user data folder, append-only.

Why SQLite: one file, transactional (a crash mid-write loses at most the row being written,
never earlier ones), readable by any audit tool. WAL mode lets the window append while an
export (or a second process such as ``xrayviewer reads export``) reads. Triggers make both
tables append-only: a changed read is a new row, and the latest row per image is the current
read; the history stays.

What is stored about a case is deliberately thin: the SHA-256 of the file's bytes (to match it
again later), its file name, and the model's answer. No pixels, no folder path, and nothing
from the DICOM header (patient name, ID, birth date, accession number never reach this module).
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from ..model.bundle import sha256_of
from ..paths import user_data_dir

LOG_FILE_NAME = "reads.sqlite3"
SCHEMA_VERSION = 1
#: P pneumonia, N no pneumonia, U unsure.
READ_CODES = ("P", "N", "U")
READ_WORDS = {"P": "pneumonia", "N": "no pneumonia", "U": "unsure"}
#: What else the log records, so an audit can say which model produced which number when.
EVENT_KINDS = ("model-switch", "training-start", "training-end", "training-cancel", "training-failed",
               "export-reads", "export-worklist", "export-snapshot", "calibration", "model-deleted")
NOTE_MAX = 500  # a short note, not a report

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS reads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_utc TEXT NOT NULL,
    reader TEXT NOT NULL,
    image_sha256 TEXT NOT NULL,
    file_name TEXT NOT NULL,
    model_name TEXT,
    model_sha256 TEXT,
    probability REAL,
    threshold REAL,
    verdict TEXT,
    out_of_distribution INTEGER,
    ood_reasons TEXT,
    read TEXT NOT NULL CHECK (read IN ('P', 'N', 'U')),
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS reads_by_image ON reads (image_sha256, id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_utc TEXT NOT NULL,
    reader TEXT NOT NULL,
    kind TEXT NOT NULL,
    model_name TEXT,
    model_sha256 TEXT,
    details TEXT NOT NULL DEFAULT '{{}}'
);
CREATE TRIGGER IF NOT EXISTS reads_no_update BEFORE UPDATE ON reads
    BEGIN SELECT RAISE(ABORT, 'the reads log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS reads_no_delete BEFORE DELETE ON reads
    BEGIN SELECT RAISE(ABORT, 'the reads log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the reads log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the reads log is append-only'); END;
PRAGMA user_version = {SCHEMA_VERSION};
"""


class ReadsLogError(Exception):
    """The log cannot be opened or written (disk full, permissions, damaged). Message for people."""


@dataclass(frozen=True)
class ReadRecord:
    """One row of the reads table; ``current`` is True for the latest read of its image."""

    id: int
    time_utc: str
    reader: str
    image_sha256: str
    file_name: str
    model_name: Optional[str]
    model_sha256: Optional[str]
    probability: Optional[float]
    threshold: Optional[float]
    verdict: Optional[str]
    out_of_distribution: Optional[bool]
    ood_reasons: Optional[str]
    read: str
    note: str
    current: bool = True


def default_log_path() -> Path:
    return user_data_dir() / LOG_FILE_NAME


def reader_default() -> str:
    """The OS user name, the reader's name until Preferences says otherwise."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (some containers): still a usable label
        return os.environ.get("USER") or os.environ.get("USERNAME") or "reader"


def file_sha256(path) -> str:
    """SHA-256 of the file's bytes: the case's identity in the log and in label CSVs."""
    return sha256_of(Path(path))


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_since(text: str) -> str:
    """``YYYY-MM-DD`` or an ISO time, as the UTC timestamp string the log compares with."""
    text = text.strip()
    try:
        if len(text) == 10:
            moment = _dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=_dt.timezone.utc)
        else:
            moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=_dt.timezone.utc)
    except ValueError:
        raise ValueError(f"'{text}' is not a date (use YYYY-MM-DD)") from None
    return moment.astimezone(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class ReadsLog:
    """The audit log. Each call opens a short transaction; safe to use from one thread at a time."""

    def __init__(self, path=None, handed_over: bool = False):
        """``handed_over``: the log may be opened on one thread and then used on another (one
        at a time): the window opens it in the background, as creating it costs ~80 ms."""
        self.path = Path(path) if path is not None else default_log_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=10, isolation_level=None,
                                       check_same_thread=not handed_over)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a read the reader saw recorded survives a power cut
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ReadsLogError(f"The reads log {self.path} cannot be opened: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()

    def _insert(self, table: str, row: dict) -> int:
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        try:
            with self._db:
                cur = self._db.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(row.values()))
        except sqlite3.Error as exc:
            raise ReadsLogError(f"The read could not be recorded in {self.path}: {exc}") from None
        return int(cur.lastrowid)

    # ---- writing ----------------------------------------------------------------------
    def record_read(self, *, reader: str, image_sha256: str, file_name: str, read: str, note: str = "",
                    prediction=None, model_name: Optional[str] = None, model_sha256: Optional[str] = None,
                    time_utc: Optional[str] = None) -> int:
        """Append one read. ``prediction`` (a model.Prediction or None) gives the model's answer
        the reader saw; ``file_name`` is reduced to its base name (no folders in the log)."""
        read = read.upper()
        if read not in READ_CODES:
            raise ValueError(f"a read is one of {', '.join(READ_CODES)}, not {read!r}")
        p = prediction
        return self._insert("reads", {
            "time_utc": time_utc or utc_now(),
            "reader": reader,
            "image_sha256": image_sha256,
            "file_name": os.path.basename(str(file_name)),
            "model_name": model_name,
            "model_sha256": model_sha256,
            # Full precision: an audit needs the number the model gave, not the panel's rounding.
            "probability": None if p is None else float(p.probability),
            "threshold": None if p is None else float(p.threshold),
            "verdict": None if p is None else p.label,
            "out_of_distribution": None if p is None else int(bool(p.out_of_distribution)),
            "ood_reasons": None if p is None or not p.out_of_distribution else p.ood_reason,
            "read": read,
            "note": " ".join(str(note or "").split())[:NOTE_MAX],
        })

    def record_event(self, kind: str, *, reader: str, model_name: Optional[str] = None,
                     model_sha256: Optional[str] = None, details: Optional[dict] = None,
                     time_utc: Optional[str] = None) -> int:
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        return self._insert("events", {
            "time_utc": time_utc or utc_now(), "reader": reader, "kind": kind, "model_name": model_name,
            "model_sha256": model_sha256, "details": json.dumps(details or {}, sort_keys=True, default=str),
        })

    # ---- reading ----------------------------------------------------------------------
    def reads(self, since: Optional[str] = None, history: bool = False) -> list[ReadRecord]:
        """Reads in the order they were made. Without ``history``, only each image's latest
        read (the current one); ``since`` (UTC timestamp string) keeps reads made from then on."""
        query = ("SELECT r.*, r.id = (SELECT MAX(id) FROM reads WHERE image_sha256 = r.image_sha256) AS current "
                 "FROM reads r")
        where, args = [], []
        if since:
            where.append("r.time_utc >= ?")
            args.append(since)
        if not history:
            where.append("r.id = (SELECT MAX(id) FROM reads WHERE image_sha256 = r.image_sha256)")
        if where:
            query += " WHERE " + " AND ".join(where)
        try:
            rows = self._db.execute(query + " ORDER BY r.id", args).fetchall()
        except sqlite3.Error as exc:
            raise ReadsLogError(f"The reads log {self.path} cannot be read: {exc}") from None
        return [_record(row) for row in rows]

    def current_reads(self, sha256s: Iterable[str]) -> dict[str, ReadRecord]:
        """{image_sha256: latest read} for the given images (those never read are absent).
        One indexed query per chunk: a folder opened in the window asks for all its files."""
        wanted = sorted(set(sha256s))
        out: dict[str, ReadRecord] = {}
        for start in range(0, len(wanted), 500):  # below SQLite's bound-parameter limit
            chunk = wanted[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            try:
                rows = self._db.execute(
                    f"SELECT r.*, 1 FROM reads r WHERE r.image_sha256 IN ({marks}) "
                    "AND r.id = (SELECT MAX(id) FROM reads WHERE image_sha256 = r.image_sha256)", chunk).fetchall()
            except sqlite3.Error as exc:
                raise ReadsLogError(f"The reads log {self.path} cannot be read: {exc}") from None
            out.update((record.image_sha256, record) for record in map(_record, rows))
        return out

    def events(self, kind: Optional[str] = None) -> list[dict]:
        query, args = "SELECT * FROM events", []
        if kind:
            query, args = query + " WHERE kind = ?", [kind]
        cur = self._db.execute(query + " ORDER BY id", args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row), details=json.loads(row[names.index("details")])) for row in cur.fetchall()]


def _record(row) -> ReadRecord:
    (id_, time_utc, reader, sha, name, model_name, model_sha, prob, thr, verdict, ood, reasons, read, note,
     current) = row
    return ReadRecord(id_, time_utc, reader, sha, name, model_name, model_sha, prob, thr, verdict,
                      None if ood is None else bool(ood), reasons, read, note, bool(current))
