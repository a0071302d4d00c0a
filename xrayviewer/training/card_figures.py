"""The model card's figures for one labelled set: rates with patient-level bootstrap
intervals, AUC, ECE before and after calibration. Plain numpy; training.calibrate (for fit()
and recalibration) and the site calibration call it.
"""

from __future__ import annotations

import numpy as np

from ..defaults import BOOTSTRAP_RESAMPLES
from ..model.metrics import (
    ECE_BINS,
    binary_report,
    bootstrap_intervals,
    expected_calibration_error,
)


def card_numbers(labels, probs, raw_probs, threshold: float, groups, n_boot: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> dict:
    """Validation figures for the model card: accuracy, AUC, sensitivity and specificity at
    ``threshold`` with 95% patient-level bootstrap intervals (``groups`` = patient ids), and
    ECE before/after calibration. Plain numpy: fit() calls it on the validation split."""
    y = np.asarray(labels).astype(int)
    p = np.asarray(probs, dtype=np.float64)
    r = binary_report(y, p, threshold)
    ci = bootstrap_intervals(y, p, threshold, n_boot=n_boot, seed=seed, groups=groups) if n_boot else {}
    metrics = {}
    for k in ("accuracy", "auc", "sensitivity", "specificity"):
        lo, hi = ci.get(k, (float("nan"), float("nan")))
        metrics[k] = {"value": rounded(getattr(r, k)), "ci95": [rounded(lo), rounded(hi)]}
    return {
        "images": int(y.size), "patients": int(len(set(groups))) if groups is not None else None,
        "positives": int(y.sum()), "negatives": int(y.size - y.sum()),
        "threshold": float(threshold), "metrics": metrics,
        "confusion": {"tn": r.tn, "fp": r.fp, "fn": r.fn, "tp": r.tp},
        "ece_before": rounded(expected_calibration_error(y, raw_probs, ECE_BINS)),
        "ece_after": rounded(expected_calibration_error(y, p, ECE_BINS)),
        "bootstrap": {"resamples": int(n_boot), "unit": "patient", "seed": seed, "interval": "2.5-97.5 percentile"},
    }


def rounded(v, digits: int = 4):
    """A figure for JSON and people: ``digits`` decimals, None for a missing or undefined one."""
    if v is None:
        return None
    v = float(v)
    return round(v, digits) if np.isfinite(v) else None
