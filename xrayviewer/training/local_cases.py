"""A site's labelled cases: a folder in either dataset layout (NORMAL/ + PNEUMONIA/, or the
Kaggle train/ test/ layout), or the files of a folder labelled by a CSV.

The labelled-cases CSV (shared contract): either columns ``path,label`` (path absolute or
relative to the CSV; label PNEUMONIA/NORMAL, any case), or a reads export whose columns
include ``image_sha256``, ``file_name`` and ``read`` (P/N/U; U rows are skipped). Reads rows
are matched to the folder's files by the SHA-256 of the file's bytes, falling back to the
file name. Every Sample gets its patient from the file name (``dataset.patient_id``).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..model.bundle import sha256_of
from ..progress import CancelCheck, Progress, ProgressCallback, check_cancel, no_progress
from .dataset import CLASSES, DatasetError, DatasetScan, Sample, patient_id, scan_dataset

READS_COLUMNS = ("image_sha256", "file_name", "read")
READ_LABELS = {"P": 1, "N": 0}


@dataclass
class LocalCases(DatasetScan):
    """Labelled images to check a model on: a DatasetScan (counts, patients, summary) that
    says where its labels came from."""

    source: str = "folders"  # or "labels CSV <name>"
    skipped: list[str] = field(default_factory=list)  # why rows of a labels CSV were not used
    scan: Optional[DatasetScan] = None  # the folder's scan, when the labels are its folders

    def file_list_sha256(self) -> str:
        """The fingerprint a model records for its training data (``data.list_sha256``): of the
        scanned training part for a Kaggle-layout folder, as fit() computed it."""
        return (self.scan or self).fingerprint()["list_sha256"]


def load_local_cases(folder, labels_csv=None, on_progress: ProgressCallback = no_progress,
                     should_cancel: Optional[CancelCheck] = None) -> LocalCases:
    """The labelled cases of ``folder`` (by its sub-folders, or by ``labels_csv``).
    Raises DatasetError with a message for people."""
    if labels_csv is None:
        scan = scan_dataset(folder, on_progress=on_progress, should_cancel=should_cancel)
        # Kaggle layout: a site's "local cases" are every labelled image it has.
        samples = list(scan.samples) + list(scan.official_test)
        return LocalCases(str(scan.root), scan.layout, samples, list(scan.unreadable), source="folders", scan=scan)
    return _cases_from_csv(Path(folder), Path(labels_csv), on_progress, should_cancel)


def _read_rows(labels_csv: Path) -> tuple[list[str], list[dict]]:
    try:
        with open(labels_csv, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            return [c.strip().lower() for c in (reader.fieldnames or [])], rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"The labels file {labels_csv} could not be read ({exc}).") from None


def _cases_from_csv(folder: Path, labels_csv: Path, on_progress, should_cancel) -> LocalCases:
    from ..imaging import find_images

    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder.")
    columns, rows = _read_rows(labels_csv)
    rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in r.items()} for r in rows]
    skipped: list[str] = []
    labelled: dict[str, int] = {}  # absolute path -> label
    if {"path", "label"} <= set(columns):
        for i, r in enumerate(rows, start=2):
            label = r["label"].upper()
            if label not in CLASSES:
                skipped.append(f"line {i}: label '{r['label']}' is neither NORMAL nor PNEUMONIA")
                continue
            path = Path(r["path"])
            path = path if path.is_absolute() else labels_csv.parent / path
            if not path.is_file():
                skipped.append(f"line {i}: {r['path']} does not exist")
                continue
            labelled[os.path.abspath(path)] = CLASSES.index(label)
    elif set(READS_COLUMNS) <= set(columns):
        files = find_images([str(folder)])
        by_hash, by_name = {}, {}
        for n, path in enumerate(files):
            check_cancel(should_cancel)
            by_hash.setdefault(sha256_of(Path(path)), path)
            by_name.setdefault(os.path.basename(path), path)
            on_progress(Progress("scan", n + 1, len(files), os.path.basename(path)))
        for i, r in enumerate(rows, start=2):
            read = r["read"].upper()
            if read not in READ_LABELS:
                continue  # U (uncertain) and empty reads give no label
            path = by_hash.get(r["image_sha256"].lower()) or by_name.get(r["file_name"])
            if path is None:
                skipped.append(f"line {i}: no file in {folder} matches {r['file_name'] or r['image_sha256'][:12]}")
                continue
            labelled[os.path.abspath(path)] = READ_LABELS[read]
    else:
        raise DatasetError(f"The labels file {labels_csv.name} needs columns path,label or "
                           f"{','.join(READS_COLUMNS)} (a reads export); it has {','.join(columns) or 'none'}.")
    samples = [Sample(p, y, patient_id(os.path.basename(p))) for p, y in sorted(labelled.items())]
    if not samples:
        raise DatasetError(f"The labels file {labels_csv.name} labels no image of {folder}.")
    cases = LocalCases(str(folder), "labels CSV", samples, source=f"labels CSV {labels_csv.name}", skipped=skipped)
    missing = [c for c, n in cases.counts.items() if n == 0]
    if missing:
        raise DatasetError(f"The labels file {labels_csv.name} has no {' or '.join(missing)} case; "
                           "both classes are needed.")
    return cases

