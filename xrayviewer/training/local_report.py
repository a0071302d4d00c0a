"""evaluate_local(): check a model on a site's labelled cases. Returns the report's figures
as one JSON-ready dict; ``report_html.render_report`` turns it into the self-contained HTML
page and ``xrayviewer evaluate --format json`` prints it, so both show the same numbers.

Everything is measured at the model's current threshold and calibration, on the scores
``predict`` gives these files. The card comparison reads the model's evaluation records.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Optional

import numpy as np

from ..model import evaluations
from ..model.metrics import ECE_BINS, reliability_bins, roc_curve
from ..progress import CancelCheck, ProgressCallback, no_progress
from .local_cases import LocalCases, load_local_cases
from .card_figures import rounded
from .local_figures import confusion_of, figures
from .local_scores import CaseScores, score_cases

#: Figures judged against the card: higher is better for each.
JUDGED = ("sensitivity", "specificity", "accuracy", "auc")
CONSISTENT, BELOW, ABOVE = "consistent with the card", "below the card's interval", "above the card's interval"
HISTOGRAM_BINS = 20


def evaluate_local(predictor, folder, labels_csv=None, on_progress: ProgressCallback = no_progress,
                   should_cancel: Optional[CancelCheck] = None) -> dict:
    """Score ``folder``'s labelled cases with ``predictor`` and build the report's figures.
    Raises DatasetError (bad folder or labels), progress.Cancelled."""
    cases = load_local_cases(folder, labels_csv, on_progress, should_cancel)
    scores = score_cases(predictor, cases, on_progress, should_cancel)
    return build_report(predictor.info, cases, scores)


def build_report(info, cases: LocalCases, scores: CaseScores, today: Optional[str] = None) -> dict:
    """The report from scores already computed (tests build it from made-up scores)."""
    threshold = float(info.threshold)
    y, p = scores.labels, scores.probability
    positive = p >= threshold
    local = figures(y, p, positive, scores.patients)
    meta = info.meta
    warnings = []
    trained_on = (meta.get("data") or {}).get("list_sha256")
    if trained_on and trained_on == cases.file_list_sha256():
        warnings.append("These are the images this model was trained on: its figures here are optimistic.")
    fitted_on = ((meta.get("site_calibration") or {}).get("cases") or {}).get("list_sha256")
    if fitted_on and fitted_on == cases.file_list_sha256():
        warnings.append("These are the cases this model's calibration and threshold were fitted on: its figures "
                        "here are in-sample and optimistic. The card's cross-validated figures are the ones to expect "
                        "on new cases.")
    warnings += [f"Labels: {s}" for s in cases.skipped]
    return {
        "model": {"name": info.name, "recipe": meta.get("recipe"), "sha256": meta.get("sha256"),
                  "sha256_prefix": str(meta.get("sha256", ""))[:12], "created": str(meta.get("created", ""))[:10],
                  "path": str(info.keras_path), "threshold": threshold,
                  "calibrated_on": (evaluations.headline(meta) or {}).get("label")},
        "cases": {"root": cases.root, "source": cases.source, "images": len(scores),
                  "positives": int(y.sum()), "negatives": int(y.size - y.sum()),
                  "patients": len(set(scores.patients)), "prevalence": rounded(y.mean()),
                  "date": today or date.today().isoformat()},
        "threshold": threshold,
        "metrics": local,
        "confusion": confusion_of(y, positive),
        "ece_bins": ECE_BINS,
        "card": _card_comparison(meta, local),
        "curves": _curves(y, p, threshold),
        "misses": _listed(scores, (y == 1) & ~positive),
        "false_alarms": _listed(scores, (y == 0) & positive),
        "ood": {"count": int(scores.ood.sum()),
                "cases": [{"path": scores.paths[i], "file": os.path.basename(scores.paths[i]),
                           "probability": rounded(p[i], 6), "reason": scores.ood_reasons[i]}
                          for i in np.flatnonzero(scores.ood)]},
        "unreadable": [{"path": path, "file": os.path.basename(path), "reason": why} for path, why in scores.unreadable],
        "warnings": warnings,
        "cases_scored": [{"path": scores.paths[i], "label": int(y[i]), "probability": rounded(p[i], 6)}
                         for i in range(len(scores))],
    }


def verdict(local_value, card_interval) -> Optional[str]:
    """A local figure against the card's 95% interval for it."""
    if local_value is None or card_interval is None:
        return None
    lo, hi = card_interval
    return BELOW if local_value < lo else ABOVE if local_value > hi else CONSISTENT


def _card_comparison(meta: dict, local: dict) -> list[dict]:
    """One entry per record the card holds (headline first), each figure with its verdict."""
    out = []
    head = evaluations.headline(meta)
    for record in ([head] if head else []) + evaluations.others(meta):
        rows = {}
        for metric in JUDGED + ("ece",):
            card_value = evaluations.value(record, metric)
            ci = evaluations.interval(record, metric)
            rows[metric] = {"card": card_value, "card_ci95": list(ci) if ci else None,
                            "verdict": verdict(local[metric]["value"], ci) if metric in JUDGED else None}
        out.append({"set": record["set"], "label": record["label"], "threshold": record.get("threshold"),
                    "method": record.get("method"), "figures": rows})
    return out


def _curves(y, p, threshold: float) -> dict:
    fpr, tpr, _ = roc_curve(y, p)
    edges = np.linspace(0, 1, HISTOGRAM_BINS + 1)
    return {"roc": {"fpr": [rounded(v) for v in fpr], "tpr": [rounded(v) for v in tpr]},
            "reliability": reliability_bins(y, p, ECE_BINS),
            "histogram": {"edges": [rounded(e) for e in edges],
                          "NORMAL": np.histogram(p[y == 0], edges)[0].tolist(),
                          "PNEUMONIA": np.histogram(p[y == 1], edges)[0].tolist()},
            "threshold": threshold}


def _listed(scores: CaseScores, mask) -> list[dict]:
    """Cases for the radiologist to look at, most confident mistakes first."""
    idx = np.flatnonzero(mask)
    conf = np.abs(scores.probability[idx] - 0.5)
    return [{"path": scores.paths[i], "file": os.path.basename(scores.paths[i]), "patient": scores.patients[i],
             "label": "PNEUMONIA" if scores.labels[i] else "NORMAL", "probability": rounded(scores.probability[i], 6),
             "out_of_distribution": bool(scores.ood[i])}
            for i in idx[np.argsort(-conf, kind="stable")]]
