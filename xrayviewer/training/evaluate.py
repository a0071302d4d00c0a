"""evaluate_folder(): score a labelled folder with a model and report accuracy, AUC,
sensitivity, specificity, calibration (ECE before/after temperature scaling), the OOD flag
rate, and optionally ROC and reliability plots.

A plain function like fit(): progress out through ``on_progress``, cancellation in through
``should_cancel``; the CLI and the GUI call the same code. Plots are drawn with matplotlib's
Agg canvas (no pyplot, no Qt, no global backend switch: safe inside the GUI process too).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np

from ..model.metrics import (binary_report, bootstrap_intervals, confusion, expected_calibration_error,
                             reliability_bins, roc_auc, roc_curve)
from ..progress import CancelCheck, ProgressCallback, no_progress
from .dataset import DatasetError, DatasetScan, Sample, scan_dataset
from .split import patient_split

ECE_BINS = 15
SPLITS = ("all", "validation", "test")


# --------------------------------------------------------------------------------------------
# Numbers for the model card (also stored by fit() in metadata["validation_card"])


def card_numbers(labels, probs, raw_probs, threshold: float, groups, n_boot: int = 1000, seed: int = 0) -> dict:
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
        metrics[k] = {"value": _r(getattr(r, k)), "ci95": [_r(lo), _r(hi)]}
    return {
        "images": int(y.size), "patients": int(len(set(groups))) if groups is not None else None,
        "positives": int(y.sum()), "negatives": int(y.size - y.sum()),
        "threshold": float(threshold), "metrics": metrics,
        "confusion": {"tn": r.tn, "fp": r.fp, "fn": r.fn, "tp": r.tp},
        "ece_before": _r(expected_calibration_error(y, raw_probs, ECE_BINS)),
        "ece_after": _r(expected_calibration_error(y, p, ECE_BINS)),
        "bootstrap": {"resamples": int(n_boot), "unit": "patient", "seed": seed, "interval": "2.5-97.5 percentile"},
    }


def _r(v, digits: int = 4):
    v = float(v)
    return None if not np.isfinite(v) else round(v, digits)


# --------------------------------------------------------------------------------------------
# Which images: the whole folder, the model's validation split, or the official test split


def model_split(scan: DatasetScan, meta: dict) -> tuple[list[Sample], list[Sample], list[str]]:
    """(train, validation, warnings) as the model's fit() made them: the metadata's
    max_images subsample, val_fraction and seed. Files that decoded at training time are
    assumed to decode now (scan_dataset already skipped those with a bad header)."""
    from .fit import _subsample

    config = meta.get("config") or {}
    split = meta.get("split") or {}
    seed = int(config.get("seed", split.get("seed", 0)))
    val_fraction = float(config.get("val_fraction", split.get("val_fraction", 0.15)))
    samples = _subsample(scan.samples, config.get("max_images"), seed)
    train, val = patient_split(samples, val_fraction, seed)
    warnings = []
    trained_on = (meta.get("data") or {}).get("list_sha256")
    if trained_on and trained_on != scan.fingerprint()["list_sha256"]:
        warnings.append("This folder's file list differs from the one the model was trained on: the "
                        "'validation' images are this folder's patient split with the model's seed, "
                        "NOT the model's own validation set.")
    elif "val_images" in split and split["val_images"] != len(val):
        warnings.append(f"Reproduced {len(val)} validation images, the model recorded {split['val_images']} "
                        "(some files may have changed or become unreadable).")
    return train, val, warnings


def _select(scan: DatasetScan, meta: dict, split: str) -> tuple[list[Sample], list[str]]:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}")
    if split == "validation":
        _train, val, warnings = model_split(scan, meta)
        return val, warnings
    if split == "test":
        if not scan.official_test:
            raise DatasetError(f"{scan.root} has no test/NORMAL and test/PNEUMONIA folders (Kaggle layout).")
        return list(scan.official_test), []
    chosen = list(scan.samples) + list(scan.official_test)
    warnings = []
    trained_on = (meta.get("data") or {}).get("list_sha256")
    if trained_on and trained_on == scan.fingerprint()["list_sha256"]:
        train, _val, _ = model_split(scan, meta)
        warnings.append(f"{len(train)} of these images were used to train this model: figures on them are "
                        "optimistic. Use --split validation (or an independent test folder).")
    return chosen, warnings


# --------------------------------------------------------------------------------------------


def evaluate_folder(predictor, dataset_dir, split: str = "all", plots_dir=None,
                    on_progress: ProgressCallback = no_progress, should_cancel: Optional[CancelCheck] = None,
                    bootstrap: bool = False, n_boot: int = 1000) -> dict:
    """Score a labelled folder (Kaggle layout or NORMAL/ + PNEUMONIA/) and report.

    ``split``: "all" (every labelled image, test/ included), "validation" (the model's own
    patient-level validation split, recomputed from its metadata so its figures can be
    reproduced) or "test" (the Kaggle layout's test/ folder). Raises DatasetError for a bad
    folder, progress.Cancelled when cancelled. With ``plots_dir`` writes roc.png and
    reliability.png there. With ``bootstrap`` adds 95% patient-level bootstrap intervals.
    """
    info = predictor.info
    scan = scan_dataset(dataset_dir, on_progress=on_progress, should_cancel=should_cancel)
    samples, warnings = _select(scan, info.meta, split)
    if not samples:
        raise DatasetError(f"No images to evaluate in {dataset_dir} (split '{split}').")
    results = predictor.predict_files([s.path for s in samples], on_progress=on_progress,
                                      should_cancel=should_cancel)
    ok = [(s, r.prediction) for s, r in zip(samples, results) if r.prediction is not None]
    unreadable = [(r.path, r.error) for r in results if r.prediction is None] + list(scan.unreadable)
    if not ok:
        raise DatasetError(f"None of the {len(samples)} images in {dataset_dir} could be read.")
    y = np.array([s.label for s, _ in ok], dtype=int)
    prob = np.array([p.probability for _, p in ok])
    raw = np.array([p.raw_probability for _, p in ok])
    ood = np.array([p.out_of_distribution for _, p in ok], dtype=bool)
    groups = [s.patient for s, _ in ok]
    threshold = predictor.threshold
    r = binary_report(y, prob, threshold)
    expected = info.operating_point(threshold)
    report = {
        "model": {"name": info.name, "path": str(info.keras_path), "recipe": info.meta.get("recipe"),
                  "threshold": threshold, "temperature": info.temperature, "shift": info.calibration_shift},
        "dataset": {"root": str(scan.root), "layout": scan.layout, "split": split, "files": len(samples),
                    "patients": len(set(groups))},
        "n": r.n, "positives": int(y.sum()), "negatives": int(y.size - y.sum()),
        "accuracy": _r(r.accuracy), "auc": _r(r.auc), "sensitivity": _r(r.sensitivity),
        "specificity": _r(r.specificity), "threshold": threshold,
        "confusion": {"tn": r.tn, "fp": r.fp, "fn": r.fn, "tp": r.tp},
        "ece_before": _r(expected_calibration_error(y, raw, ECE_BINS)),
        "ece_after": _r(expected_calibration_error(y, prob, ECE_BINS)),
        "ece_bins": ECE_BINS,
        "reliability": {"before": reliability_bins(y, raw, ECE_BINS), "after": reliability_bins(y, prob, ECE_BINS)},
        "uncalibrated_at_0.5": dict(zip(("tn", "fp", "fn", "tp"), confusion(y, raw, 0.5))),
        "expected_on_validation": (None if expected is None else
                                   {"sensitivity": _r(expected[0]), "specificity": _r(expected[1])}),
        # Where that expectation was measured, for bundles calibrated on other cases.
        "expected_measured_on": (info.meta.get("operating_points") or {}).get("measured_on"),
        "ood_flagged": int(ood.sum()), "ood_flag_rate": _r(ood.mean()),
        "unreadable": [{"path": p, "reason": why} for p, why in unreadable],
        "warnings": warnings,
    }
    if bootstrap:
        ci = bootstrap_intervals(y, prob, threshold, n_boot=n_boot, seed=0, groups=groups)
        report["ci95"] = {k: [_r(lo), _r(hi)] for k, (lo, hi) in ci.items()}
        report["ci95_method"] = f"patient-level bootstrap, {n_boot} resamples, 2.5-97.5 percentiles"
    if plots_dir is not None:
        report["plots"] = write_plots(y, prob, raw, threshold, plots_dir, title=f"{info.name} on {split}")
    return report


def write_plots(labels, probs, raw_probs, threshold: float, folder, title: str = "") -> dict[str, str]:
    """roc.png and reliability.png in ``folder``; returns their paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    y = np.asarray(labels).astype(int)
    p = np.asarray(probs, dtype=np.float64)
    raw = np.asarray(raw_probs, dtype=np.float64)

    fig = Figure(figsize=(5.5, 5.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    fpr, tpr, _ = roc_curve(y, p)
    ax.plot(fpr, tpr, color="tab:blue", lw=2, label=f"ROC (AUC {roc_auc(y, p):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    tn, fp, fn, tp = confusion(y, p, threshold)
    sens = tp / (tp + fn) if tp + fn else float("nan")
    spec = tn / (tn + fp) if tn + fp else float("nan")
    ax.plot([1 - spec], [sens], "o", color="tab:red", ms=8,
            label=f"threshold {threshold:.3f}: sens {sens:.3f}, spec {spec:.3f}")
    ax.set(xlabel="1 - specificity (false positive rate)", ylabel="sensitivity (true positive rate)",
           xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), title=f"ROC  {title}  (n={y.size})")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    roc_path = folder / "roc.png"
    fig.savefig(roc_path)

    fig = Figure(figsize=(6, 7), dpi=100)
    FigureCanvasAgg(fig)
    ax, axh = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    for values, name, colour in ((raw, "before (network)", "tab:orange"), (p, "after (temperature)", "tab:blue")):
        bins = [b for b in reliability_bins(y, values, ECE_BINS) if b["count"]]
        ece = expected_calibration_error(y, values, ECE_BINS)
        ax.plot([b["confidence"] for b in bins], [b["frequency"] for b in bins], "o-", color=colour,
                label=f"{name}: ECE {ece:.3f}")
        axh.hist(values, bins=ECE_BINS, range=(0, 1), histtype="step", color=colour, lw=1.5)
    ax.set(ylabel="observed fraction with pneumonia", xlim=(0, 1), ylim=(0, 1),
           title=f"Reliability ({ECE_BINS} bins)  {title}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    axh.set(xlabel="predicted probability of pneumonia", ylabel="images")
    axh.set_yscale("log")
    fig.tight_layout()
    rel_path = folder / "reliability.png"
    fig.savefig(rel_path)
    return {"roc": str(roc_path), "reliability": str(rel_path)}


def format_report(report: dict) -> str:
    """The report as text for people."""
    m, d = report["model"], report["dataset"]
    c = report["confusion"]
    ci = report.get("ci95", {})

    def metric(name, key):
        v = report[key]
        text = "n/a" if v is None else f"{v:.4f}"
        if key in ci and None not in ci[key]:
            text += f"  (95% CI {ci[key][0]:.4f}-{ci[key][1]:.4f})"
        return f"  {name:<12} {text}"

    lines = [
        f"Model {m['name']} ({m['recipe']}), threshold {m['threshold']:.4f}, temperature {m['temperature']:.3f}"
        + (f", prior shift {m['shift']:+.3f}" if m.get("shift") else ""),
        f"Data  {d['root']} ({d['layout']} layout), split '{d['split']}': {report['n']} images "
        f"({report['negatives']} NORMAL, {report['positives']} PNEUMONIA) from {d['patients']} patients",
        "",
        metric("accuracy", "accuracy"), metric("AUC", "auc"), metric("sensitivity", "sensitivity"),
        metric("specificity", "specificity"),
    ]
    exp = report.get("expected_on_validation")
    if exp:
        where = report.get("expected_measured_on") or "validation"
        lines.append(f"  (expected at this threshold from {where}: sensitivity {exp['sensitivity']:.4f}, "
                     f"specificity {exp['specificity']:.4f})")
    if ci:
        lines.append(f"  CIs: {report.get('ci95_method', '')}")
    lines += [
        "",
        "  confusion       predicted NORMAL  predicted PNEUMONIA",
        f"  NORMAL          {c['tn']:>16}  {c['fp']:>19}",
        f"  PNEUMONIA       {c['fn']:>16}  {c['tp']:>19}",
        "",
        f"  calibration: ECE ({report['ece_bins']} bins) before {_fmt(report['ece_before'])}  "
        f"after {_fmt(report['ece_after'])}",
        f"  out-of-distribution warnings: {report['ood_flagged']} of {report['n']} ({100 * (report['ood_flag_rate'] or 0):.1f}%)",
    ]
    if report["unreadable"]:
        lines.append(f"  unreadable files skipped: {len(report['unreadable'])}")
        lines += [f"    {os.path.basename(u['path'])}: {u['reason']}" for u in report["unreadable"][:10]]
        if len(report["unreadable"]) > 10:
            lines.append(f"    ... and {len(report['unreadable']) - 10} more")
    if report.get("plots"):
        lines.append("  plots: " + ", ".join(report["plots"].values()))
    for w in report["warnings"]:
        lines.append(f"  WARNING: {w}")
    return "\n".join(lines)


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.4f}"
