"""Dataset scanning: find labelled radiographs in the Kaggle or a plain two-folder layout."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..imaging import is_candidate_image
from ..progress import CancelCheck, Progress, ProgressCallback, check_cancel, no_progress

CLASSES = ("NORMAL", "PNEUMONIA")  # label 0, label 1

_PERSON = re.compile(r"^(person\d+)_", re.IGNORECASE)
_IM = re.compile(r"^((?:NORMAL2-)?IM-\d+)-", re.IGNORECASE)


def patient_id(filename: str) -> str:
    """The patient a file belongs to, from the dataset's naming scheme.

    person123_bacteria_456.jpeg -> person123; IM-0115-0001(-0002).jpeg -> IM-0115;
    NORMAL2-IM-1427-0001.jpeg -> NORMAL2-IM-1427. Any other name is its own patient.
    """
    stem = Path(filename).stem
    for pattern in (_PERSON, _IM):
        m = pattern.match(stem)
        if m:
            return m.group(1)
    return stem


@dataclass(frozen=True)
class Sample:
    path: str
    label: int  # 0 NORMAL, 1 PNEUMONIA
    patient: str


def class_counts(samples) -> dict[str, int]:
    """{"NORMAL": n, "PNEUMONIA": n} of a list of Samples."""
    return {c: sum(1 for s in samples if s.label == i) for i, c in enumerate(CLASSES)}


@dataclass
class DatasetScan:
    root: str
    layout: str  # "kaggle" or "two-folder"
    samples: list[Sample] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    official_test: list[Sample] = field(default_factory=list)  # test/ when present: never trained on

    @property
    def counts(self) -> dict[str, int]:
        return class_counts(self.samples)

    @property
    def patients(self) -> int:
        return len({s.patient for s in self.samples})

    def fingerprint(self) -> dict:
        """File count and a hash of the sorted relative file list: identifies the training data."""
        rel = sorted(os.path.relpath(s.path, self.root).replace(os.sep, "/") for s in self.samples)
        return {"files": len(rel), "list_sha256": hashlib.sha256("\n".join(rel).encode()).hexdigest()}

    def summary(self) -> str:
        c = self.counts
        text = (f"{len(self.samples)} images ({c['NORMAL']} NORMAL, {c['PNEUMONIA']} PNEUMONIA) "
                f"from {self.patients} patients")
        if self.unreadable:
            text += f"; {len(self.unreadable)} unreadable file(s) skipped"
        return text


class DatasetError(Exception):
    """The folder is not a usable dataset; the message says what was expected."""


def _class_dirs(folder: Path) -> Optional[dict[int, Path]]:
    found = {}
    if folder.is_dir():
        for child in folder.iterdir():
            if child.is_dir() and child.name.upper() in CLASSES:
                found[CLASSES.index(child.name.upper())] = child
    return found if len(found) == 2 else None


def _collect(class_dirs: dict[int, Path], verify: bool, scan: DatasetScan, on_progress, should_cancel):
    files = []
    for label, d in sorted(class_dirs.items()):
        for root, _dirs, names in os.walk(d):
            for n in sorted(names):
                full = os.path.join(root, n)
                if not n.startswith(".") and is_candidate_image(full):
                    files.append((full, label))
    out = []
    for i, (full, label) in enumerate(files):
        check_cancel(should_cancel)
        reason = _check_readable(full) if verify else ""
        if reason:
            scan.unreadable.append((full, reason))
        else:
            out.append(Sample(full, label, patient_id(os.path.basename(full))))
        if i % 200 == 0 or i == len(files) - 1:
            on_progress(Progress("scan", i + 1, len(files), os.path.basename(full)))
    return out


def _check_readable(path: str) -> str:
    """Cheap header check (no full decode): '' when the file looks like an image."""
    from ..imaging.dicom import is_dicom_file

    if os.path.getsize(path) == 0:
        return "empty file"
    if is_dicom_file(path):
        return ""
    try:
        from PIL import Image

        with Image.open(path) as im:
            im.verify()
    except Exception as exc:  # noqa: BLE001 - any failure means "skip and list it"
        return f"not a readable image ({type(exc).__name__})"
    return ""


def scan_dataset(root, verify: bool = True, on_progress: ProgressCallback = no_progress,
                 should_cancel: Optional[CancelCheck] = None) -> DatasetScan:
    """Find NORMAL/PNEUMONIA images under ``root``.

    Kaggle layout: root/train/{NORMAL,PNEUMONIA} (+ optional val/ merged into training data,
    since we carve our own patient-level validation, and test/ kept apart). Plain layout:
    root/{NORMAL,PNEUMONIA}. Also accepts root pointing at a train/ folder directly.
    """
    root_path = Path(root)
    if not root_path.is_dir():
        raise DatasetError(f"{root} is not a folder.")
    scan = DatasetScan(root=str(root_path), layout="")
    train = _class_dirs(root_path / "train")
    if train:
        scan.layout = "kaggle"
        scan.samples = _collect(train, verify, scan, on_progress, should_cancel)
        val = _class_dirs(root_path / "val")
        if val:
            scan.samples += _collect(val, verify, scan, on_progress, should_cancel)
        test = _class_dirs(root_path / "test")
        if test:
            scan.official_test = _collect(test, verify, scan, on_progress, should_cancel)
    else:
        plain = _class_dirs(root_path)
        if not plain:
            raise DatasetError(
                f"{root} has neither train/NORMAL + train/PNEUMONIA (Kaggle layout) nor "
                "NORMAL + PNEUMONIA sub-folders.")
        scan.layout = "two-folder"
        scan.samples = _collect(plain, verify, scan, on_progress, should_cancel)
    counts = scan.counts
    if not scan.samples:
        raise DatasetError(f"{root} contains no readable images in its NORMAL and PNEUMONIA folders.")
    if min(counts.values()) == 0:
        empty = [c for c, n in counts.items() if n == 0]
        raise DatasetError(f"{root} has no images of class {', '.join(empty)}; both classes are needed.")
    return scan
