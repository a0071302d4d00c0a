"""Temperature scaling: it repairs an over-confident model and never changes the ranking."""

from __future__ import annotations

import numpy as np
import pytest

from xrayviewer.model.calibration import apply_temperature, fit_temperature, logit, prior_shift
from xrayviewer.model.metrics import expected_calibration_error, reliability_bins, roc_auc


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _overconfident(n=20000, factor=3.0, seed=0):
    """Labels drawn from true probabilities, and a 'network' whose logits are ``factor`` x too big."""
    rng = np.random.default_rng(seed)
    true_logit = rng.normal(0.8, 1.5, n)
    labels = (rng.random(n) < _sigmoid(true_logit)).astype(int)
    return labels, _sigmoid(true_logit), _sigmoid(factor * true_logit)


def test_temperature_recovers_the_overconfidence_and_lowers_ece():
    labels, truth, probs = _overconfident()
    t = fit_temperature(labels, probs)
    assert t == pytest.approx(3.0, rel=0.08)
    calibrated = apply_temperature(probs, t)
    before = expected_calibration_error(labels, probs, bins=15)
    after = expected_calibration_error(labels, calibrated, bins=15)
    assert before > 0.05
    assert after < before / 3
    assert after < 0.02
    # As good as the true probabilities, up to sampling noise.
    assert after <= expected_calibration_error(labels, truth, bins=15) + 0.01


def test_temperature_keeps_ranking_and_auc():
    labels, _, probs = _overconfident(n=3000, seed=1)
    calibrated = apply_temperature(probs, fit_temperature(labels, probs))
    assert roc_auc(labels, calibrated) == pytest.approx(roc_auc(labels, probs), abs=1e-12)
    order = np.argsort(probs, kind="mergesort")
    assert np.all(np.diff(calibrated[order]) >= 0)


def test_underconfident_model_is_sharpened():
    labels, _, probs = _overconfident(factor=0.5, seed=2)
    t = fit_temperature(labels, probs)
    assert t == pytest.approx(0.5, rel=0.08)
    assert expected_calibration_error(labels, apply_temperature(probs, t)) < \
        expected_calibration_error(labels, probs) / 3


def test_prior_shift_corrects_class_weighted_training():
    """A class-weighted network predicts for a 50/50 prior: its logit lacks log(n_pos/n_neg).
    Temperature alone cannot move an intercept; with the fixed shift it is calibrated again."""
    rng = np.random.default_rng(3)
    n = 20000
    labels = (rng.random(n) < 0.74).astype(int)
    # Evidence: a log-likelihood ratio; the true posterior adds the prior log odds.
    x = np.where(labels == 1, rng.normal(1.5, 1.2, n), rng.normal(-1.5, 1.2, n))
    llr = 2 * 1.5 * x / 1.2 ** 2  # exact LLR of N(1.5, 1.2^2) vs N(-1.5, 1.2^2)
    balanced = _sigmoid(2.0 * llr)  # class-weighted AND over-confident network
    shift = prior_shift(labels.sum(), n - labels.sum())
    assert shift == pytest.approx(np.log(0.74 / 0.26), abs=0.05)
    t_plain = fit_temperature(labels, balanced)
    t_shift = fit_temperature(labels, balanced, shift=shift)
    ece_plain = expected_calibration_error(labels, apply_temperature(balanced, t_plain))
    ece_shift = expected_calibration_error(labels, apply_temperature(balanced, t_shift, shift))
    assert t_shift == pytest.approx(2.0, rel=0.1)
    assert ece_shift < 0.02
    assert ece_shift < ece_plain


def test_small_separable_validation_does_not_collapse_to_zero_one():
    """Ten perfectly separated images: plain NLL would send T to its lower bound and every
    output to 0 or 1. Platt's targets keep the calibrated probabilities off the extremes."""
    labels = np.array([0] * 5 + [1] * 5)
    probs = np.array([0.40, 0.42, 0.44, 0.46, 0.48, 0.52, 0.54, 0.56, 0.58, 0.60])
    t = fit_temperature(labels, probs)
    assert t > 0.06  # not pinned at the 0.05 bound
    cal = apply_temperature(probs, t)
    assert cal.max() < 0.99 and cal.min() > 0.01
    assert np.all(np.diff(cal) > 0)


def test_apply_temperature_identity_and_logit_inverse():
    p = np.array([0.01, 0.2, 0.5, 0.9, 0.999])
    np.testing.assert_allclose(apply_temperature(p, 1.0), p, rtol=1e-9)
    np.testing.assert_allclose(_sigmoid(logit(p)), p, rtol=1e-9)
    assert apply_temperature([0.5], 2.0, shift=np.log(3))[0] == pytest.approx(0.75)


def test_ece_and_reliability_bins_agree():
    labels, _, probs = _overconfident(n=5000, seed=4)
    bins = reliability_bins(labels, probs, 15)
    assert len(bins) == 15 and sum(b["count"] for b in bins) == 5000
    ece = sum(b["count"] / 5000 * abs(b["confidence"] - b["frequency"]) for b in bins if b["count"])
    assert ece == pytest.approx(expected_calibration_error(labels, probs, 15))


def test_the_scalar_logit_equals_the_array_one():
    """The worklist's per-row logit (plain floats) gives what the array version gives,
    including the clipping at 0 and 1."""
    from xrayviewer.model.calibration import logit, scalar_logit

    ps = np.concatenate([np.random.default_rng(0).random(2000), [0.0, 1.0, 1e-12, 1 - 1e-12, 0.5]])
    assert all(scalar_logit(p) == float(logit(p)) for p in ps)
