"""The validation ROC stored in the metadata: for any threshold, the expected sensitivity and
specificity; and the shipped threshold rule (highest threshold with sensitivity >= target)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xrayviewer.model.bundle import ModelInfo
from xrayviewer.model.metrics import (confusion, operating_point, operating_point_table,
                                      table_threshold_for_sensitivity, threshold_for_sensitivity)
from xrayviewer.training.calibrate import floor_threshold

LABELS = np.array([0, 0, 1, 1, 0, 1])
PROBS = np.array([0.10, 0.40, 0.35, 0.80, 0.60, 0.90])
# Sorted: 0.10 N, 0.35 P, 0.40 N, 0.60 N, 0.80 P, 0.90 P


@pytest.mark.parametrize("t, sens, spec", [
    (0.00, 1.0, 0.0),
    (0.10, 1.0, 0.0),
    (0.11, 1.0, 1 / 3),
    (0.35, 1.0, 1 / 3),
    (0.36, 2 / 3, 1 / 3),
    (0.40, 2 / 3, 1 / 3),
    (0.41, 2 / 3, 2 / 3),
    (0.60, 2 / 3, 2 / 3),
    (0.61, 2 / 3, 1.0),
    (0.80, 2 / 3, 1.0),
    (0.85, 1 / 3, 1.0),
    (0.90, 1 / 3, 1.0),
    (0.95, 0.0, 1.0),
    (1.00, 0.0, 1.0),
])
def test_operating_point_lookup_is_exact(t, sens, spec):
    table = operating_point_table(LABELS, PROBS)
    got = operating_point(table, t)
    assert got == pytest.approx((sens, spec), abs=1e-6)


def test_lookup_matches_the_confusion_matrix_everywhere():
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.7
    p = np.clip(np.where(y, rng.beta(5, 2, 400), rng.beta(2, 5, 400)), 0, 1)
    p[:50] = np.round(p[:50], 1)  # ties
    table = operating_point_table(y, p)
    for t in np.r_[np.linspace(0, 1, 57), p[:40], 1e-9, 0.999999]:
        tn, fp, fn, tp = confusion(y, p, t)
        assert operating_point(table, t) == pytest.approx((tp / (tp + fn), tn / (tn + fp)), abs=1e-6)


def test_threshold_for_sensitivity_is_the_highest_that_reaches_it():
    assert threshold_for_sensitivity(LABELS, PROBS, 0.95) == pytest.approx(0.35)
    assert threshold_for_sensitivity(LABELS, PROBS, 0.6) == pytest.approx(0.80)
    assert threshold_for_sensitivity(LABELS, PROBS, 0.3) == pytest.approx(0.90)
    table = operating_point_table(LABELS, PROBS)
    for target in (0.3, 0.6, 0.95, 1.0):
        t = threshold_for_sensitivity(LABELS, PROBS, target)
        assert table_threshold_for_sensitivity(table, target) == pytest.approx(t)
        assert operating_point(table, t)[0] >= target - 1e-9
        # Any higher threshold would miss the target.
        assert operating_point(table, t + 1e-6)[0] < target


def test_threshold_for_sensitivity_works_on_log_odds():
    """The benchmarks threshold the network's log-odds (no saturation at 1.0): the rule must
    give the k-th highest positive's score, as on probabilities, not a value clipped to 1."""
    rng = np.random.default_rng(2)
    y = rng.random(500) < 0.6
    logits = np.where(y, rng.normal(4.0, 2.0, 500), rng.normal(-3.0, 2.0, 500))
    for target in (0.9, 0.95, 0.98):
        positives = np.sort(logits[y])[::-1]
        kth = positives[int(np.ceil(target * positives.size - 1e-9)) - 1]
        t = threshold_for_sensitivity(y, logits, target)
        assert t == kth
        assert t > 1.0 or target > 0.9  # the old clipping at 1.0 would have failed at 0.9
        # Same films as on the probabilities (sigmoid is monotone).
        p = 1 / (1 + np.exp(-logits))
        assert np.array_equal(logits >= t, p >= threshold_for_sensitivity(y, p, target))


def test_stored_threshold_is_rounded_down_never_up():
    """Rounding the threshold up past the score it was chosen at would lose that case."""
    rng = np.random.default_rng(1)
    y = rng.random(300) < 0.7
    p = rng.random(300)
    t = threshold_for_sensitivity(y, p, 0.95)
    stored = floor_threshold(t)
    assert stored <= t and t - stored < 1e-6
    tn, fp, fn, tp = confusion(y, p, stored)
    assert tp / (tp + fn) >= 0.95
    assert floor_threshold(0.1234567) == 0.123456 and floor_threshold(0.5) == 0.5


def test_legacy_grid_table_is_interpolated():
    grid = {"thresholds": [0.0, 0.5, 1.0], "sensitivity": [1.0, 0.8, 0.0], "specificity": [0.0, 0.6, 1.0]}
    assert operating_point(grid, 0.25) == pytest.approx((0.9, 0.3))


def test_model_info_operating_point():
    table = operating_point_table(LABELS, PROBS)
    info = ModelInfo(keras_path=Path("m.keras"), meta={"name": "m", "threshold": 0.35, "operating_points": table})
    assert info.operating_point() == pytest.approx((1.0, 1 / 3))  # at its own threshold
    assert info.operating_point(0.61) == pytest.approx((2 / 3, 1.0))
    assert info.threshold_for_sensitivity(0.6) == pytest.approx(0.80)
    bare = ModelInfo(keras_path=Path("m.keras"), meta={"name": "m", "threshold": 0.5})
    assert bare.operating_point() is None and bare.threshold_for_sensitivity(0.9) is None
    assert bare.temperature == 1.0 and bare.calibration_shift == 0.0


def test_fitted_bundle_records_its_operating_point(tiny_model):
    from xrayviewer.model import read_model_info

    info = read_model_info(tiny_model)
    table = info.meta["operating_points"]
    assert table["kind"] == "roc"
    assert table["positives"] + table["negatives"] == info.meta["split"]["val_images"]
    sens, spec = info.operating_point()
    v = info.meta["validation"]
    assert sens == pytest.approx(v["sensitivity"], abs=1e-3) and spec == pytest.approx(v["specificity"], abs=1e-3)
    assert sens >= info.meta["config"]["sensitivity_target"] == 0.98  # the shipped rule


def test_no_false_alarm_does_not_read_as_certainty():
    """0 false alarms of 202 normals: the percentile bootstrap would say [100%, 100%]; the
    card must give the exact interval instead (lower bound 0.025^(1/202) = 98.2%)."""
    from xrayviewer.model.metrics import bootstrap_intervals

    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(202), np.ones(583)]
    p = np.r_[rng.uniform(0, 0.4, 202), rng.uniform(0.3, 1.0, 583)]
    ci = bootstrap_intervals(y, p, threshold=0.5, n_boot=200)
    lo, hi = ci["specificity"]
    assert hi == 1.0 and abs(lo - 0.025 ** (1 / 202)) < 1e-9 and lo < 0.99
    s_lo, s_hi = ci["sensitivity"]  # errors on both sides: still the bootstrap interval
    assert s_lo < s_hi < 1.0


def test_card_states_the_rule_the_bundle_was_made_with(tiny_model):
    from xrayviewer.model import read_model_info
    from xrayviewer.model.card import model_card_text

    info = read_model_info(tiny_model)
    assert "(>= 98% on validation)" in model_card_text(info)
    info.meta["config"]["sensitivity_target"] = 0.95  # what an older bundle records
    assert "(>= 95% on validation)" in model_card_text(info)
    del info.meta["config"]["sensitivity_target"]  # older still: the rule of its time, 0.95
    assert "(>= 95% on validation)" in model_card_text(info)


def test_patient_resamples_take_whole_patients_and_repeat_with_the_seed():
    """The one patient-level resampling behind every bootstrap interval (the card's AUC, the
    site report, benchmarks.external_eval's paired difference): a drawn patient brings all
    of their films, every resample has as many patients as the set, and a seed repeats it."""
    from xrayviewer.model.metrics import patient_resamples

    groups = np.array(["a", "a", "a", "b", "c", "c", "d"])
    resamples = list(patient_resamples(groups, n_boot=50, seed=3))
    assert len(resamples) == 50
    for idx in resamples:
        drawn = groups[idx]
        for patient in set(drawn):
            # whole patients only: the count of a patient's films is a multiple of their total
            assert (drawn == patient).sum() % (groups == patient).sum() == 0
        assert sum((drawn == p).sum() // (groups == p).sum() for p in set(drawn)) == 4
    again = list(patient_resamples(groups, n_boot=50, seed=3))
    assert all(np.array_equal(a, b) for a, b in zip(resamples, again))
    assert any(not np.array_equal(a, b) for a, b in zip(resamples, patient_resamples(groups, 50, seed=4)))
    assert list(patient_resamples([], n_boot=5)) == []
