"""What is fitted after the weights: temperature, threshold, operating points, OOD statistics
and the model card's validation figures, from a model's scores on its validation split.

fit() calls calibrate_and_describe() once training ends; training.recalibrate calls it again
for an existing bundle, so the same weights on the same split give the same numbers.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from ..defaults import BOOTSTRAP_RESAMPLES
from ..imaging import find_images, load_image, preprocess, to_model_input
from ..model.calibration import apply_temperature, fit_temperature, prior_shift
from ..model.metrics import ECE_BINS, binary_report, operating_point_table, threshold_for_sensitivity
from ..model.ood import OODStats, image_descriptor
from ..paths import samples_dir
from ..progress import CancelCheck, Progress, ProgressCallback, check_cancel, no_progress
from .card_figures import card_numbers
from .results import PreparedSplit


def predict_cached(model_dual, cache, indices, batch_size=64):
    """Raw probabilities, pooled features and OOD image descriptors for cached inputs (no
    augmentation)."""
    probs, feats, descs = [], [], []
    for start in range(0, len(indices), batch_size):
        x = to_model_input(cache.read(indices[start:start + batch_size]))
        p, conv = model_dual(x, training=False)
        probs.append(np.asarray(p).reshape(-1))
        feats.append(np.asarray(conv).mean(axis=(1, 2)))
        descs.append(image_descriptor(x))
    return np.concatenate(probs), np.concatenate(feats), np.concatenate(descs)


def floor_threshold(t: float, digits: int = 6) -> float:
    """Round a threshold DOWN for storage: rounding up could pass over the very validation
    score it was chosen at and silently lose the sensitivity it was chosen for."""
    scale = 10 ** digits
    return float(np.floor(float(t) * scale) / scale)


def calibrate_and_describe(dual, prepared: PreparedSplit, class_weighted: bool, sensitivity_target: float,
                           ood_flag_rate: float, n_boot: int = BOOTSTRAP_RESAMPLES, on_progress: ProgressCallback = no_progress,
                           should_cancel: Optional[CancelCheck] = None) -> tuple[dict, OODStats]:
    """Everything fitted after the weights: temperature, threshold, operating points, OOD
    statistics and the model card's validation figures. Returns (metadata fields, OODStats).

    Shared by fit() and ``training.recalibrate.recalibrate_bundle`` (same numbers for the same model).
    """

    train, val = prepared.train, prepared.val
    y_train = np.array([s.label for s in train], dtype=np.float32)
    y_val = np.array([s.label for s in val], dtype=np.float32)
    on_progress(Progress("evaluate", 0, 3, "Calibrating on validation"))
    raw_val, feat_val, desc_val = predict_cached(dual, prepared.cache, prepared.val_idx)
    check_cancel(should_cancel)
    shift = prior_shift(y_train.sum(), len(y_train) - y_train.sum()) if class_weighted else 0.0
    temperature = fit_temperature(y_val, raw_val, shift)
    cal_val = apply_temperature(raw_val, temperature, shift)
    threshold = floor_threshold(threshold_for_sensitivity(y_val, cal_val, sensitivity_target))
    report = binary_report(y_val, cal_val, threshold)
    report_raw = binary_report(y_val, raw_val, 0.5)
    groups = [s.patient for s in val]
    card = card_numbers(y_val, cal_val, raw_val, threshold, groups, n_boot=n_boot)

    on_progress(Progress("evaluate", 1, 3, "Fitting out-of-distribution statistics"))
    _, feat_train, desc_train = predict_cached(dual, prepared.cache, prepared.train_idx)
    check_cancel(should_cancel)
    ood = OODStats.fit(feat_train, descriptors=desc_train)
    ood.set_threshold(feat_val, ood_flag_rate, validation_descriptors=desc_val)
    flagged = float(np.mean(ood.score(feat_val, descriptors=desc_val) > ood.threshold))
    fields = {
        "threshold": threshold,
        "threshold_rule": (f"highest threshold with validation sensitivity >= {sensitivity_target} "
                           "(chosen on the calibrated validation probabilities)"),
        "calibration": {"method": "temperature", "temperature": temperature, "shift": shift,
                        "shift_rule": ("log(n_pos/n_neg) of the training split: prior correction for "
                                       "class-weighted training" if class_weighted else "none (no class weights)"),
                        "bins": ECE_BINS,
                        "validation_ece_before": report_raw.ece, "validation_ece_after": report.ece},
        "validation": report.as_dict(),
        "validation_uncalibrated_at_0.5": report_raw.as_dict(),
        "validation_card": card,
        "operating_points": operating_point_table(y_val, cal_val),
        "ood": {"method": "max(mahalanobis last-conv GAP features, mahalanobis input descriptor)",
                "flag_rate_target": ood_flag_rate, "flag_rate_on_validation": round(flagged, 4),
                "feature_scale": ood.feature_scale, "image_scale": ood.image_scale},
    }
    return fields, ood


def reference_sample(dual, temperature, shift=0.0) -> Optional[dict]:
    """The calibrated probability of the first bundled sample image: the self-test checks it."""
    files = find_images([samples_dir()])
    if not files:
        return None
    first = files[0]
    prob, _ = dual(preprocess(load_image(first))[None], training=False)
    return {"file": os.path.basename(first),
            "probability": float(apply_temperature(np.asarray(prob).reshape(-1), temperature, shift)[0])}
