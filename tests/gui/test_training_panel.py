"""The hidden training panel: scan, train one epoch, compare, use; cancel and close mid-run."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from xrayviewer.paths import user_models_dir

pytestmark = pytest.mark.slow
TRAIN_TIMEOUT_MS = 180_000


def _saved_models():
    folder = user_models_dir()
    return sorted(p.name for p in folder.glob("*")) if folder.exists() else []


def _panel_scanned(window, qtbot, dataset, epochs):
    panel = window.open_training_panel()
    panel.folder_edit.setText(str(dataset))
    panel.start_scan()
    qtbot.waitUntil(lambda: panel.scan is not None, timeout=30_000)
    panel.epochs_spin.setValue(epochs)
    panel.val_spin.setValue(0.35)  # 24 images: a validation split with both classes
    return panel


def test_hidden_shortcut_opens_the_panel_and_no_menu_mentions_training(window_factory, qtbot):
    window = window_factory(wait_model=False)
    texts = [a.text().lower() for m in window.menuBar().actions() for a in m.menu().actions()]
    assert not any("train" in t for t in texts)
    assert window.training_panel is None  # built lazily
    window.activateWindow()  # window shortcuts fire only in the active window
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.training_panel is not None and window.training_panel.isVisible()


def test_train_one_epoch_compare_and_use_the_model(window_factory, qtbot, tiny_dataset):
    window = window_factory()
    panel = _panel_scanned(window, qtbot, tiny_dataset, epochs=1)
    assert "24 images" in panel.scan_label.text() and "12 NORMAL, 12 PNEUMONIA" in panel.scan_label.text()
    assert panel.start_button.isEnabled()

    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.is_running() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=TRAIN_TIMEOUT_MS)

    path = panel.result.model_path
    assert path.parent == user_models_dir() and path.is_file()
    assert panel.plot.epochs == [1] and len(panel.plot.val_auc) == 1 and panel.plot.batch_x
    assert panel.epoch_bar.value() == panel.epoch_bar.maximum() == 1
    assert panel.time_label.text().startswith("Elapsed")
    rows = [[panel.compare_table.item(r, c).text() for c in range(3)] for r in range(panel.compare_table.rowCount())]
    assert rows[0][0] == "AUC" and rows[0][1] != "–" and rows[0][2] != "–"  # new and active side by side

    # The tiny fixture's model (10 validation images) must not go live in one click.
    answers = [False, True]
    asked = []
    window.confirm_model_switch = lambda new, active, concerns: asked.append(concerns) or answers.pop(0)
    qtbot.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)
    assert "tiny" in asked[0][0] and window.controller.active_model.keras_path != path
    assert panel.use_button.isEnabled() and "Not switched" in panel.result_label.text()
    qtbot.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)  # confirmed this time
    qtbot.waitUntil(lambda: window.controller.active_model is not None
                    and window.controller.active_model.keras_path == path, timeout=60_000)
    from xrayviewer.reads import ReadsLog

    with ReadsLog() as log:  # the audit trail says which model came from which run
        kinds = [e["kind"] for e in log.events()]
        end = log.events("training-end")[0]["details"]
    assert kinds.index("training-start") < kinds.index("training-end") < len(kinds) - 1
    assert kinds[-1] == "model-switch" and end["model"] == path.stem and end["validation"]["n"] == 10
    window.rebuild_model_menu()
    checked = [a.data() for a in window.model_menu.actions() if a.isCheckable() and a.isChecked()]
    assert checked == [str(path)]


def test_cancel_stops_and_keeps_no_model(window_factory, qtbot, tiny_dataset):
    window = window_factory(wait_model=False)
    panel = _panel_scanned(window, qtbot, tiny_dataset, epochs=30)
    panel.start_training()
    qtbot.waitUntil(lambda: bool(panel.plot.batch_x), timeout=TRAIN_TIMEOUT_MS)  # in the first epoch
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)
    assert "cancelled" in panel.stage_label.text().lower()
    assert len(panel.plot.epochs) < 30 and panel.result is None
    from xrayviewer.reads import ReadsLog

    with ReadsLog() as log:
        assert [e["kind"] for e in log.events() if e["kind"].startswith("training")] == ["training-start",
                                                                                        "training-cancel"]
    assert not any(n.endswith(".keras") or n.startswith(".") for n in _saved_models())
    assert panel.start_button.isEnabled() and not panel.cancel_button.isEnabled()


def _slow_fake_fit(config, on_progress, should_cancel, scan=None):
    """Stands in for training.fit: endless batches until cancelled (the real cancel path is
    covered above; this test is about the window's close logic)."""
    import time

    from xrayviewer.progress import Progress, check_cancel

    for i in range(100_000):
        on_progress(Progress("batch", i % 10 + 1, 10, "", {"epoch": 1, "epochs": config.epochs, "loss": 0.5}))
        check_cancel(should_cancel)
        time.sleep(0.01)
    raise AssertionError("never cancelled")


def test_closing_mid_run_asks_then_stops_cleanly(window_factory, qtbot, tiny_dataset, monkeypatch):
    from xrayviewer.gui import training_panel

    monkeypatch.setattr(training_panel, "train", _slow_fake_fit)
    window = window_factory(wait_model=False)
    panel = _panel_scanned(window, qtbot, tiny_dataset, epochs=30)
    panel.start_training()
    qtbot.waitUntil(lambda: bool(panel.plot.batch_x), timeout=10_000)
    answers = []
    monkeypatch.setattr(window, "confirm_stop_training", lambda: answers.append("asked") or len(answers) > 1)
    window.close()
    assert answers == ["asked"] and window.isVisible() and panel.is_running()  # "No": keeps training
    task = panel.background.current("training")
    assert task.is_running()
    window.close()  # "Yes": cancels and waits for the thread
    assert answers == ["asked", "asked"] and not window.isVisible()
    assert not task.is_running() and task.cancel_requested
    assert "cancelled" in panel.stage_label.text().lower()  # how the run ended is shown before the window goes


def test_unwritable_cache_folder_is_one_line_and_keeps_the_window_usable(window_factory, qtbot, tiny_dataset,
                                                                         user_home):
    """The real training process, failing where a full or read-only disk would: the panel says
    why in one line, trains nothing, and can start again."""
    (user_home / "cache").write_text("a file where the cache folder should be")
    window = window_factory(wait_model=False)
    panel = _panel_scanned(window, qtbot, tiny_dataset, epochs=1)
    panel.start_training()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=TRAIN_TIMEOUT_MS)
    text = panel.stage_label.text()
    assert "Training failed" in text and "could not be stored" in text and "no model was changed" in text
    assert "Traceback" not in text and "\n" not in text
    assert panel.result is None and not any(n.endswith(".keras") for n in _saved_models())
    assert panel.start_button.isEnabled() and not panel.cancel_button.isEnabled()


def test_panel_follows_the_recipes_epoch_plan_unless_told_otherwise(window_factory, qtbot, tiny_dataset):
    """Left at the recipe's epochs, the panel trains exactly what `xrayviewer train` would
    (no override, so the schedule may span more epochs than run); a changed count overrides."""
    from xrayviewer.training import get_recipe

    window = window_factory(wait_model=False)
    panel = _panel_scanned(window, qtbot, tiny_dataset, epochs=get_recipe("default").epochs)
    assert panel.recipe_combo.currentData() == "default-frame-xy-slim-stride"
    assert panel.config().epochs is None
    panel.epochs_spin.setValue(3)
    assert panel.config().epochs == 3
