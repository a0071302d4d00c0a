"""The hidden training panel (Ctrl+Shift+T or --training-panel): scan, train, compare, use.

Training is ``training.fit`` run in a child process (``training.child_process``) as a
background task (:class:`~.background.BackgroundTasks`); this module only turns its
progress into bars, times and curves, and its result into a comparison with the active
model. The trained bundle goes to the per-user models folder, never into the installation.
"""

from __future__ import annotations

import logging
import math
import time
from functools import partial
from typing import Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                               QLabel, QLineEdit, QProgressBar, QPushButton, QSpinBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QHeaderView)

from ..model.card import kept_weights_text
from ..paths import user_models_dir
from ..defaults import VAL_FRACTION
from ..training import DEFAULT_RECIPE, RECIPES, TrainConfig, scan_dataset
from ..training.child_process import fit_in_child_process as train  # memory back to the OS per run
from .wording import count, duration
from .background import BackgroundTasks

log = logging.getLogger(__name__)

COMPARED_METRICS = (("auc", "AUC", "{:.3f}"), ("sensitivity", "Sensitivity", "{:.1%}"),
                    ("specificity", "Specificity", "{:.1%}"), ("accuracy", "Accuracy", "{:.1%}"),
                    ("threshold", "Threshold", "{:.3f}"), ("n", "Validation images", "{:d}"))


class TrainingClock:
    """Elapsed time and a remaining-time estimate from the fraction of batches done."""

    def __init__(self, now=time.monotonic):
        self._now = now
        self.started = now()
        self._first: Optional[tuple[float, float]] = None  # (time, fraction) at the first batch

    def elapsed(self) -> float:
        return self._now() - self.started

    def remaining(self, fraction: float) -> Optional[float]:
        """Seconds left, extrapolated from the batches since the first one (which excludes
        the input caching and graph building that precede it)."""
        now = self._now()
        if self._first is None:
            self._first = (now, fraction)
            return None
        t0, f0 = self._first
        if fraction <= f0 or fraction <= 0:
            return None
        rate = (now - t0) / (fraction - f0)
        return max(0.0, (1.0 - fraction) * rate)


def compare_rows(new_meta: dict, active_meta: Optional[dict]) -> list[tuple[str, str, str]]:
    """(metric, new model, active model) rows from the two models' validation reports."""
    new_v = new_meta.get("validation", {})
    old_v = (active_meta or {}).get("validation", {})
    rows = []
    for key, label, fmt in COMPARED_METRICS:
        def show(v, key=key, fmt=fmt):  # bound now: each row formats its own metric
            value = v.get(key)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                return "–"
            return fmt.format(int(value) if fmt == "{:d}" else float(value))
        rows.append((label, show(new_v), show(old_v)))
    return rows


def end_of_run_text(epochs_run: int, epochs_planned: int, kept: str) -> str:
    """What the epoch bar says when a run ends: a run that stopped early says so, instead of
    a full bar reading "Epoch 40 of 40" after 7 epochs. ``kept`` says which weights were kept
    (model.card.kept_weights_text)."""
    if epochs_planned and epochs_run < epochs_planned:
        return f"Stopped early at epoch {epochs_run} of {epochs_planned} ({kept})"
    return f"All {epochs_run} epochs run ({kept})"


#: What a new run waits for before its first progress report: the child process imports
#: TensorFlow and reads the dataset before the first batch.
STARTING_TEXT = "Starting: launching the training process and loading TensorFlow…"
SCAN, TRAINING = "scan", "training"  # the panel's two kinds of background task


class TrainingPanel(QDialog):
    useModelRequested = Signal(str)
    runEnded = Signal()  # a run finished, failed or was cancelled (nothing is running now)
    runEvent = Signal(str, object)  # (reads-log event kind, details): the audit trail of training runs

    def __init__(self, parent=None, settings=None):
        super().__init__(parent)
        self.settings = settings  # remembers the last dataset, recipe and epochs (gui.settings)
        from .training_plot import TrainingPlot

        self.setWindowTitle("Train a model")
        self.resize(1180, 720)
        self.background = BackgroundTasks(self, name="training")
        self.scan = None
        self.result = None
        self.active_info = None
        self._clock: Optional[TrainingClock] = None

        # Settings and progress on the left, the curves and the result on the right.
        outer = QHBoxLayout(self)
        lay = QVBoxLayout()
        right = QVBoxLayout()
        outer.addLayout(lay, 4)
        outer.addLayout(right, 6)
        data_box = QGroupBox("Dataset")
        data_lay = QVBoxLayout(data_box)
        row = QHBoxLayout()
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("A folder with NORMAL/ and PNEUMONIA/ (or the Kaggle train/val/test layout)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.choose_folder)
        self.scan_button = QPushButton("Scan")
        self.scan_button.clicked.connect(self.start_scan)
        # Enter in the path scans it. A dialog's first push button is its "auto default", so
        # Enter used to press Browse and open a file dialog over the typed path.
        self.folder_edit.returnPressed.connect(self.start_scan)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        row.addWidget(self.scan_button)
        data_lay.addLayout(row)
        self.scan_label = QLabel("Choose a dataset folder and scan it before training.")
        self.scan_label.setWordWrap(True)
        self.scan_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        data_lay.addWidget(self.scan_label)
        lay.addWidget(data_box)

        settings_box = QGroupBox("Training")
        form = QFormLayout(settings_box)
        self.recipe_combo = QComboBox()
        for name, recipe in RECIPES.items():
            self.recipe_combo.addItem(f"{name} (shipped)" if name == DEFAULT_RECIPE else name, name)
            self.recipe_combo.setItemData(self.recipe_combo.count() - 1, recipe.description, Qt.ItemDataRole.ToolTipRole)
        self.recipe_combo.setCurrentIndex(self.recipe_combo.findData(DEFAULT_RECIPE))
        self.recipe_combo.currentIndexChanged.connect(self._on_recipe_changed)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 500)
        self.val_spin = QDoubleSpinBox()
        self.val_spin.setRange(0.05, 0.5)
        self.val_spin.setSingleStep(0.05)
        self.val_spin.setValue(VAL_FRACTION)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 1_000_000)
        self.max_spin = QSpinBox()
        self.max_spin.setRange(0, 1_000_000)
        self.max_spin.setSpecialValueText("all")
        self.recipe_help = QLabel("")
        self.recipe_help.setWordWrap(True)
        self.recipe_help.setObjectName("smallText")
        # Word-wrapped labels in a form layout get one line's height; the descriptions need two.
        self.recipe_help.setMinimumHeight(self.fontMetrics().lineSpacing() * 3 + 4)
        form.addRow("Recipe", self.recipe_combo)
        form.addRow("", self.recipe_help)
        form.addRow("Epochs (at most)", self.epochs_spin)
        form.addRow("Validation fraction (by patient)", self.val_spin)
        form.addRow("Random seed", self.seed_spin)
        form.addRow("Use at most (images)", self.max_spin)
        lay.addWidget(settings_box)
        self._on_recipe_changed()

        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start training")
        self.start_button.setEnabled(False)
        self.start_button.clicked.connect(self.start_training)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        lay.addLayout(buttons)

        self.stage_label = QLabel("")
        self.epoch_bar = QProgressBar()
        self.epoch_bar.setFormat("Epoch %v of %m")
        self.batch_bar = QProgressBar()
        self.batch_bar.setFormat("%v / %m")
        self.time_label = QLabel("")
        for w in (self.stage_label, self.epoch_bar, self.batch_bar, self.time_label):
            lay.addWidget(w)
        self.plot = TrainingPlot()
        self.plot.setMinimumHeight(220)
        lay.addStretch(1)
        right.addWidget(self.plot, 1)

        result_box = QGroupBox("Result (each model on its own validation split)")
        result_lay = QVBoxLayout(result_box)
        self.compare_table = QTableWidget(0, 3)
        self.compare_table.setHorizontalHeaderLabels(["", "This training", "Active model"])
        self.compare_table.verticalHeader().setVisible(False)
        self.compare_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.compare_table.setMinimumHeight(self.compare_table.verticalHeader().defaultSectionSize() * 7 + 8)
        self.active_label = QLabel("")
        self.active_label.setObjectName("smallText")
        self.active_label.setWordWrap(True)
        result_lay.addWidget(self.compare_table)
        result_lay.addWidget(self.active_label)
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        result_lay.addWidget(self.result_label)
        self.use_button = QPushButton("Use this model")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self.use_model)
        result_lay.addWidget(self.use_button, 0, Qt.AlignmentFlag.AlignLeft)
        right.addWidget(result_box)
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)
        self._tick = QTimer(self)  # Elapsed counts on between progress reports (and while starting)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(lambda: self._show_time(None))
        self._restore_choices()

    # ---- state ----------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.background.current(TRAINING) is not None

    def set_active_model(self, info) -> None:
        self.active_info = info
        if self.result is not None:
            self._fill_comparison()

    def _restore_choices(self) -> None:
        if self.settings is None:
            return
        folder, recipe, epochs = self.settings.training_choices()
        if folder:
            self.folder_edit.setText(folder)
        index = self.recipe_combo.findData(recipe) if recipe else -1
        if index >= 0:
            self.recipe_combo.setCurrentIndex(index)
        if epochs:
            self.epochs_spin.setValue(epochs)

    def _on_recipe_changed(self, *_args) -> None:
        recipe = RECIPES[self.recipe_combo.currentData()]
        self.epochs_spin.setValue(recipe.epochs)
        self.recipe_help.setText(recipe.description)

    # ---- scan -----------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            self.start_scan()

    def start_scan(self) -> None:
        folder = self.folder_edit.text().strip()
        if not folder or self.background.current(SCAN) is not None or self.is_running():
            return
        self.scan = None
        self.start_button.setEnabled(False)
        self.scan_button.setEnabled(False)
        self.scan_label.setText(f"Scanning {folder}…")
        self.background.start(partial(scan_dataset, folder), kind=SCAN, progress=self._on_scan_progress,
                              done=self._on_scanned, failed=self._on_scan_failed, cancelled=self._on_scan_failed)

    def _on_scan_progress(self, p) -> None:
        self.scan_label.setText(f"Scanning… {p.done}/{p.total} {p.message}" if p.total else f"Scanning… {p.message}")

    def _on_scanned(self, scan) -> None:
        self.scan = scan
        self.scan_button.setEnabled(True)
        c = scan.counts
        lines = [f"<b>{len(scan.samples)} images</b> ({scan.layout} layout): "
                 f"{c['NORMAL']} NORMAL, {c['PNEUMONIA']} PNEUMONIA, from {scan.patients} patients."]
        if scan.official_test:
            lines.append(f"{len(scan.official_test)} images in test/ are kept out of training.")
        if scan.unreadable:
            shown = "; ".join(reason for _, reason in scan.unreadable[:3])
            more = f" (and {len(scan.unreadable) - 3} more)" if len(scan.unreadable) > 3 else ""
            lines.append(f"<span style='color:#ffc145'>{count(len(scan.unreadable), 'unreadable file')} will be "
                         f"skipped: {shown}{more}</span>")
        self.scan_label.setText("<br>".join(lines))
        self.start_button.setEnabled(bool(scan.samples))

    def _on_scan_failed(self, exc=None) -> None:
        self.scan_button.setEnabled(True)
        self.scan_label.setText(f"<span style='color:#ff7a5c'>{exc or 'Scan cancelled.'}</span>")

    # ---- training -------------------------------------------------------------------------
    def config(self) -> TrainConfig:
        recipe = self.recipe_combo.currentData()
        # The recipe's own epoch count is no override: the run then follows the recipe's plan
        # exactly as `xrayviewer train` does (its schedule may span more epochs than it runs).
        epochs = self.epochs_spin.value()
        return TrainConfig(dataset_dir=self.scan.root, out_dir=str(user_models_dir()), recipe=recipe,
                           epochs=None if epochs == RECIPES[recipe].epochs else epochs,
                           seed=self.seed_spin.value(), val_fraction=round(self.val_spin.value(), 3),
                           max_images=self.max_spin.value() or None, command="xrayviewer-gui training panel")

    def start_training(self) -> None:
        if self.scan is None or self.is_running():
            return
        config = self.config()
        self.result = None
        self.use_button.setEnabled(False)
        self.compare_table.setRowCount(0)
        self.result_label.setText("")
        self.plot.clear()
        self.epoch_bar.setRange(0, self.epochs_spin.value())
        self.epoch_bar.setValue(0)
        self.batch_bar.setRange(0, 1)
        self.batch_bar.setValue(0)
        self.stage_label.setText(STARTING_TEXT)
        self.epoch_bar.setFormat("Epoch %v of %m")
        self._clock = TrainingClock()
        self._show_time(None)  # "Elapsed 0:00" at once, not the last run's time
        self._tick.start()
        if self.settings is not None:
            self.settings.set_training_choices(self.folder_edit.text().strip(), config.recipe, self.epochs_spin.value())
        self._set_running(True)
        log.info("Training %s for %s epochs on %s", config.recipe, config.epochs or "the recipe's", config.dataset_dir)
        self.runEvent.emit("training-start", {"dataset": config.dataset_dir, "recipe": config.recipe,
                                              "epochs": config.epochs, "max_images": config.max_images})
        # ``train`` looked up now, not bound at import: tests replace it with a fake fit.
        self.background.start(partial(train, config, scan=self.scan), kind=TRAINING, progress=self._on_progress,
                              done=self._on_trained, failed=self._on_failed, cancelled=self._on_cancelled)

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running and self.scan is not None)
        self.scan_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for w in (self.recipe_combo, self.epochs_spin, self.val_spin, self.seed_spin, self.max_spin, self.folder_edit):
            w.setEnabled(not running)

    def _on_progress(self, p) -> None:
        if p.stage == "batch":
            v = p.values
            epoch, epochs = int(v.get("epoch", 1)), int(v.get("epochs", 1))
            self.stage_label.setText(f"Training: epoch {epoch} of {epochs}, batch {p.done} of {p.total}, "
                                     f"loss {v.get('loss', math.nan):.4f}")
            self.batch_bar.setRange(0, p.total)
            self.batch_bar.setValue(p.done)
            self.epoch_bar.setRange(0, epochs)
            self.epoch_bar.setValue(epoch - 1)
            self.plot.add_batch(epoch - 1 + p.fraction, float(v.get("loss", math.nan)))
            self._show_time((epoch - 1 + p.fraction) / max(1, epochs))
        elif p.stage == "epoch":
            self.epoch_bar.setValue(p.done)
            self.plot.add_epoch(p.done, p.values)
            self.stage_label.setText(f"Epoch {p.done} done: validation AUC {p.values.get('val_auc', math.nan):.3f}, "
                                     f"validation loss {p.values.get('val_loss', math.nan):.4f}")
        else:
            label = {"scan": "Scanning", "cache": "Preparing inputs", "evaluate": "Evaluating"}.get(p.stage, p.stage)
            self.stage_label.setText(f"{label}: {p.message}" + (f" ({p.done}/{p.total})" if p.total else ""))
            if p.total:
                self.batch_bar.setRange(0, p.total)
                self.batch_bar.setValue(p.done)
            self._show_time(None)

    def _show_time(self, fraction: Optional[float]) -> None:
        remaining = self._clock.remaining(fraction) if fraction is not None else None
        text = f"Elapsed {duration(self._clock.elapsed())}"
        if remaining is not None:
            text += f" · about {duration(remaining)} left"
        self.time_label.setText(text)

    def _on_trained(self, result) -> None:
        self._finish()
        self.result = result
        m = result.metadata
        self.epoch_bar.setValue(self.epoch_bar.maximum())
        t = m["training"]
        kept = kept_weights_text(t)
        self.epoch_bar.setFormat(end_of_run_text(int(t["epochs_run"]), int(t.get("epochs_max") or 0), kept))
        self.stage_label.setText(f"Done in {duration(self._clock.elapsed())}: "
                                 f"{count(m['training']['epochs_run'], 'epoch')}, weights kept: {kept}.")
        self.result_label.setText(f"Saved as {result.model_path}")
        self._fill_comparison()
        self.use_button.setEnabled(True)
        self.runEvent.emit("training-end", {"model": result.model_path.stem, "path": str(result.model_path),
                                            "validation": m.get("validation"), "split": m.get("split")})

    def _fill_comparison(self) -> None:
        rows = compare_rows(self.result.metadata, self.active_info.meta if self.active_info else None)
        self.compare_table.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                self.compare_table.setItem(r, c, QTableWidgetItem(text))
        name = self.active_info.display_name if self.active_info else "none"
        self.active_label.setText(f"Active model: {name}")

    def _on_failed(self, exc) -> None:
        self._finish()
        self.stage_label.setText(f"<span style='color:#ff7a5c'>Training failed: {exc}</span>")
        log.error("Training failed: %s", exc)
        self.runEvent.emit("training-failed", {"error": str(exc)})

    def _on_cancelled(self) -> None:
        self._finish()
        self.stage_label.setText("Training cancelled; no model was saved.")
        self.runEvent.emit("training-cancel", {})

    def _finish(self) -> None:
        self._tick.stop()
        self._set_running(False)
        self.runEnded.emit()

    def cancel(self) -> None:
        task = self.background.current(TRAINING)
        if task is not None:
            task.cancel()
            self.cancel_button.setEnabled(False)
            self.stage_label.setText("Stopping after this batch…")

    def stop(self, msecs: int = 120000) -> None:
        """Cancel the run and wait for it (the main window is closing); how it ended is still
        shown and logged before the window goes."""
        self.background.finish(TRAINING, msecs)
        self.background.shutdown(msecs)

    def use_model(self) -> None:
        if self.result is not None:
            self.use_button.setEnabled(False)
            self.result_label.setText(f"Switching to {self.result.model_path.name}…")
            self.useModelRequested.emit(str(self.result.model_path))

    def switch_declined(self, active_info) -> None:
        """The window's model check kept the active model: the button works again."""
        self.use_button.setEnabled(self.result is not None)
        name = active_info.display_name if active_info is not None else "no model"
        self.result_label.setText(f"Not switched; still using {name}.")
