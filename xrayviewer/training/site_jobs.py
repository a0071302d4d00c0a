"""The window's two site jobs as plain functions (run in a child process by the GUI, so the
window never imports TensorFlow): check a model on a folder of labelled cases and write the
report; fit a site calibration from the same cases. Both return small picklable dicts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Optional

from ..defaults import SENSITIVITY_TARGET
from ..paths import user_data_dir
from ..progress import CancelCheck, ProgressCallback, no_progress


def _load(model_path, load_predictor):
    from ..model import Predictor
    from ..model.bundle import resolve_model

    return (load_predictor or Predictor.load)(resolve_model(model_path))


def default_report_path(model_name: str) -> Path:
    """Where the window keeps its reports: the per-user data folder, never the installation."""
    return user_data_dir() / "reports" / f"local-validation-{model_name}-{datetime.now():%Y%m%d-%H%M%S}.html"


def check_local_cases(model_path, folder, report_path=None, labels_csv=None,
                      on_progress: ProgressCallback = no_progress, should_cancel: Optional[CancelCheck] = None,
                      load_predictor=None) -> dict:
    """Score ``folder``'s labelled cases with the model, write the HTML report; returns the
    report's figures (per-case rows left out) with ``report_path`` added."""
    from .local_report import evaluate_local
    from .report_html import write_report

    predictor = _load(model_path, load_predictor)
    report = evaluate_local(predictor, folder, labels_csv, on_progress, should_cancel)
    path = write_report(report, report_path or default_report_path(predictor.info.name))
    summary = {k: v for k, v in report.items() if k != "cases_scored"}
    summary["report_path"] = str(path)
    summary["model"]["path"] = str(predictor.info.keras_path)
    return summary


def fit_site_calibration_job(model_path, folder, name: str, labels_csv=None, sensitivity_target: float = SENSITIVITY_TARGET,
                             on_progress: ProgressCallback = no_progress,
                             should_cancel: Optional[CancelCheck] = None, load_predictor=None) -> dict:
    """``calibrate``'s code for the window; returns the new bundle's path, its cross-validated
    record and the base model's figures on the same cases."""
    from .site_calibration import calibrate_site

    predictor = _load(model_path, load_predictor)
    result = calibrate_site(folder, name, model=str(predictor.info.keras_path), labels_csv=labels_csv,
                            sensitivity_target=sensitivity_target, on_progress=on_progress,
                            should_cancel=should_cancel, predictor=predictor,
                            command=f"Model > Check on Local Cases > Adopt a Site Calibration ({folder})")
    return {"path": str(result.path), "name": name, "claimed": result.claimed, "base_on_cases": result.base_on_cases,
            "sensitivity_target": sensitivity_target}
