"""Classification metrics in plain numpy (no TensorFlow, no scikit-learn): ROC/AUC,
operating points, confusion matrix, expected calibration error, bootstrap intervals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np

from ..defaults import BOOTSTRAP_RESAMPLES

#: Equal-width probability bins of the expected calibration error and the reliability
#: diagram, everywhere a figure is stated (model card, evaluate, local report).
ECE_BINS = 15


def roc_curve(labels, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), thresholds descending; predicting positive means score >= t."""
    y = np.asarray(labels, dtype=np.int8)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.where(np.diff(s))[0]
    idx = np.r_[distinct, y.size - 1]
    tps = np.cumsum(y)[idx]
    fps = (idx + 1) - tps
    pos, neg = max(int(y.sum()), 1), max(int(y.size - y.sum()), 1)
    tpr = np.r_[0.0, tps / pos]
    fpr = np.r_[0.0, fps / neg]
    thresholds = np.r_[np.inf, s[idx]]
    return fpr, tpr, thresholds


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve (ties counted half), NaN when one class is missing."""
    y = np.asarray(labels).astype(bool)
    if y.all() or (~y).all():
        return float("nan")
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.trapezoid(tpr, fpr)) if hasattr(np, "trapezoid") else float(np.trapz(tpr, fpr))


@dataclass(frozen=True)
class BinaryReport:
    n: int
    accuracy: float
    auc: float
    sensitivity: float
    specificity: float
    tn: int
    fp: int
    fn: int
    tp: int
    threshold: float
    ece: float

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def confusion(labels, scores, threshold: float) -> tuple[int, int, int, int]:
    y = np.asarray(labels).astype(bool)
    p = np.asarray(scores) >= threshold
    return int((~y & ~p).sum()), int((~y & p).sum()), int((y & ~p).sum()), int((y & p).sum())


def expected_calibration_error(labels, probs, bins: int = ECE_BINS) -> float:
    """ECE with equal-width bins on the predicted probability of the positive class."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.clip(np.asarray(probs, dtype=np.float64), 0, 1)
    if p.size == 0:
        return float("nan")
    which = np.minimum((p * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(ece)


def reliability_bins(labels, probs, bins: int = ECE_BINS) -> list[dict]:
    """Per-bin mean confidence, observed frequency and count (for the reliability diagram)."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.clip(np.asarray(probs, dtype=np.float64), 0, 1)
    which = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        m = which == b
        out.append({"low": b / bins, "high": (b + 1) / bins, "count": int(m.sum()),
                    "confidence": float(p[m].mean()) if m.any() else None,
                    "frequency": float(y[m].mean()) if m.any() else None})
    return out


def binary_report(labels, probs, threshold: float = 0.5) -> BinaryReport:
    tn, fp, fn, tp = confusion(labels, probs, threshold)
    n = tn + fp + fn + tp
    return BinaryReport(
        n=n,
        accuracy=(tp + tn) / n if n else float("nan"),
        auc=roc_auc(labels, probs),
        sensitivity=tp / (tp + fn) if tp + fn else float("nan"),
        specificity=tn / (tn + fp) if tn + fp else float("nan"),
        tn=tn, fp=fp, fn=fn, tp=tp,
        threshold=float(threshold),
        ece=expected_calibration_error(labels, probs),
    )


def threshold_for_sensitivity(labels, probs, target: float) -> float:
    """The highest threshold whose sensitivity reaches ``target`` (best specificity under it).

    Works on any score that rises with the probability (log-odds too: the benchmarks threshold
    the network's logit, which has no saturation at 1.0): the threshold is one of the scores.
    Only the curve's leading +inf (a target of 0) becomes 1.0."""
    fpr, tpr, thr = roc_curve(labels, probs)
    ok = np.where(tpr >= target)[0]
    i = int(ok[0]) if ok.size else len(thr) - 1
    t = float(thr[i])
    return t if np.isfinite(t) else 1.0


def operating_point_table(labels, probs) -> dict:
    """The validation ROC as a lookup table: stored in the model metadata so the app can say,
    for any threshold, what sensitivity and specificity to expect (read by operating_point).

    One row per distinct validation score t (ascending), with the sensitivity and specificity
    of "positive when score >= t". Between two scores nothing changes, so the lookup is an
    exact step function, not an interpolation (a fixed 0.01 grid is too coarse where
    calibrated scores crowd near 0 and 1).
    """
    y = np.asarray(labels).astype(bool)
    p = np.asarray(probs, dtype=np.float64)
    thresholds = np.unique(p)  # ascending
    pos, neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    # Positives with score >= t, for each t: counts from the right end of the sorted scores.
    order = np.sort(p[y])
    order_neg = np.sort(p[~y])
    tp = y.sum() - np.searchsorted(order, thresholds, side="left")
    tn = np.searchsorted(order_neg, thresholds, side="left")
    return {"kind": "roc",
            "thresholds": [float(t) for t in thresholds],
            "sensitivity": [round(float(v), 6) for v in tp / pos],
            "specificity": [round(float(v), 6) for v in tn / neg],
            "positives": int(y.sum()), "negatives": int((~y).sum())}


def operating_point(table: dict, threshold: float) -> tuple[float, float]:
    """Expected (sensitivity, specificity) at ``threshold`` (calibrated-probability scale).

    For a "roc" table (see operating_point_table) this is exact on the validation set: the
    row of the smallest validation score >= threshold; above every score nothing is called
    positive (sensitivity 0, specificity 1). Older bundles store a 101-point grid
    without "kind"; those are linearly interpolated as before.
    """
    t = np.asarray(table["thresholds"], dtype=np.float64)
    if table.get("kind") != "roc":
        return (float(np.interp(threshold, t, table["sensitivity"])),
                float(np.interp(threshold, t, table["specificity"])))
    i = int(np.searchsorted(t, float(threshold), side="left"))
    if i >= t.size:
        return 0.0, 1.0
    return float(table["sensitivity"][i]), float(table["specificity"][i])


def table_threshold_for_sensitivity(table: dict, target: float) -> float:
    """The highest threshold whose validation sensitivity (from an operating-point table)
    reaches ``target``: the inverse lookup, for a user who asks for a sensitivity."""
    t = np.asarray(table["thresholds"], dtype=np.float64)
    sens = np.asarray(table["sensitivity"], dtype=np.float64)
    ok = np.where(sens >= target - 1e-12)[0]
    return float(t[ok[-1]]) if ok.size else float(t[0])


def bootstrap_intervals(labels, probs, threshold: float, n_boot: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
                        groups=None) -> dict[str, tuple[float, float]]:
    """95% percentile intervals for accuracy, AUC, sensitivity and specificity.

    With ``groups`` (patient ids) the resampling draws patients, not images, so correlated
    images of one patient do not narrow the interval dishonestly.
    """
    y = np.asarray(labels)
    p = np.asarray(probs)
    stats = {"accuracy": [], "auc": [], "sensitivity": [], "specificity": []}
    for idx in patient_resamples(np.arange(y.size) if groups is None else groups, n_boot, seed):
        r = binary_report(y[idx], p[idx], threshold)
        for k in stats:
            stats[k].append(getattr(r, k))
    out = {k: (float(np.nanpercentile(v, 2.5)), float(np.nanpercentile(v, 97.5))) for k, v in stats.items()}
    # With no errors at all (e.g. 0 false alarms), every resample also has none and the
    # percentile interval collapses to [1, 1], which reads as certainty. Use the exact
    # (Clopper-Pearson) interval for that boundary case instead: [(0.025)^(1/n), 1].
    full = binary_report(y, p, threshold)
    counts = {"accuracy": (full.tp + full.tn, y.size), "sensitivity": (full.tp, full.tp + full.fn),
              "specificity": (full.tn, full.tn + full.fp)}
    for k, (hits, n) in counts.items():
        if n and hits == n:
            out[k] = (float(0.025 ** (1.0 / n)), 1.0)
        elif n and hits == 0:
            out[k] = (0.0, float(1.0 - 0.025 ** (1.0 / n)))
    return out


def wilson_interval(hits: int, n: int, z: float = 1.959964) -> tuple[Optional[float], Optional[float]]:
    """The Wilson score 95% interval of a rate hits/n (Wilson, 1927): unlike the normal
    approximation it stays inside [0, 1] and is not empty at 0 or n errors. (None, None) for n = 0."""
    if n <= 0:
        return None, None
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 or n hits the bound is exactly 0 or 1 (rounding would leave 0.9999999999999999).
    lo = 0.0 if hits == 0 else max(0.0, centre - half)
    hi = 1.0 if hits == n else min(1.0, centre + half)
    return float(lo), float(hi)


def patient_resamples(groups, n_boot: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Iterator[np.ndarray]:
    """``n_boot`` bootstrap resamples of patients, as index arrays into ``groups`` (one patient
    id per image): each draws as many patients as there are, with replacement, and takes all
    of a drawn patient's images, so a patient's correlated films do not narrow an interval.
    The same ``groups`` and ``seed`` give the same resamples (paired comparisons rely on it)."""
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    members = [np.where(inverse == k)[0] for k in range(inverse.max() + 1)] if inverse.size else []
    if not members:
        return
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield np.concatenate([members[k] for k in rng.integers(0, len(members), len(members))])


def patient_bootstrap(labels, scores, groups, statistic, n_boot: int = BOOTSTRAP_RESAMPLES,
                      seed: int = 0) -> tuple[Optional[float], Optional[float]]:
    """2.5-97.5 percentile interval of ``statistic(labels, scores)`` over resamples of patients
    (all of a patient's images together, so a patient's correlated films do not narrow it)."""
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    values = np.asarray([statistic(y[idx], s[idx]) for idx in patient_resamples(groups, n_boot, seed)],
                        dtype=np.float64)
    if not values.size or not np.isfinite(values).any():
        return None, None
    return float(np.nanpercentile(values, 2.5)), float(np.nanpercentile(values, 97.5))
