"""Score model bundles on their own internal validation split and on an external labelled folder
(external half A), side by side: the figures issue 14 judges recipes by.

    python -m benchmarks.external_eval MODEL.keras ... --dataset ../shared/data/chest_xray \\
        --external ../shared/data/chest_xray_external [--json out.json] [--scores scores.npz]

For each set: AUC with a patient-level bootstrap 95% interval, then accuracy, sensitivity and
specificity at two thresholds, and ECE (15 bins) of the calibrated probability:

- ``model``: the bundle's own shipped threshold on its calibrated probability;
- ``val95``: the highest threshold whose INTERNAL validation sensitivity is >= 0.95 (fitted on
  internal validation only, so its external figures are honest for a model that saw nothing of
  external A);

and, for external A only, ``ext-oracle``: the specificity at the highest threshold whose
external sensitivity is >= 0.93. It is fitted on external A itself, so it is NOT an honest
estimate; it says how far a site calibration on external A could move the operating point
(what the issue's sensitivity and specificity targets need), given this ranking.

With two or more models, each after the first also gets its external AUC minus the first's,
with a paired patient-level bootstrap interval (same films, same resamples).

Internal validation images come from the input cache exactly as fit() made them; external
images go through ``Predictor.predict_files``, i.e. the same path as ``xrayviewer predict``.
Nothing here trains; external A is only scored.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from xrayviewer.imaging import to_model_input
from xrayviewer.model.metrics import (binary_report, bootstrap_intervals, expected_calibration_error,
                                      patient_resamples, roc_auc, threshold_for_sensitivity)

from .common import validation_inputs

VAL_SENSITIVITY = 0.95
ORACLE_SENSITIVITY = 0.93
N_BOOT = 1000


def auc_interval(y, scores, groups, n_boot: int = N_BOOT, seed: int = 0) -> tuple[float, float]:
    """Patient-level bootstrap 95% interval of the AUC (threshold-free, any monotone score)."""
    return bootstrap_intervals(y, scores, 0.5, n_boot=n_boot, seed=seed, groups=groups)["auc"]


def rates(y, p, threshold: float) -> dict:
    r = binary_report(y, p, threshold)
    return {"threshold": round(float(threshold), 6), "accuracy": round(r.accuracy, 4),
            "sensitivity": round(r.sensitivity, 4), "specificity": round(r.specificity, 4),
            "fp": r.fp, "fn": r.fn}


def set_figures(y, p, groups, thresholds: dict, oracle: bool = False, n_boot: int = N_BOOT) -> dict:
    """AUC (+ interval), ECE and the rates at each named threshold for one image set."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    lo, hi = auc_interval(y, p, groups, n_boot) if n_boot else (float("nan"), float("nan"))
    out = {"n": int(y.size), "positives": int(y.sum()), "negatives": int(y.size - y.sum()),
           "patients": len(set(groups)), "auc": round(roc_auc(y, p), 4), "auc_ci95": [round(lo, 4), round(hi, 4)],
           "ece": round(expected_calibration_error(y, p, 15), 4),
           "at": {name: rates(y, p, t) for name, t in thresholds.items()}}
    if oracle:
        out["at"]["ext-oracle"] = rates(y, p, threshold_for_sensitivity(y, p, ORACLE_SENSITIVITY))
    return out


def paired_auc_difference(y, p_a, p_b, groups, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """AUC(b) - AUC(a) on the same images, with a patient-level paired bootstrap 95% interval
    and the share of resamples in which b is ahead: the two models' errors on a hard film are
    correlated, so the paired interval is much narrower than either model's own."""
    y = np.asarray(y).astype(int)
    diffs = np.array([roc_auc(y[idx], p_b[idx]) - roc_auc(y[idx], p_a[idx])
                      for idx in patient_resamples(groups, n_boot, seed)])
    return {"difference": round(roc_auc(y, p_b) - roc_auc(y, p_a), 4),
            "ci95": [round(float(np.nanpercentile(diffs, 2.5)), 4), round(float(np.nanpercentile(diffs, 97.5)), 4)],
            "share_ahead": round(float(np.nanmean(diffs > 0)), 3)}


def bundle_scores(keras_path: Path, dataset: Path, external: Path) -> dict:
    """Calibrated probabilities (and labels, patients, file names) of a bundle on its internal
    validation split and on the external folder."""
    from xrayviewer.model.predictor import Predictor
    from xrayviewer.training.dataset import scan_dataset

    predictor = Predictor.load(keras_path)
    _prepared, val = validation_inputs(predictor.info, dataset)
    grey = val.grey
    val_p = np.concatenate([[q.probability for q in predictor.predict_batch(to_model_input(grey[s:s + 128]))]
                            for s in range(0, len(grey), 128)])
    scan = scan_dataset(external)
    results = predictor.predict_files([s.path for s in scan.samples])
    ok = [(s, r.prediction) for s, r in zip(scan.samples, results) if r.prediction is not None]
    return {"threshold": predictor.threshold, "meta": predictor.info.meta,
            "val": {"y": val.y, "p": val_p, "groups": val.groups},
            "ext": {"y": np.array([s.label for s, _ in ok]), "p": np.array([q.probability for _, q in ok]),
                    "groups": [s.patient for s, _ in ok], "files": [Path(s.path).name for s, _ in ok]}}


def evaluate_scores(scores: dict, n_boot: int = N_BOOT) -> dict:
    v, e = scores["val"], scores["ext"]
    thresholds = {"model": scores["threshold"],
                  "val95": threshold_for_sensitivity(v["y"], v["p"], VAL_SENSITIVITY)}
    return {"internal": set_figures(v["y"], v["p"], v["groups"], thresholds, n_boot=n_boot),
            "external": set_figures(e["y"], e["p"], e["groups"], thresholds, oracle=True, n_boot=n_boot)}


def format_result(name: str, res: dict) -> str:
    lines = [name]
    for key, label in (("internal", "internal validation"), ("external", "external A")):
        f = res[key]
        lines.append(f"  {label}: n={f['n']} ({f['negatives']} NORMAL, {f['positives']} PNEUMONIA, "
                     f"{f['patients']} patients)  AUC {f['auc']:.4f} (95% CI {f['auc_ci95'][0]:.4f}-"
                     f"{f['auc_ci95'][1]:.4f})  ECE {f['ece']:.4f}")
        for t, r in f["at"].items():
            lines.append(f"    at {t:<10} t={r['threshold']:.4f}  acc {r['accuracy']:.3f}  sens {r['sensitivity']:.3f}"
                         f"  spec {r['specificity']:.3f}  (FP {r['fp']}, FN {r['fn']})")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--dataset", type=Path, required=True, help="the training folder (rebuilds the validation split)")
    ap.add_argument("--external", type=Path, required=True, help="external labelled folder (NORMAL/, PNEUMONIA/)")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--scores", type=Path, help="write every model's per-image probabilities here (.npz)")
    args = ap.parse_args(argv)
    out, arrays, first = [], {}, None
    for m in args.models:
        scores = bundle_scores(m, args.dataset, args.external)
        res = {"model": str(m), "recipe": scores["meta"].get("recipe"), **evaluate_scores(scores)}
        if first is None:
            first = scores["ext"]
        elif first["files"] == scores["ext"]["files"]:
            res["external_auc_minus_first"] = paired_auc_difference(first["y"], first["p"], scores["ext"]["p"],
                                                                    first["groups"])
        out.append(res)
        print(format_result(f"{m.name} ({res['recipe']})", res), flush=True)
        if "external_auc_minus_first" in res:
            d = res["external_auc_minus_first"]
            print(f"  external A AUC minus {args.models[0].name}'s: {d['difference']:+.4f} (paired patient "
                  f"bootstrap 95% CI {d['ci95'][0]:+.4f} to {d['ci95'][1]:+.4f}; ahead in {d['share_ahead']:.0%} "
                  "of resamples)", flush=True)
        for part in ("val", "ext"):
            arrays[f"{m.stem}:{part}:p"] = scores[part]["p"]
            arrays[f"{m.stem}:{part}:y"] = scores[part]["y"]
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    if args.scores:
        np.savez(args.scores, **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
