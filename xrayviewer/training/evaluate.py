"""evaluate_folder(): score a labelled folder with a model and report accuracy, AUC,
sensitivity, specificity, calibration (ECE before/after temperature scaling), the OOD flag
rate, and optionally ROC and reliability plots.

A plain function like fit(): progress out through ``on_progress``, cancellation in through
``should_cancel``; the CLI and the GUI call the same code. The report's text and plots for
people are training.folder_report's.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..defaults import BOOTSTRAP_RESAMPLES
from ..model.metrics import (ECE_BINS, binary_report, bootstrap_intervals, confusion, expected_calibration_error,
                             reliability_bins)
from ..progress import CancelCheck, ProgressCallback, no_progress
from .card_figures import rounded
from .folder_report import write_plots
from .dataset import DatasetError, DatasetScan, Sample, scan_dataset
from .split import rebuild_model_split

SPLITS = ("all", "validation", "test")


# --------------------------------------------------------------------------------------------
# Which images: the whole folder, the model's validation split, or the official test split


def model_split(scan: DatasetScan, meta: dict) -> tuple[list[Sample], list[Sample], list[str]]:
    """(train, validation, warnings): the model's split rebuilt without decoding
    (split.rebuild_model_split), with a warning when it may not be the model's own."""
    rebuilt = rebuild_model_split(scan, meta)
    warnings = []
    if rebuilt.files_differ:
        warnings.append("This folder's file list differs from the one the model was trained on: the "
                        "'validation' images are this folder's patient split with the model's seed, "
                        "NOT the model's own validation set.")
    elif rebuilt.count_differs:
        warnings.append(f"Reproduced {len(rebuilt.val)} validation images, the model recorded "
                        f"{rebuilt.recorded_val_images} (some files may have changed or become unreadable).")
    return rebuilt.train, rebuilt.val, warnings


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
                    bootstrap: bool = False, n_boot: int = BOOTSTRAP_RESAMPLES) -> dict:
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
        "accuracy": rounded(r.accuracy), "auc": rounded(r.auc), "sensitivity": rounded(r.sensitivity),
        "specificity": rounded(r.specificity), "threshold": threshold,
        "confusion": {"tn": r.tn, "fp": r.fp, "fn": r.fn, "tp": r.tp},
        "ece_before": rounded(expected_calibration_error(y, raw, ECE_BINS)),
        "ece_after": rounded(expected_calibration_error(y, prob, ECE_BINS)),
        "ece_bins": ECE_BINS,
        "reliability": {"before": reliability_bins(y, raw, ECE_BINS), "after": reliability_bins(y, prob, ECE_BINS)},
        "uncalibrated_at_0.5": dict(zip(("tn", "fp", "fn", "tp"), confusion(y, raw, 0.5))),
        "expected_on_validation": (None if expected is None else
                                   {"sensitivity": rounded(expected[0]), "specificity": rounded(expected[1])}),
        # Where that expectation was measured, for bundles calibrated on other cases.
        "expected_measured_on": (info.meta.get("operating_points") or {}).get("measured_on"),
        "ood_flagged": int(ood.sum()), "ood_flag_rate": rounded(ood.mean()),
        "unreadable": [{"path": p, "reason": why} for p, why in unreadable],
        "warnings": warnings,
    }
    if bootstrap:
        ci = bootstrap_intervals(y, prob, threshold, n_boot=n_boot, seed=0, groups=groups)
        report["ci95"] = {k: [rounded(lo), rounded(hi)] for k, (lo, hi) in ci.items()}
        report["ci95_method"] = f"patient-level bootstrap, {n_boot} resamples, 2.5-97.5 percentiles"
    if plots_dir is not None:
        report["plots"] = write_plots(y, prob, raw, threshold, plots_dir, title=f"{info.name} on {split}")
    return report
