"""Model > Check on Local Cases…: check the active model on a folder of a site's labelled
X-rays, show the report, and adopt a site calibration.

The work is ``training.site_jobs`` (the same code as ``xrayviewer evaluate --report`` and
``xrayviewer calibrate``) run by ``training.child_process.run_in_child_process`` as a
background task (:class:`~.background.BackgroundTasks`): the window stays responsive and never imports TensorFlow. This module
only shows progress, the figures and the choice; switching models is the controller's
``switch_model``, so Restore Bundled Model undoes an adoption like any other switch.
"""

from __future__ import annotations

import logging
import os
from datetime import date
from functools import partial
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QDialog, QFileDialog, QHBoxLayout, QHeaderView, QInputDialog, QLabel, QProgressBar,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout)

from ..model import evaluations
from ..progress import Progress
from ..training.child_process import run_in_child_process
from ..training.site_jobs import check_local_cases, fit_site_calibration_job
from .background import BackgroundTasks, Task

log = logging.getLogger(__name__)

FIGURES = (("sensitivity", "Sensitivity (pneumonia found)"), ("specificity", "Specificity (normals cleared)"),
           ("accuracy", "Accuracy"), ("auc", "AUC"), ("ece", "ECE (calibration error)"))
STAGE_WORDS = {"scan": "Reading the folder", "predict": "Scoring", "calibrate": "Cross-validating",
               "save": "Saving"}
MIN_CASES_PER_CLASS = 30  # the same rule as training.site_calibration (checked again there)


def figure_text(metric: str, record_metric: Optional[dict]) -> str:
    """'97.3% (93.8-98.8%)' or '0.954 (0.928-0.975)'; '–' when missing."""
    if not record_metric or record_metric.get("value") is None:
        return "–"
    v, ci = record_metric["value"], record_metric.get("ci95")
    if metric in ("auc", "ece"):
        return f"{v:.3f}" + (f" ({ci[0]:.3f}-{ci[1]:.3f})" if ci else "")
    return f"{100 * v:.1f}%" + (f" ({100 * ci[0]:.1f}-{100 * ci[1]:.1f}%)" if ci else "")


def check_rows(report: dict) -> list[tuple[str, str, str, str]]:
    """(figure, here, the card's headline claim, verdict) for the check's summary table."""
    card = report["card"][0] if report["card"] else None
    rows = []
    for key, name in FIGURES:
        claim = card["figures"].get(key) if card else None
        card_metric = {"value": claim["card"], "ci95": claim["card_ci95"]} if claim else None
        rows.append((name, figure_text(key, report["metrics"][key]), figure_text(key, card_metric),
                     (claim or {}).get("verdict") or ""))
    return rows


def adoption_rows(result: dict, active_meta: dict) -> list[tuple[str, str, str, str]]:
    """(figure, new model cross-validated, current model on these cases, current model's card)."""
    head = evaluations.headline(active_meta or {})
    rows = []
    for key, name in FIGURES:
        card_metric = ((head or {}).get("metrics") or {}).get(key)
        rows.append((name, figure_text(key, result["claimed"]["metrics"][key]),
                     figure_text(key, result["base_on_cases"]["metrics"][key]), figure_text(key, card_metric)))
    return rows


def refusal_reason(report: dict) -> str:
    """Why these cases cannot support a site calibration, before trying ('' when they can)."""
    c = report["cases"]
    for cls, n in (("NORMAL", c["negatives"]), ("PNEUMONIA", c["positives"])):
        if n < MIN_CASES_PER_CLASS:
            return f"Only {n} {cls} cases; a site calibration needs at least {MIN_CASES_PER_CLASS} of each class."
    if any("trained on" in w for w in report.get("warnings", [])):
        return "These are the model's own training images; calibrate on cases it has never seen."
    return ""


class SiteCheckDialog(QDialog):
    """One check of the active model on one folder, then (optionally) one site calibration."""

    adoptRequested = Signal(str)  # the new bundle's path: the window switches to it
    calibrated = Signal(dict)  # a site calibration was written (the reads log records it)

    def __init__(self, folder: str, active_info, parent=None, labels_csv: Optional[str] = None,
                 runner: Optional[Callable] = None, open_url: Optional[Callable[[QUrl], object]] = None,
                 ask_name: Optional[Callable[[str], Optional[str]]] = None):
        super().__init__(parent)
        self.setWindowTitle("Check the model on local cases")
        self.resize(860, 520)
        self.folder, self.labels_csv, self.active_info = folder, labels_csv, active_info
        self._runner = runner or run_in_child_process  # looked up now: tests replace it
        self._open_url = open_url or QDesktopServices.openUrl
        self._ask_name = ask_name or self._ask_name_dialog
        self.background = BackgroundTasks(self, name="site-check")
        self.task: Optional[Task] = None  # the check or the calibration, while it runs
        self.report: Optional[dict] = None
        self.adoption: Optional[dict] = None

        lay = QVBoxLayout(self)
        self.heading = QLabel(f"Checking model {active_info.name} on the labelled X-rays in {folder}")
        self.heading.setWordWrap(True)
        self.heading.setObjectName("sectionTitle")
        lay.addWidget(self.heading)
        self.progress = QProgressBar()
        lay.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.status)
        self.table = QTableWidget(0, 4)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.hide()
        lay.addWidget(self.table, 1)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setObjectName("smallText")
        lay.addWidget(self.note)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open Report")
        self.open_button.clicked.connect(self.open_report)
        self.adopt_button = QPushButton("Adopt a Site Calibration…")
        self.adopt_button.clicked.connect(self.adopt)
        self.switch_button = QPushButton("Switch to the New Model")
        self.switch_button.clicked.connect(self.switch)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        for b in (self.open_button, self.adopt_button, self.switch_button):
            b.hide()
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)
        lay.addLayout(buttons)

    # ---- the check --------------------------------------------------------------------
    def start(self) -> None:
        self._run(check_local_cases, str(self.active_info.keras_path), self.folder, labels_csv=self.labels_csv,
                  what="local-cases check", done=self._on_checked)

    def _run(self, fn, *args, what: str, done, **kwargs) -> None:
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.setEnabled(True)
        self.task = self.background.start(partial(self._runner, fn, *args, what=what, **kwargs),
                                          progress=self._on_progress, done=done, failed=self._on_failed,
                                          cancelled=self._on_cancelled)

    def _on_progress(self, p: Progress) -> None:
        if p.total:
            self.progress.setRange(0, p.total)
            self.progress.setValue(p.done)
        self.status.setText(f"{STAGE_WORDS.get(p.stage, p.stage.capitalize())} {p.done}/{p.total}: {p.message}"
                            if p.total else p.message)

    def _idle(self) -> None:
        self.progress.hide()
        self.cancel_button.setEnabled(False)
        self.task = None

    def _on_checked(self, report: dict) -> None:
        self._idle()
        self.report = report
        c = report["cases"]
        self.heading.setText(f"Model {report['model']['name']} on {c['images']} local X-rays ({c['negatives']} NORMAL, "
                             f"{c['positives']} PNEUMONIA, {c['patients']} patients), threshold "
                             f"{100 * report['threshold']:.0f}%")
        card = report["card"][0]["label"] if report["card"] else "none recorded"
        self._fill(["Figure", "Here (95% CI)", "The card's claim (95% CI)", "Verdict"], check_rows(report))
        extra = [f"The card's claim: on {card}."]
        extra += [f"{len(report['misses'])} missed pneumonias and {len(report['false_alarms'])} false alarms are "
                 "listed with thumbnails in the report.",
                 f"{report['ood']['count']} out-of-distribution flags; {len(report['unreadable'])} unreadable files."]
        extra += report["warnings"]
        self.note.setText(" ".join(extra))
        self.status.setText(f"Report written to {report['report_path']}")
        self.open_button.show()
        reason = refusal_reason(report)
        self.adopt_button.show()
        self.adopt_button.setEnabled(not reason)
        self.adopt_button.setToolTip(reason or "Refit calibration and threshold on these cases (same weights); "
                                     "its figures are cross-validated over patients")
        if reason:
            self.note.setText(self.note.text() + " " + reason)
        self.open_report()

    def open_report(self) -> None:
        if self.report:
            self._open_url(QUrl.fromLocalFile(self.report["report_path"]))

    # ---- the site calibration ---------------------------------------------------------
    def _ask_name_dialog(self, suggestion: str) -> Optional[str]:
        name, ok = QInputDialog.getText(self, "Adopt a site calibration",
                                        "Name of the site-calibrated model (letters, digits, . - _):", text=suggestion)
        return name.strip() if ok and name.strip() else None

    def adopt(self) -> None:
        name = self._ask_name(f"site-{date.today():%Y%m%d}")
        if not name:
            return
        self.adopt_button.setEnabled(False)
        self.status.setText(f"Calibrating {name} on these cases (same weights as {self.active_info.name})…")
        self._run(fit_site_calibration_job, str(self.active_info.keras_path), self.folder, name,
                  labels_csv=self.labels_csv, what="site calibration", done=self._on_calibrated)

    def _on_calibrated(self, result: dict) -> None:
        self._idle()
        self.adoption = result
        self.calibrated.emit(result)
        n = result["claimed"]["images"]
        self.heading.setText(f"{result['name']}: model {self.active_info.name}'s weights, calibration and "
                             f"threshold refitted on {n} local X-rays")
        head = evaluations.headline(self.active_info.meta or {})
        current = self.active_info.name
        self._fill(["Figure", f"{result['name']}, cross-validated", f"{current}, here", f"{current}'s card"],
                   adoption_rows(result, self.active_info.meta))
        self.note.setText(f"{result['name']}: 5-fold cross-validation over these cases' patients (fitted on 4/5, "
                          f"measured on the held-out fifth), never the cases it was fitted on. {current}, here: as it "
                          f"is, at its own threshold, on these cases. {current}'s card: "
                          + (f"on {head['label']}." if head else "no figures recorded.")
                          + f" Saved as {result['path']}; Restore Bundled Model undoes the switch.")
        self.status.setText(f"Threshold {100 * result['claimed']['threshold']:.0f}%: the highest keeping sensitivity "
                            f">= {result['sensitivity_target']:g} on these cases.")
        self.switch_button.setText(f"Switch to {result['name']}")
        self.switch_button.show()
        self.adopt_button.hide()

    def switch(self) -> None:
        if self.adoption:
            self.adoptRequested.emit(self.adoption["path"])
            self.accept()

    # ---- failures, cancel, close ------------------------------------------------------
    def _on_failed(self, exc) -> None:
        self._idle()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        self.status.setText(message)
        self.status.setStyleSheet("color: #ffc145;")
        if self.report is not None and self.adoption is None:
            self.adopt_button.setEnabled(True)

    def _on_cancelled(self) -> None:
        self._idle()
        self.status.setText("Cancelled; nothing was written." if self.report is None or self.adoption is None
                            else "Cancelled.")
        if self.report is not None:
            self.adopt_button.setEnabled(not refusal_reason(self.report))

    def cancel(self) -> None:
        if self.task is not None:
            self.status.setText("Stopping…")
            self.task.cancel()

    def done(self, result: int) -> None:  # accept, reject, Escape and the close box all end here
        self.background.shutdown()
        super().done(result)

    def _fill(self, header: list[str], rows) -> None:
        self.table.clear()
        self.table.setColumnCount(len(header))
        self.table.setHorizontalHeaderLabels(header)
        self.table.setRowCount(len(rows))
        for c, text in enumerate(header):
            self.table.horizontalHeaderItem(c).setToolTip(text)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.show()


def open_site_check(window, runner: Optional[Callable] = None) -> Optional[SiteCheckDialog]:
    """Model > Check on Local Cases…: pick the folder (and a labels CSV when it has no
    NORMAL/ and PNEUMONIA/ folders), then run the check in the dialog."""
    info = window.controller.active_model if window.controller else None
    if info is None:
        window.show_error("No model", "Load a model first (Model menu); there is nothing to check.")
        return None
    start = window.settings.last_dir or str(Path.home())
    folder = QFileDialog.getExistingDirectory(window, "Choose a folder of labelled X-rays (NORMAL/ and PNEUMONIA/)",
                                              start)
    if not folder:
        return None
    labels = None
    if not _has_class_folders(folder):
        labels, _ = QFileDialog.getOpenFileName(window, "Labels for these X-rays (path,label or a reads export)",
                                                folder, "CSV (*.csv)")
        if not labels:
            return None
    dialog = SiteCheckDialog(folder, info, window, labels_csv=labels, runner=runner)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    # Through the window's model check when it has one (a site model on few cases asks again,
    # like any barely validated model), else straight to the controller.
    switch = getattr(window, "request_model_switch", None) or window.controller.switch_model
    dialog.adoptRequested.connect(lambda path: switch(path))
    reading = getattr(window, "reading", None)
    if reading is not None:  # the audit log: which site calibration was made, from what, when
        dialog.calibrated.connect(lambda result: reading.record_event("calibration", {
            "name": result.get("name"), "path": result.get("path"), "folder": folder,
            "cases": (result.get("claimed") or {}).get("images"), "via": "window"}))
    dialog.show()
    dialog.start()
    return dialog


def _has_class_folders(folder: str) -> bool:
    for base in (folder, os.path.join(folder, "train"), os.path.join(folder, "test")):
        names = {n.upper() for n in os.listdir(base)} if os.path.isdir(base) else set()
        if {"NORMAL", "PNEUMONIA"} <= names:
            return True
    return False
