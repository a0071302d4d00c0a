"""The figures of one labelled set at one operating point, as an evaluation record
(``model.evaluations``): sensitivity, specificity, accuracy, PPV and NPV with Wilson 95%
intervals, AUC with a patient-level bootstrap interval, and ECE (model.metrics.ECE_BINS bins). Used for a local
validation report and for the cross-validated claims of a site calibration alike."""

from __future__ import annotations

from datetime import date as _date
from typing import Optional

import numpy as np

from ..defaults import BOOTSTRAP_RESAMPLES
from ..model.evaluations import make_label
from ..model.metrics import ECE_BINS, expected_calibration_error, patient_bootstrap, roc_auc, wilson_interval
from .card_figures import rounded



def confusion_of(labels, positive) -> dict[str, int]:
    y = np.asarray(labels).astype(bool)
    p = np.asarray(positive).astype(bool)
    return {"tn": int((~y & ~p).sum()), "fp": int((~y & p).sum()), "fn": int((y & ~p).sum()),
            "tp": int((y & p).sum())}


def figures(labels, probs, positive, patients, n_boot: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> dict:
    """{metric: {"value", "ci95"}} for verdicts ``positive`` and probabilities ``probs``.
    Verdicts are passed in (not a threshold) so cross-validated verdicts, each from its own
    fold's threshold, are counted as they were given."""
    y = np.asarray(labels).astype(int)
    p = np.asarray(probs, dtype=np.float64)
    c = confusion_of(y, positive)
    rates = {"sensitivity": (c["tp"], c["tp"] + c["fn"]), "specificity": (c["tn"], c["tn"] + c["fp"]),
             "accuracy": (c["tp"] + c["tn"], y.size), "ppv": (c["tp"], c["tp"] + c["fp"]),
             "npv": (c["tn"], c["tn"] + c["fn"])}
    out = {}
    for name, (hits, n) in rates.items():
        lo, hi = wilson_interval(hits, n)
        out[name] = {"value": rounded(hits / n) if n else None, "ci95": None if lo is None else [rounded(lo), rounded(hi)]}
    auc_ci = patient_bootstrap(y, p, patients, roc_auc, n_boot, seed) if n_boot else (None, None)
    out["auc"] = {"value": rounded(roc_auc(y, p)), "ci95": None if auc_ci[0] is None else [rounded(auc_ci[0]), rounded(auc_ci[1])]}
    out["ece"] = {"value": rounded(expected_calibration_error(y, p, ECE_BINS)), "ci95": None}
    return out


def evaluation_record(set_name: str, described_as: str, labels, probs, positive, patients,
                      threshold: float, method: str, when: Optional[str] = None,
                      n_boot: int = BOOTSTRAP_RESAMPLES) -> dict:
    """A complete record of the ``model.evaluations`` contract."""
    y = np.asarray(labels).astype(int)
    return {"set": set_name, "label": make_label(set_name, int(y.size), described_as),
            "images": int(y.size), "positives": int(y.sum()), "negatives": int(y.size - y.sum()),
            "patients": int(len(set(patients))) if patients is not None else None,
            "threshold": float(threshold), "method": method, "date": when or _date.today().isoformat(),
            "metrics": figures(y, probs, positive, patients, n_boot),
            "confusion": confusion_of(y, positive)}
