"""calibrate_site(): a new bundle with the same weights (same SHA-256), its calibration and
threshold re-fitted on a site's labelled cases, claiming only figures measured by
cross-validation over those cases' patients (``site_cv``).

Refused, with a one-line reason, when either class has fewer than MIN_CASES_PER_CLASS cases,
a class is missing, or the cases are the model's own training data (same file-list
fingerprint). Everything is checked and computed before the bundle is written, and it is
written through ``model.bundle.save_bundle`` (atomic): a cancelled or failed calibration
leaves no file behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np

from ..defaults import SENSITIVITY_TARGET, VAL_FRACTION
from ..imaging import find_images
from ..model import evaluations
from ..model.bundle import read_model_info, resolve_model, save_bundle
from ..model.metrics import ECE_BINS, binary_report, operating_point_table
from ..paths import samples_dir, user_models_dir
from ..progress import CancelCheck, Progress, ProgressCallback, check_cancel, no_progress
from .dataset import DatasetError, scan_dataset
from .card_figures import card_numbers
from .local_cases import load_local_cases
from .local_figures import evaluation_record
from .local_scores import score_cases
from .site_cv import FOLD_SEED, FOLDS, cross_validate, fit_site_calibration
from .split import rebuild_model_split

MIN_CASES_PER_CLASS = 30
#: How the cases are described in a record's label, by set, unless the caller says better.
DESCRIBED_AS = {"site": "local X-rays", "external": "independent X-rays"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class CalibrationRefused(DatasetError):
    """These cases cannot support a site calibration; the message says why, in one line."""


@dataclass
class CalibrationResult:
    path: Path
    meta: dict
    claimed: dict  # the cross-validated evaluation record (the new headline)
    base_on_cases: dict  # the base model's figures on the same cases at its own threshold


def check_name(name: str) -> None:
    if not _NAME.match(name or ""):
        raise CalibrationRefused(f"'{name}' cannot name a model: use letters, digits, '.', '-' or '_' "
                                 "(at most 64, starting with a letter or digit).")


def calibrate_site(folder, name: str, model=None, labels_csv=None,
                   sensitivity_target: float = SENSITIVITY_TARGET, out_dir=None, set_name: str = "site",
                   described_as: Optional[str] = None, internal_data=None, overwrite: bool = False,
                   command: str = "", on_progress: ProgressCallback = no_progress,
                   should_cancel: Optional[CancelCheck] = None, predictor=None) -> CalibrationResult:
    """Fit, cross-validate and save. ``model``: a bundle path or a model name (None: bundled).
    ``internal_data``: the base model's training folder, to re-measure its internal validation
    split at the new operating point (without it that record is dropped, since it no longer
    holds). Raises CalibrationRefused, DatasetError, ModelLoadError, ModelSaveError, Cancelled."""
    from ..model import Predictor

    check_name(name)
    if not 0.5 <= float(sensitivity_target) < 1.0:
        raise CalibrationRefused(f"--sensitivity-target must be at least 0.5 and below 1, not {sensitivity_target}.")
    if set_name not in DESCRIBED_AS:
        raise CalibrationRefused(f"The cases must be 'site' or 'external', not '{set_name}'.")
    info = read_model_info(resolve_model(model))
    out_dir = Path(out_dir) if out_dir is not None else user_models_dir()
    if (out_dir / f"{name}.keras").exists() and not overwrite:
        raise CalibrationRefused(f"A model named {name} already exists in {out_dir}; choose another name.")
    cases = load_local_cases(folder, labels_csv, on_progress, should_cancel)
    _refuse_unsuitable(cases, info)
    predictor = predictor or Predictor.load(info.keras_path)
    scores = score_cases(predictor, cases, on_progress, should_cancel)
    _refuse_counts(scores.labels, "readable ")
    on_progress(Progress("calibrate", 0, FOLDS + 1, "Cross-validating over patient folds"))
    fit = fit_site_calibration(scores.labels, scores.raw, sensitivity_target)
    cv = cross_validate(scores.labels, scores.raw, scores.patients, sensitivity_target, should_cancel=should_cancel)
    today = date.today().isoformat()
    described = described_as or DESCRIBED_AS[set_name]
    claimed = evaluation_record(
        set_name, described, scores.labels, cv.calibrated, cv.positive, scores.patients, fit.threshold,
        f"cross-validated over {FOLDS} patient folds (calibration and threshold fitted on 4/5 of the patients, "
        "measured on the held-out fifth, rotated; verdicts pooled)", today)
    base_on_cases = evaluation_record(
        set_name, described, scores.labels, scores.probability, scores.probability >= info.threshold,
        scores.patients, info.threshold, f"the base model {info.name} as it is, at its own threshold", today)
    on_progress(Progress("calibrate", FOLDS, FOLDS + 1, "Cross-validated"))
    records = [claimed]
    meta = _new_meta(info, fit, cases, scores, claimed, set_name, command, today)
    if internal_data is not None:
        internal, card, plain = _internal_validation(predictor, info, internal_data, fit, on_progress, should_cancel)
        records.append(internal)
        meta["validation_card"], meta["validation"] = card, plain
    else:
        for key in ("validation_card", "validation"):
            meta.pop(key, None)  # measured at the base model's operating point: no longer holds
    meta["evaluations"] = records
    meta["headline_evaluation"] = set_name
    meta["reference_sample"] = _reference_sample(predictor, fit)
    check_cancel(should_cancel)  # the last point at which a cancel leaves nothing behind
    on_progress(Progress("save", 0, 1, f"Saving {name}"))
    # The Keras model goes along for what save_bundle derives from the network (the LiteRT
    # copy); the .keras file itself is copied byte for byte, so its SHA-256 stays the base's.
    from ..model.runtime import import_keras

    network = import_keras().saving.load_model(info.keras_path, compile=False)
    path = save_bundle(network, meta, out_dir, name, ood=info.ood_stats(), overwrite=overwrite,
                       weights_from=info.keras_path)
    on_progress(Progress("save", 1, 1, f"Saved {path}"))
    return CalibrationResult(path, meta, claimed, base_on_cases)


def _refuse_counts(labels, what: str = "") -> None:
    y = np.asarray(labels).astype(int)
    counts = {"NORMAL": int((y == 0).sum()), "PNEUMONIA": int((y == 1).sum())}
    for cls, n in counts.items():
        if n == 0:
            raise CalibrationRefused(f"There are no {what}{cls} cases; both classes are needed.")
    for cls, n in counts.items():
        if n < MIN_CASES_PER_CLASS:
            raise CalibrationRefused(f"Only {n} {what}{cls} cases; a site calibration needs at least "
                                     f"{MIN_CASES_PER_CLASS} of each class.")


def _refuse_unsuitable(cases, info) -> None:
    trained_on = (info.meta.get("data") or {}).get("list_sha256")
    if trained_on and trained_on == cases.file_list_sha256():
        raise CalibrationRefused(f"{cases.root} is the data model {info.name} was trained on (same file list); "
                                 "calibrate on cases it has never seen.")
    _refuse_counts([s.label for s in cases.samples])


def _new_meta(info, fit, cases, scores, claimed: dict, set_name: str, command: str, today: str) -> dict:
    meta = {k: v for k, v in info.meta.items() if k not in ("format", "name", "sha256", "preprocessing", "input_shape")}
    calibrated = fit.apply(scores.raw)
    words = claimed["label"]
    meta["threshold"] = fit.threshold
    meta["threshold_rule"] = (f"highest threshold with sensitivity >= {fit.sensitivity_target:g} on the "
                              f"{words} it was calibrated on, chosen on the calibrated probabilities")
    meta["calibration"] = {
        "method": "platt", "temperature": fit.temperature, "shift": fit.shift, "bins": ECE_BINS,
        "shift_rule": "fitted with the temperature (Platt scaling on the network's logit) on the cases below",
        "fitted_on": words, "cross_validated_ece": claimed["metrics"]["ece"]["value"],
        "previous": info.meta.get("calibration"), "command": command or None}
    meta["config"] = dict(meta.get("config") or {}, sensitivity_target=fit.sensitivity_target)
    # The ROC of these cases under the new calibration (in-sample: it maps other thresholds
    # to what they did on these cases; the claimed figures are the cross-validated ones).
    meta["operating_points"] = dict(operating_point_table(scores.labels, calibrated), measured_on=words,
                                    note="on the cases the calibration was fitted on")
    meta["site_calibration"] = {
        "set": set_name, "date": today, "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "base_model": info.name, "base_sha256": info.meta.get("sha256"), "base_path": str(info.keras_path),
        "base_evaluations": evaluations.evaluations(info.meta),
        "cases": {"root": cases.root, "source": cases.source, "images": len(scores), "negatives": claimed["negatives"],
                  "positives": claimed["positives"], "patients": claimed["patients"],
                  "unreadable": len(scores.unreadable), "list_sha256": cases.file_list_sha256()},
        "rule": meta["threshold_rule"] + "; calibration: Platt scaling (temperature and intercept) on the "
                "network's logit", "folds": FOLDS, "fold_seed": FOLD_SEED,
        "sensitivity_target": fit.sensitivity_target, "command": command or None}
    return meta


def _internal_validation(predictor, info, dataset_dir, fit, on_progress, should_cancel):
    """The base model's own validation split, re-scored at the new calibration and threshold."""
    scan = scan_dataset(dataset_dir, on_progress=on_progress, should_cancel=should_cancel)
    trained_on = (info.meta.get("data") or {}).get("list_sha256")
    if not trained_on or trained_on != scan.fingerprint()["list_sha256"]:
        raise DatasetError(f"{dataset_dir} is not the folder model {info.name} was trained on; "
                           "its internal validation split cannot be re-measured there.")
    val = rebuild_model_split(scan, info.meta).val
    results = predictor.predict_files([s.path for s in val], on_progress=on_progress, should_cancel=should_cancel)
    ok = [(s, r.prediction) for s, r in zip(val, results) if r.prediction is not None]
    y = np.array([s.label for s, _ in ok], dtype=int)
    raw = np.array([p.raw_probability for _, p in ok])
    prob = fit.apply(raw)
    patients = [s.patient for s, _ in ok]
    split = info.meta.get("split") or {}
    record = evaluation_record(
        "internal-validation", "X-rays of patients held out from the training folder", y, prob, prob >= fit.threshold,
        patients, fit.threshold, f"held-out split ({split.get('method', 'patient-level')}, "
        f"{split.get('val_fraction', VAL_FRACTION):.0%} of the patients, seed {split.get('seed', 0)}), at the new threshold")
    card = card_numbers(y, prob, raw, fit.threshold, patients)
    plain = dict(binary_report(y, prob, fit.threshold).as_dict())
    return record, card, plain


def _reference_sample(predictor, fit) -> Optional[dict]:
    """The first bundled sample's probability under the new calibration (the self-test checks it)."""
    files = find_images([samples_dir()])
    if not files:
        return None
    result = predictor.predict_files([files[0]])[0]
    if result.prediction is None:
        return None
    return {"file": Path(files[0]).name, "probability": float(fit.apply([result.prediction.raw_probability])[0])}
