"""The real window on the real tiny model: opening, scoring, navigation, export, models."""

from __future__ import annotations

import csv
import io
import shutil

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QDragEnterEvent
from PySide6.QtWidgets import QApplication

from xrayviewer.gui import wording
from xrayviewer.gui.heat_layer import MAX_LAYER_SIDE
from xrayviewer.gui.worklist import DONE, ERROR, PROBABILITY, VERDICT

from .helpers import tiny_images, wait_settled

pytestmark = pytest.mark.slow


def _rows(window):
    """(name, probability text, verdict text) in the order the worklist shows them."""
    model = window.worklist_view.worklist
    return [tuple(model.index(r, c).data() for c in (1, PROBABILITY, VERDICT)) for r in range(model.rowCount())]


def test_argument_file_is_scored_like_predict_image_and_cli(window_factory, tiny_model, qtbot, capsys):
    from xrayviewer.cli import main as cli_main
    from xrayviewer.imaging import load_image
    from xrayviewer.model import Predictor

    path = tiny_images(0, 1)[0]
    window = window_factory([str(path)], wait_model=False)
    qtbot.waitUntil(lambda: window._started)
    assert "Loading model" in window.probability_panel.verdict_label.text()  # at once, before any TF
    wait_settled(qtbot, window)

    expected = Predictor.load(tiny_model).predict_image(load_image(path))
    shown = window.probability_panel.prediction
    assert shown is not None
    assert shown.probability == pytest.approx(expected.probability, abs=1e-5)
    assert window.probability_panel.percent_label.text() == wording.percent(expected.probability)
    assert window.probability_panel.verdict_label.text() == wording.panel_verdict(expected)
    assert window.image_view.image is not None and window.image_view.image.path == str(path)
    assert window.info_pane.rows()[0] == ("File", path.name)

    assert cli_main(["predict", str(path), "--model", str(tiny_model)]) == 0
    cli_row = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert float(cli_row["probability"]) == pytest.approx(round(shown.probability, 4), abs=1e-4)
    assert cli_row["prediction"] == shown.label


def test_drop_folder_and_bad_file_builds_sorted_worklist(window_factory, qtbot, image_dir, bad_file, tmp_path):
    window = window_factory()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(image_dir)), QUrl.fromLocalFile(str(bad_file))])
    pos = QPointF(window.width() / 2, window.height() / 2)
    # QDragEnterEvent takes a QPoint (PySide6 6.12 also accepted a QPointF; 6.11 does not).
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    qtbot.waitUntil(lambda: len(window.controller.worklist.items()) == 5, timeout=20_000)
    wait_settled(qtbot, window)

    items = {i.path.split("/")[-1]: i for i in window.controller.worklist.items()}
    assert items["broken.jpeg"].status == ERROR
    assert "broken.jpeg" in items["broken.jpeg"].error
    assert all(i.status == DONE for name, i in items.items() if name != "broken.jpeg")

    # Riskiest first, the unreadable file last, its error in its own row.
    rows = _rows(window)
    probs = [window.controller.worklist.item(k).prediction.probability
             for k in window.worklist_view.keys_in_order()[:4]]
    assert probs == sorted(probs, reverse=True)
    assert rows[-1][0] == "broken" and rows[-1][1:] == ("", "Unreadable")  # shown without ".jpeg"
    model = window.worklist_view.worklist
    assert "broken.jpeg" in model.index(model.rowCount() - 1, VERDICT).data(Qt.ItemDataRole.ToolTipRole)  # why

    # Export: same columns and values as `xrayviewer predict`.
    out = tmp_path / "worklist.csv"
    window.controller.export_csv(str(out), window.worklist_view.keys_in_order())
    exported = list(csv.DictReader(out.open()))
    assert list(exported[0].keys()) == ["path", "probability", "prediction", "error", "ood_score",
                                        "out_of_distribution", "ood_reason", "model", "threshold",
                                        "probability_shown"]
    assert exported[0]["model"] == window.controller.active_model.display_name
    assert [r["path"].split("/")[-1] for r in exported] == [window.controller.worklist.item(k).name
                                                            for k in window.worklist_view.keys_in_order()]
    assert exported[-1]["probability"] == "" and exported[-1]["error"]


def test_the_window_title_names_the_film_on_screen_even_when_it_cannot_be_read(window_factory, qtbot, image_dir,
                                                                              bad_file):
    """Stepping from a readable film to an unreadable one left the title naming the film
    before, above an error about another file."""
    window = window_factory([str(image_dir), str(bad_file)])
    wait_settled(qtbot, window)
    view, worklist = window.worklist_view, window.controller.worklist
    order = view.keys_in_order()
    good, broken = worklist.item(order[0]), worklist.item(order[-1])
    assert broken.status == ERROR
    view.select_key(good.key)
    qtbot.waitUntil(lambda: window.windowTitle() == f"{good.name} – XRay Viewer")
    view.select_key(broken.key)
    qtbot.waitUntil(lambda: window.controller.current_key == broken.key)
    qtbot.waitUntil(lambda: window.windowTitle() == "broken.jpeg – XRay Viewer")
    window.controller.remove(order)  # an empty list: no film on screen, no name in the title
    qtbot.waitUntil(lambda: window.windowTitle() == "XRay Viewer")


def test_keyboard_moves_through_the_worklist(window_factory, qtbot, image_dir):
    window = window_factory([str(image_dir)])
    wait_settled(qtbot, window)
    order = window.worklist_view.keys_in_order()
    view = window.worklist_view
    view.select_key(order[0])
    qtbot.waitUntil(lambda: window.controller.current_key == order[0])
    window.activateWindow()
    window.image_view.setFocus()

    def press(key, expected):
        qtbot.keyClick(window.image_view, key)
        qtbot.waitUntil(lambda: window.controller.current_key == expected, timeout=5000)
        # selecting a row opens it in the viewer
        qtbot.waitUntil(lambda: window.image_view.image is not None
                        and window.image_view.image.path == window.controller.worklist.item(expected).path,
                        timeout=10_000)

    press(Qt.Key.Key_J, order[1])
    press(Qt.Key.Key_Down, order[2])
    press(Qt.Key.Key_K, order[1])
    press(Qt.Key.Key_Up, order[0])
    press(Qt.Key.Key_Up, order[0])  # stays on the first row


def test_model_menu_switches_model_and_rescores(window_factory, qtbot, tiny_model):
    from xrayviewer.paths import user_models_dir

    # A second model in the user's folder: the same weights, another name.
    folder = user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (".keras", ".ood.npz", ".tflite"):
        shutil.copy(tiny_model.with_suffix(suffix), folder / f"other{suffix}")
    meta = tiny_model.with_suffix(".json").read_text().replace('"name": "tiny"', '"name": "other"')
    (folder / "other.json").write_text(meta)

    window = window_factory([str(tiny_images(1, 0)[0])])
    wait_settled(qtbot, window)
    window.rebuild_model_menu()
    entries = {a.text(): a for a in window.model_menu.actions() if a.isCheckable()}
    assert any(a.isChecked() for a in entries.values())
    other = next(a for text, a in entries.items() if text.startswith("other"))
    assert not other.isChecked()
    # The tiny fixture's model has 8 validation images: the switch asks first (model_choice).
    asked = []
    window.confirm_model_switch = lambda new, active, concerns: asked.append(concerns) or True
    other.trigger()
    assert asked and "tiny" in asked[0][0]
    qtbot.waitUntil(lambda: window.controller.active_model is not None
                    and window.controller.active_model.name == "other", timeout=60_000)
    wait_settled(qtbot, window)
    assert "other" in window.probability_panel.model_label.text()
    assert window.probability_panel.prediction is not None
    window.rebuild_model_menu()
    checked = [a.text() for a in window.model_menu.actions() if a.isCheckable() and a.isChecked()]
    assert len(checked) == 1 and checked[0].startswith("other")
    assert window.settings.model_path.endswith("other.keras")  # remembered for the next launch


def test_missing_model_shows_no_model_and_still_shows_images(window_factory, qtbot, tmp_path):
    path = tiny_images(1, 0)[0]
    window = window_factory([str(path)], model_path=tmp_path / "absent.keras", wait_model=False)
    qtbot.waitUntil(lambda: window.controller.models.state == "failed", timeout=60_000)
    wait_settled(qtbot, window)
    assert window.probability_panel.percent_label.text() == "No model"
    assert "does not exist" in window.probability_panel.model_label.text()
    assert "not scored" in window.probability_panel.verdict_label.text().lower()
    assert window.image_view.image is not None
    assert window.controller.worklist.items()[0].status == "no model"


def test_gradcam_overlay_is_computed_off_the_gui_thread_and_shown(window_factory, qtbot):
    # The bundled model: the overlay is offered only on a film it calls pneumonia, which the
    # 1-epoch tiny model may not do for any tiny image.
    from conftest import REPO

    window = window_factory([str(REPO / "resources" / "samples" / "person992_bacteria_2919.jpeg")], model_path=None)
    wait_settled(qtbot, window)
    window.act["overlay"].setChecked(True)
    qtbot.waitUntil(lambda: window.image_view.overlay_shown, timeout=30_000)
    heat = window.controller.current_heat
    image = window.image_view.image
    assert heat.heat.shape == (image.height, image.width)  # full resolution, for exports
    assert max(heat.image.width(), heat.image.height()) <= MAX_LAYER_SIDE  # coloured by the worker
    window.act["overlay"].setChecked(False)
    assert not window.image_view.overlay_shown


def test_file_dialogs_open_files_and_folders_remember_the_folder_and_export(window_factory, qtbot, image_dir,
                                                                           tmp_path, monkeypatch):
    """File > Open, Open Folder and Export go through the native dialogs; the dialogs are the
    only part replaced here (they would block an offscreen test), the wiring behind them is real."""
    from PySide6.QtWidgets import QFileDialog

    window = window_factory()
    files = sorted(str(p) for p in image_dir.iterdir())
    seen_start_dirs = []

    def open_files(parent, caption, start, filters):
        seen_start_dirs.append(start)
        assert "*.dcm" in filters and "*.jpeg" in filters
        return files[:2], ""

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(open_files))
    window.act["open"].trigger()
    qtbot.waitUntil(lambda: len(window.controller.worklist.items()) == 2, timeout=20_000)
    assert window.settings.last_dir == str(image_dir)

    other = tmp_path / "second_folder"
    other.mkdir()
    shutil.copy(files[2], other / "third.jpeg")

    def open_folder(parent, caption, start):
        seen_start_dirs.append(start)
        return str(other)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(open_folder))
    window.act["open_folder"].trigger()
    qtbot.waitUntil(lambda: len(window.controller.worklist.items()) == 3, timeout=20_000)
    assert seen_start_dirs[1] == str(image_dir)  # the next dialog starts where the last one ended
    wait_settled(qtbot, window)

    # A cancelled dialog (empty answer) changes nothing.
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a: ([], "")))
    window.act["open"].trigger()
    assert len(window.controller.worklist.items()) == 3

    out = tmp_path / "exported.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a: (str(out), "CSV (*.csv)")))
    window.act["export"].trigger()
    assert len(list(csv.DictReader(out.open()))) == 3

    # Exporting into a folder that does not exist: a message, no traceback, nothing lost.
    bad = tmp_path / "missing" / "worklist.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a: (str(bad), "CSV (*.csv)")))
    window.act["export"].trigger()
    assert window.last_error is not None and window.last_error[0] == "Export failed"
    assert str(bad) in window.last_error[1]
    assert len(window.controller.worklist.items()) == 3
