"""Site calibration and its honest measurement: fit a calibration map and a threshold on
labelled local cases, and measure what that rule gives on cases it did not see, by k-fold
cross-validation over patients (fit on 4/5 of the patients, score the held-out fifth, rotate).

The weights never change: a site calibration is Platt scaling on the network's logit
(temperature and intercept, stored as a bundle's ``calibration.temperature``/``shift``, so
Predictor applies it unchanged) plus the highest threshold that keeps sensitivity on the
fitted cases at or above a target. Plain numpy; no Keras.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..model.calibration import apply_temperature, fit_platt
from ..model.metrics import threshold_for_sensitivity
from ..progress import CancelCheck, check_cancel
from .calibrate import floor_threshold

FOLDS = 5
FOLD_SEED = 0


@dataclass(frozen=True)
class SiteCalibration:
    temperature: float
    shift: float
    threshold: float
    sensitivity_target: float

    def apply(self, raw_probs) -> np.ndarray:
        return apply_temperature(raw_probs, self.temperature, self.shift)


def fit_site_calibration(labels, raw_probs, sensitivity_target: float) -> SiteCalibration:
    """Platt map on ``raw_probs`` (the network's own outputs) and the threshold rule, both
    fitted on these cases. ValueError when a class is missing or the cases rank worse than chance."""
    y = np.asarray(labels).astype(int)
    temperature, shift = fit_platt(y, raw_probs)
    calibrated = apply_temperature(raw_probs, temperature, shift)
    t = threshold_for_sensitivity(y, calibrated, sensitivity_target)
    # Stored rounded down like every threshold, so the case that set it stays on the positive side.
    return SiteCalibration(temperature, shift, floor_threshold(t), float(sensitivity_target))


def patient_folds(labels, patients, k: int = FOLDS, seed: int = FOLD_SEED) -> np.ndarray:
    """A fold number (0..k-1) per image: every image of a patient in the same fold, and the
    patients with pneumonia (any image labelled so) dealt out separately from the others, so
    each fold holds about 1/k of each class."""
    y = np.asarray(labels).astype(int)
    patients = np.asarray(patients)
    names, inverse = np.unique(patients, return_inverse=True)
    positive = np.zeros(names.size, dtype=bool)
    np.logical_or.at(positive, inverse, y.astype(bool))
    rng = np.random.default_rng(seed)
    fold_of_patient = np.empty(names.size, dtype=int)
    offset = 0
    for group in (np.where(positive)[0], np.where(~positive)[0]):
        order = rng.permutation(group)
        fold_of_patient[order] = (np.arange(order.size) + offset) % k
        offset += order.size  # the second class continues the deal where the first stopped
    return fold_of_patient[inverse]


@dataclass(frozen=True)
class CrossValidated:
    """Out-of-fold results: for each image, the calibrated probability and the verdict given
    by the calibration and threshold fitted on the other folds."""

    folds: np.ndarray
    calibrated: np.ndarray
    positive: np.ndarray
    fits: tuple[SiteCalibration, ...]

    @property
    def k(self) -> int:
        return len(self.fits)


def cross_validate(labels, raw_probs, patients, sensitivity_target: float, k: int = FOLDS,
                   seed: int = FOLD_SEED, should_cancel: Optional[CancelCheck] = None) -> CrossValidated:
    """Fit the site calibration on k-1 folds of patients, apply it to the held-out fold, rotate."""
    y = np.asarray(labels).astype(int)
    raw = np.asarray(raw_probs, dtype=np.float64)
    folds = patient_folds(y, patients, k, seed)
    calibrated = np.empty_like(raw)
    positive = np.zeros(y.size, dtype=bool)
    fits = []
    for f in range(k):
        check_cancel(should_cancel)
        held = folds == f
        fit = fit_site_calibration(y[~held], raw[~held], sensitivity_target)
        calibrated[held] = fit.apply(raw[held])
        positive[held] = calibrated[held] >= fit.threshold
        fits.append(fit)
    return CrossValidated(folds, calibrated, positive, tuple(fits))
