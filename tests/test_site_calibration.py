"""Site calibration (`xrayviewer calibrate`): same weights, calibration and threshold refitted,
claims only from patient-level cross-validation, refusals, nothing half-written; the numbers
underneath (Wilson, Platt, patient folds) and the evaluation records the card and panel read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from site_fixtures import FakePredictor, write_local_cases
from xrayviewer.model import evaluations
from xrayviewer.model.calibration import apply_temperature, fit_platt
from xrayviewer.model.metrics import wilson_interval
from xrayviewer.progress import Cancelled
from xrayviewer.training.site_cv import cross_validate, fit_site_calibration, patient_folds

REPO = Path(__file__).resolve().parent.parent


def test_wilson_interval_matches_published_values():
    # Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 -> 0.2553-0.3662.
    lo, hi = wilson_interval(81, 263)
    assert lo == pytest.approx(0.2553, abs=2e-4) and hi == pytest.approx(0.3662, abs=2e-4)
    lo, hi = wilson_interval(10, 10)  # no errors: not the empty interval [1, 1]
    assert hi == 1.0 and 0.69 < lo < 0.73
    assert wilson_interval(0, 0) == (None, None)


def test_platt_scaling_recovers_slope_and_intercept():
    rng = np.random.default_rng(1)
    z = rng.normal(0, 3, 20000)
    true = 1 / (1 + np.exp(-(0.5 * z - 1.5)))  # what the films really show
    labels = rng.random(z.size) < true
    network = 1 / (1 + np.exp(-z))  # over-confident and biased towards pneumonia
    t, b = fit_platt(labels, network)
    assert 1 / t == pytest.approx(0.5, abs=0.03) and b == pytest.approx(-1.5, abs=0.08)
    with pytest.raises(ValueError):
        fit_platt(np.zeros(10), network[:10])  # one class only


def test_folds_keep_a_patients_films_together_and_balance_the_classes():
    patients = [f"p{i // 2}" for i in range(200)]  # two films per patient
    labels = np.array([1 if i < 120 else 0 for i in range(200)])
    folds = patient_folds(labels, patients, k=5, seed=0)
    for p in set(patients):
        assert len({folds[i] for i, q in enumerate(patients) if q == p}) == 1
    for f in range(5):
        assert 20 <= (labels[folds == f] == 1).sum() <= 28 and 12 <= (labels[folds == f] == 0).sum() <= 20


def test_cross_validated_verdicts_come_from_fits_that_never_saw_them():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.6).astype(int)
    raw = 1 / (1 + np.exp(-(2.5 * (y - 0.5) + rng.normal(0, 1.2, 300))))
    patients = [f"p{i}" for i in range(300)]
    cv = cross_validate(y, raw, patients, 0.95)
    for f, fit in enumerate(cv.fits):
        held = cv.folds == f
        assert fit == fit_site_calibration(y[~held], raw[~held], 0.95)  # fitted without the held-out fold
        assert np.allclose(cv.calibrated[held], apply_temperature(raw[held], fit.temperature, fit.shift))
        assert np.array_equal(cv.positive[held], cv.calibrated[held] >= fit.threshold)


@pytest.fixture
def local_cases(tmp_path) -> Path:
    return write_local_cases(tmp_path / "site")


def _calibrate(tiny_model, folder, out, **kw):
    from xrayviewer.model import read_model_info
    from xrayviewer.training.site_calibration import calibrate_site

    return calibrate_site(folder, "site-a", model=str(tiny_model), out_dir=out,
                          predictor=FakePredictor(read_model_info(tiny_model)), **kw)


def test_site_bundle_keeps_the_weights_and_claims_cross_validated_figures(tiny_model, local_cases, tmp_path):
    from xrayviewer.gui import wording
    from xrayviewer.model import read_model_info
    from xrayviewer.model.bundle import sha256_of

    result = _calibrate(tiny_model, local_cases, tmp_path / "models")
    info = read_model_info(result.path)  # loads: checksum and metadata valid
    assert sha256_of(result.path) == sha256_of(tiny_model) == info.meta["site_calibration"]["base_sha256"]
    assert info.meta["headline_evaluation"] == "site"
    head = evaluations.headline(info.meta)
    assert head["images"] == 66 and head["negatives"] == 32 and head["patients"] == 64
    assert "cross-validated over 5 patient folds" in head["method"]
    assert info.threshold == head["threshold"] and info.meta["calibration"]["method"] == "platt"
    for key in ("sensitivity", "specificity", "accuracy", "ppv", "npv", "auc"):
        lo, hi = head["metrics"][key]["ci95"]
        assert lo <= head["metrics"][key]["value"] <= hi
    # The claim is not the in-sample figure: the same rule measured on the fitted cases differs.
    in_sample = info.operating_point()
    claimed = (head["metrics"]["sensitivity"]["value"], head["metrics"]["specificity"]["value"])
    assert claimed != pytest.approx(in_sample, abs=1e-4)
    # The old internal record is gone (it no longer holds at this threshold), the card says so.
    assert [r["set"] for r in info.meta["evaluations"]] == ["site"] and "validation_card" not in info.meta
    text = wording.operating_point_text(info)
    assert text.startswith(f"Site-calibrated on 66 local X-rays, {head['date']}.")
    assert "cross-validated" in text and "found" in text and "cleared" in text
    from xrayviewer.model.card import model_card_text

    card = model_card_text(info)
    assert "Base model tiny" in card and "32 NORMAL, 34 PNEUMONIA" in card and "Headline: On 66 local X-rays" in card


def test_a_cancelled_or_failed_calibration_leaves_no_bundle(tiny_model, local_cases, tmp_path, monkeypatch):
    out = tmp_path / "models"
    seen = []

    def cancel_once_cross_validating():
        return "calibrate" in seen

    with pytest.raises(Cancelled):
        _calibrate(tiny_model, local_cases, out, on_progress=lambda p: seen.append(p.stage),
                   should_cancel=cancel_once_cross_validating)
    assert "calibrate" in seen and (not out.exists() or not any(out.iterdir()))

    import xrayviewer.model.bundle as bundle
    from xrayviewer.model import ModelSaveError

    def disk_full(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundle.os, "fsync", disk_full)  # fails after every file was written
    with pytest.raises(ModelSaveError, match="full"):
        _calibrate(tiny_model, local_cases, out)
    assert not any(out.iterdir())  # no bundle, no temporary folder


def _cli(*args, cwd=None, home=None):
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    if home:
        env["XRAYVIEWER_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "xrayviewer.cli", *args], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("xrayviewer:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.slow
def test_cli_refusals_each_say_why_in_one_line(tiny_model, tiny_dataset, tmp_path, user_home):
    few = write_local_cases(tmp_path / "few", n_normal=29, n_pneumonia=40)
    r = _cli("calibrate", str(few), "--name", "x", "--model", str(tiny_model), home=user_home)
    assert r.returncode == 1 and "Only 29 NORMAL cases" in _one_line(r.stderr) and "at least 30" in r.stderr
    one_class = write_local_cases(tmp_path / "one", n_normal=0, n_pneumonia=40)
    r = _cli("calibrate", str(one_class), "--name", "x", "--model", str(tiny_model), home=user_home)
    assert r.returncode == 1 and "no images of class NORMAL" in _one_line(r.stderr)
    # The tiny model's own training folder, recognised by its file list.
    r = _cli("calibrate", str(tiny_dataset), "--name", "x", "--model", str(tiny_model), home=user_home)
    assert r.returncode == 1 and "was trained on" in _one_line(r.stderr)
    assert not (user_home / "data" / "models").exists() or not any((user_home / "data" / "models").iterdir())


@pytest.mark.slow
def test_cli_calibrate_then_predict_by_name_from_any_folder(tmp_path, user_home):
    """With the bundled model (it ranks the fixture films well), as the issue's commands do."""
    from xrayviewer.model.bundle import bundled_model_path, sha256_of

    cases = write_local_cases(tmp_path / "site")
    r = _cli("calibrate", str(cases), "--name", "site-a", home=user_home)
    assert r.returncode == 0, r.stderr
    assert "cross-validated on 66 local X-rays (site validation)" in r.stdout
    bundle = user_home / "data" / "models" / "site-a.keras"
    assert sha256_of(bundle) == sha256_of(bundled_model_path())
    meta = json.loads(bundle.with_suffix(".json").read_text())
    assert meta["site_calibration"]["command"].startswith("xrayviewer calibrate")
    from xrayviewer.reads import ReadsLog

    with ReadsLog() as log:  # the audit trail names the calibration and the model it made
        (event,) = log.events("calibration")
    assert event["model_name"] == "site-a" and event["model_sha256"] == meta["sha256"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = _cli("predict", str(cases / "NORMAL"), "--model", "site-a", cwd=elsewhere, home=user_home)
    assert r.returncode == 0, r.stderr
    rows = r.stdout.strip().splitlines()
    assert rows[0].startswith("path,probability,prediction") and len(rows) == 33
    r = _cli("model-info", "--model", "site-a", home=user_home)
    assert r.returncode == 0 and "Headline: On 66 local X-rays (site validation)" in " ".join(r.stdout.split())
    r = _cli("predict", str(cases / "NORMAL"), "--model", "no-such-model", cwd=elsewhere, home=user_home)
    assert r.returncode == 1 and "No model named no-such-model" in _one_line(r.stderr)


def test_bundled_model_states_its_external_figures_first():
    """The shipped card: external half A (cross-validated) first, internal validation beside it."""
    from xrayviewer.gui import wording
    from xrayviewer.model import read_model_info
    from xrayviewer.model.bundle import bundled_model_path

    info = read_model_info(bundled_model_path())
    head = evaluations.headline(info.meta)
    assert head["set"] == "external" and head["images"] == 299 and "cross-validated" in head["method"]
    assert abs(head["threshold"] - info.threshold) < 1e-9
    internal = evaluations.find(info.meta, "internal-validation")
    assert internal["images"] == 785 and abs(internal["threshold"] - info.threshold) < 1e-9
    text = wording.operating_point_text(info)
    assert text.startswith("On 299 independent X-rays from the same hospital (external validation)")
    assert "785 X-rays" in text and "(internal validation)" in text and "validation set" not in text


def test_a_rate_short_of_perfect_never_reads_as_perfect():
    from xrayviewer.model.evaluations import findings, pct

    assert pct(201 / 202, 0) == "99.5%" and pct(1.0, 0) == "100%" and pct(0.973, 0) == "97%"
    assert pct(1 / 202, 0) == "0.5%" and pct(0.0, 0) == "0%" and pct(None) == "n/a"
    record = {"metrics": {"sensitivity": {"value": 0.928}, "specificity": {"value": 201 / 202}}}
    assert findings(record) == "found 93% of pneumonia, cleared 99.5% of normals"
