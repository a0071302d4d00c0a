"""Training panel details a user trips over, without training a model (fast): Enter scans,
Elapsed restarts, 'Starting' says what it waits for, early stops are named, epoch ticks are
whole, the last choices come back, and the quit question closes itself once the run ends."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt, QTimer

from xrayviewer.gui import training_panel as tp
from xrayviewer.progress import Cancelled


@pytest.fixture
def panel(fake_window, qtbot):
    window = fake_window
    window._started = True
    return window.open_training_panel()


def test_enter_in_the_path_field_scans_and_does_not_open_browse(panel, qtbot, tiny_dataset, monkeypatch):
    opened = []
    monkeypatch.setattr(tp.QFileDialog, "getExistingDirectory", lambda *a, **k: opened.append(a) or "")
    panel.folder_edit.setText(str(tiny_dataset))
    panel.folder_edit.setFocus()
    qtbot.keyClick(panel.folder_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.scan is not None, timeout=30_000)
    assert opened == [] and "24 images" in panel.scan_label.text()


def test_a_new_run_starts_its_clock_at_zero_and_says_what_it_waits_for(panel, qtbot, tiny_dataset, monkeypatch):
    started = threading.Event()

    def fake_train(config, scan=None, on_progress=None, should_cancel=None):
        started.set()
        while not should_cancel():
            threading.Event().wait(0.02)
        raise Cancelled()

    monkeypatch.setattr(tp, "train", fake_train)
    panel.folder_edit.setText(str(tiny_dataset))
    panel.start_scan()
    qtbot.waitUntil(lambda: panel.scan is not None, timeout=30_000)
    panel.time_label.setText("Elapsed 12:34 · about 1:00 left")  # what the last run left there
    panel.epochs_spin.setValue(3)
    panel.start_training()
    assert panel.stage_label.text() == tp.STARTING_TEXT and "TensorFlow" in panel.stage_label.text()
    assert panel.time_label.text() == "Elapsed 0:00"
    qtbot.waitUntil(started.is_set, timeout=10_000)
    panel.cancel()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=10_000)
    # The choices are remembered for the next panel (next session).
    assert panel.settings.training_choices() == (str(tiny_dataset), panel.recipe_combo.currentData(), 3)


def test_the_last_dataset_recipe_and_epochs_come_back(fake_window, tmp_path):
    recipe = list(tp.RECIPES)[-1]
    fake_window.settings.set_training_choices(str(tmp_path), recipe, 7)
    panel = fake_window.open_training_panel()
    assert panel.folder_edit.text() == str(tmp_path)
    assert panel.recipe_combo.currentData() == recipe and panel.epochs_spin.value() == 7


def test_an_early_stop_is_named_on_the_epoch_bar():
    from xrayviewer.model.card import kept_weights_text

    best = kept_weights_text({"best_epoch": 4})  # a bundle saved before weight averaging existed
    assert tp.end_of_run_text(7, 40, best) == "Stopped early at epoch 7 of 40 (best: epoch 4)"
    mean = kept_weights_text({"best_epoch": 30, "kept": {"rule": "weight-mean", "epochs": [36, 40]}})
    assert tp.end_of_run_text(40, 40, mean) == "All 40 epochs run (mean of epochs 36-40)"


def test_epoch_ticks_are_whole_numbers(panel):
    for epoch in (1, 2, 3):
        panel.plot.add_batch(epoch - 0.5, 0.5)
        panel.plot.add_epoch(epoch, {"loss": 0.5, "val_loss": 0.6, "val_auc": 0.8})
    panel.plot.canvas.draw()
    for ax in (panel.plot.loss_ax, panel.plot.auc_ax):
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_the_quit_question_closes_itself_when_the_run_ends(fake_window, qtbot):
    window = fake_window
    window.open_training_panel()
    seen = []
    QTimer.singleShot(200, lambda: seen.append(window.quit_question is not None and window.quit_question.isVisible()))
    QTimer.singleShot(300, window.training_panel.runEnded.emit)  # the model was saved meanwhile
    assert window.confirm_stop_training() is True  # quitting now loses nothing
    assert seen == [True] and window.quit_question is None
