"""Model > Check on Local Cases…: the check in the background with progress and cancel, the
report, adopting a site calibration, switching to it, and Restore Bundled Model undoing it."""

from __future__ import annotations

import time

import pytest

from site_fixtures import fake_loader, write_local_cases
from xrayviewer.progress import Progress

from .helpers import wait_settled


def in_thread(fn, *args, on_progress, should_cancel, what="", **kwargs):
    """The dialog's runner without a child process, on the fake predictor (no TensorFlow)."""
    return fn(*args, on_progress=on_progress, should_cancel=should_cancel, load_predictor=fake_loader, **kwargs)


def waits_for_cancel(fn, *args, on_progress, should_cancel, what="", **kwargs):
    on_progress(Progress("predict", 1, 10, "first film"))
    deadline = time.monotonic() + 20
    while not should_cancel() and time.monotonic() < deadline:
        time.sleep(0.01)
    return in_thread(fn, *args, on_progress=on_progress, should_cancel=should_cancel, **kwargs)


@pytest.fixture
def tiny_info(tiny_model):
    from xrayviewer.model import read_model_info

    return read_model_info(tiny_model)


def make_dialog(qtbot, folder, info, runner=in_thread, name="site-x"):
    from xrayviewer.gui.site_check import SiteCheckDialog

    opened = []
    dialog = SiteCheckDialog(str(folder), info, runner=runner, open_url=opened.append, ask_name=lambda _s: name)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog, opened


def table(dialog):
    t = dialog.table
    return [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]


def test_check_shows_figures_opens_the_report_and_adopts(qtbot, tmp_path, tiny_info, user_home):
    folder = write_local_cases(tmp_path / "site")
    dialog, opened = make_dialog(qtbot, folder, tiny_info)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=60_000)
    rows = table(dialog)
    assert [r[0] for r in rows][:2] == ["Sensitivity (pneumonia found)", "Specificity (normals cleared)"]
    assert "%" in rows[0][1] and "(" in rows[0][1]  # a figure with its interval
    assert "66 local X-rays (32 NORMAL, 34 PNEUMONIA" in dialog.heading.text()
    report_path = dialog.report["report_path"]
    assert opened and opened[0].toLocalFile() == report_path
    assert str(user_home) in report_path and open(report_path, encoding="utf-8").read().startswith("<!DOCTYPE html>")
    assert dialog.adopt_button.isVisible() and dialog.adopt_button.isEnabled()

    dialog.adopt()
    qtbot.waitUntil(lambda: dialog.adoption is not None, timeout=60_000)
    header = [dialog.table.horizontalHeaderItem(c).text() for c in range(dialog.table.columnCount())]
    assert header[1:] == ["site-x, cross-validated", "tiny, here", "tiny's card"]
    assert dialog.switch_button.isVisible() and dialog.switch_button.text() == "Switch to site-x"
    with qtbot.waitSignal(dialog.adoptRequested, timeout=5000) as sig:
        dialog.switch_button.click()
    assert sig.args[0] == str(user_home / "data" / "models" / "site-x.keras")


def test_cancel_during_the_check_writes_nothing(qtbot, tmp_path, tiny_info, user_home):
    folder = write_local_cases(tmp_path / "site")
    dialog, opened = make_dialog(qtbot, folder, tiny_info, runner=waits_for_cancel)
    dialog.start()
    qtbot.waitUntil(lambda: "first film" in dialog.status.text(), timeout=10_000)
    assert dialog.progress.isVisible() and dialog.cancel_button.isEnabled()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=20_000)
    assert dialog.status.text() == "Cancelled; nothing was written."
    assert dialog.report is None and not opened
    assert not (user_home / "data" / "reports").exists()


def test_too_few_cases_cannot_be_adopted_and_a_failed_calibration_says_why(qtbot, tmp_path, tiny_info, user_home):
    few = write_local_cases(tmp_path / "few", n_normal=12, n_pneumonia=40)
    dialog, _ = make_dialog(qtbot, few, tiny_info)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=60_000)
    assert not dialog.adopt_button.isEnabled()
    assert "Only 12 NORMAL cases" in dialog.adopt_button.toolTip()

    # A name already taken: the calibration refuses in one line and the dialog lives on.
    models = user_home / "data" / "models"
    models.mkdir(parents=True)
    (models / "taken.keras").write_bytes(b"x")
    folder = write_local_cases(tmp_path / "site")
    dialog, _ = make_dialog(qtbot, folder, tiny_info, name="taken")
    dialog.start()
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=60_000)
    dialog.adopt()
    qtbot.waitUntil(lambda: dialog.task is None and "already exists" in dialog.status.text(), timeout=60_000)
    assert "\n" not in dialog.status.text() and dialog.adoption is None and dialog.adopt_button.isEnabled()


@pytest.mark.slow
def test_window_flow_adopts_then_restores_the_bundled_model(window_factory, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    import xrayviewer.gui.site_check as site_check

    folder = write_local_cases(tmp_path / "site")
    monkeypatch.setattr(site_check, "run_in_child_process", in_thread)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    monkeypatch.setattr(site_check.SiteCheckDialog, "open_report", lambda self: None)
    monkeypatch.setattr(site_check.SiteCheckDialog, "_ask_name_dialog", lambda self, s: "site-x")
    window = window_factory()
    wait_settled(qtbot, window)
    window.rebuild_model_menu()
    action = next(a for a in window.model_menu.actions() if a.text() == "Check on Local Cases…")
    action.trigger()
    dialogs = window.findChildren(site_check.SiteCheckDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    dialog = dialogs[0]
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=60_000)
    dialog.adopt()
    qtbot.waitUntil(lambda: dialog.adoption is not None, timeout=60_000)
    asked = []
    monkeypatch.setattr(window, "confirm_model_switch", lambda new, active, concerns: asked.append(concerns) or True)
    dialog.switch_button.click()
    controller = window.controller
    qtbot.waitUntil(lambda: controller.active_model is not None and controller.active_model.name == "site-x",
                    timeout=90_000)
    # 66 cases is few: the window's model check asked before switching (and was answered yes).
    assert asked and any("66" in c or "few" in c.lower() or "validated" in c.lower() for c in asked[0])
    panel = window.probability_panel.operating_label.text()
    assert panel.startswith("Site-calibrated on 66 local X-rays, ") and "cross-validated" in panel
    window.act["restore_model"].trigger()
    qtbot.waitUntil(lambda: controller.active_model is not None and controller.active_model.is_bundled,
                    timeout=90_000)
    assert window.probability_panel.operating_label.text().startswith("On 299 independent X-rays")
