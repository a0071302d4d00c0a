"""Score a site's labelled cases with a model: one pass through the Predictor, kept as
arrays (labels, the network's raw output, the calibrated probability, the OOD flag) so the
report, the cross-validation and the new bundle all read the same numbers that ``predict``
prints for these files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..progress import CancelCheck, ProgressCallback, no_progress
from .dataset import DatasetError
from .local_cases import LocalCases


@dataclass
class CaseScores:
    paths: list[str]
    patients: list[str]
    labels: np.ndarray  # 0 NORMAL, 1 PNEUMONIA
    raw: np.ndarray  # the network's sigmoid output
    probability: np.ndarray  # calibrated by the scoring model's own calibration
    ood: np.ndarray  # bool: out-of-distribution flag
    ood_reasons: list[str]
    unreadable: list[tuple[str, str]]  # (path, reason): files the model could not read

    def __len__(self) -> int:
        return len(self.paths)


def score_cases(predictor, cases: LocalCases, on_progress: ProgressCallback = no_progress,
                should_cancel: Optional[CancelCheck] = None) -> CaseScores:
    """Predict every case; unreadable files are listed, not fatal (DatasetError if none is read)."""
    results = predictor.predict_files([s.path for s in cases.samples], on_progress=on_progress,
                                      should_cancel=should_cancel)
    ok = [(s, r.prediction) for s, r in zip(cases.samples, results) if r.prediction is not None]
    unreadable = list(cases.unreadable) + [(r.path, r.error) for r in results if r.prediction is None]
    if not ok:
        raise DatasetError(f"None of the {len(cases.samples)} images in {cases.root} could be read.")
    return CaseScores(
        paths=[s.path for s, _ in ok], patients=[s.patient for s, _ in ok],
        labels=np.array([s.label for s, _ in ok], dtype=int),
        raw=np.array([p.raw_probability for _, p in ok], dtype=np.float64),
        probability=np.array([p.probability for _, p in ok], dtype=np.float64),
        ood=np.array([p.out_of_distribution for _, p in ok], dtype=bool),
        ood_reasons=[p.ood_reason for _, p in ok], unreadable=unreadable)
