"""Which data to fit the external calibration on, and which sensitivity target to use:
measured by 5-fold patient-level cross-validation on external half A, never on fitted cases.

    python -m benchmarks.archive.site_calibration_probe model_weights/default.keras \\
        --external ../shared/data/chest_xray_external --dataset ../shared/data/chest_xray [--json OUT]

For each fold seed (0, 1, 2) and each rule, the calibration (Platt: temperature and
intercept on the network's logit) and the threshold (highest with sensitivity >= S on the
fitted cases) are fitted on 4/5 of external A's patients, optionally together with the whole
internal validation split, and applied to the held-out fifth. The pooled out-of-fold verdicts
give sensitivity and specificity (Wilson 95% intervals), the pooled out-of-fold probabilities
the ECE (15 bins). Also printed: the ECE a perfectly calibrated model would measure on a set
of this size ("noise floor": labels drawn from the fitted probabilities themselves).
Weights are not touched; only the network's outputs are used.

Archived (finished: fit on external A alone, target 0.98, what ``xrayviewer calibrate`` does):
results in benchmarks/runs/site_calibration_probe.json, the decision in model_weights/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from xrayviewer.model import Predictor
from xrayviewer.model.calibration import apply_temperature, fit_platt
from xrayviewer.model.metrics import expected_calibration_error, threshold_for_sensitivity, wilson_interval
from xrayviewer.training import scan_dataset
from xrayviewer.training.evaluate import model_split
from xrayviewer.training.local_cases import load_local_cases
from xrayviewer.training.local_scores import score_cases
from xrayviewer.training.site_cv import patient_folds

TARGETS = (0.95, 0.97, 0.98, 0.99)
FOLD_SEEDS = (0, 1, 2)


def _raw(predictor, samples):
    results = predictor.predict_files([s.path for s in samples])
    keep = [(s, r.prediction) for s, r in zip(samples, results) if r.prediction is not None]
    return np.array([s.label for s, _ in keep]), np.array([p.raw_probability for _, p in keep])


def _cv(y, raw, patients, target, seed, extra=None):
    folds = patient_folds(y, patients, 5, seed)
    prob, pos = np.empty_like(raw), np.zeros(y.size, dtype=bool)
    for f in range(5):
        held = folds == f
        fy, fr = y[~held], raw[~held]
        if extra is not None:
            fy, fr = np.r_[fy, extra[0]], np.r_[fr, extra[1]]
        t, b = fit_platt(fy, fr)
        fitted = apply_temperature(fr, t, b)
        thr = threshold_for_sensitivity(fy, fitted, target)
        prob[held] = apply_temperature(raw[held], t, b)
        pos[held] = prob[held] >= thr
    tp, fn = int((pos & (y == 1)).sum()), int((~pos & (y == 1)).sum())
    tn, fp = int((~pos & (y == 0)).sum()), int((pos & (y == 0)).sum())
    return {"sensitivity": tp / (tp + fn), "sensitivity_ci95": wilson_interval(tp, tp + fn),
            "specificity": tn / (tn + fp), "specificity_ci95": wilson_interval(tn, tn + fp),
            "ece": expected_calibration_error(y, prob, 15)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--external", required=True)
    ap.add_argument("--dataset", required=True, help="the model's training folder (for its validation split)")
    ap.add_argument("--json")
    ap.add_argument("--targets", default=",".join(map(str, TARGETS)),
                    help="sensitivity targets S, comma-separated (rule 10 of model_weights/README.md: 0.95-0.98)")
    ap.add_argument("--external-only", action="store_true", help="skip fitting on internal validation + external A")
    args = ap.parse_args(argv)
    targets = tuple(float(t) for t in args.targets.split(","))
    fit_ons = ("external A alone",) if args.external_only else ("external A alone", "internal validation + external A")
    predictor = Predictor.load(args.model)
    scores = score_cases(predictor, load_local_cases(args.external))
    y, raw, patients = scores.labels, scores.raw, scores.patients
    _train, val, _ = model_split(scan_dataset(args.dataset), predictor.info.meta)
    internal = _raw(predictor, val)
    t, b = fit_platt(y, raw)
    fitted = apply_temperature(raw, t, b)
    rng = np.random.default_rng(0)
    floor = float(np.mean([expected_calibration_error(rng.random(y.size) < fitted, fitted, 15) for _ in range(1000)]))
    rows = []
    for fit_on, extra in (("external A alone", None), ("internal validation + external A", internal)):
        if fit_on not in fit_ons:
            continue
        for target in targets:
            for seed in FOLD_SEEDS:
                rows.append(dict(_cv(y, raw, patients, target, seed, extra), fit_on=fit_on, target=target, seed=seed))
    print(f"external A: {y.size} images, {int(y.sum())} PNEUMONIA; internal validation: {internal[0].size} images")
    print(f"ECE noise floor for a perfectly calibrated model on {y.size} cases (15 bins): {floor:.4f}\n")
    print("| fitted on | target S | CV sensitivity (seeds 0/1/2) | CV specificity (seeds 0/1/2) | CV ECE (seeds 0/1/2) |")
    print("|---|---:|---|---|---|")
    for fit_on in fit_ons:
        for target in targets:
            rs = [r for r in rows if r["fit_on"] == fit_on and r["target"] == target]
            cell = lambda k, f: " / ".join(f.format(r[k]) for r in rs)  # noqa: E731
            print(f"| {fit_on} | {target} | {cell('sensitivity', '{:.3f}')} (lower 95% bound "
                  f"{min(r['sensitivity_ci95'][0] for r in rs):.3f}) | {cell('specificity', '{:.3f}')} | "
                  f"{cell('ece', '{:.4f}')} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"noise_floor_ece": floor, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
