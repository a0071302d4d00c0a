"""Small windows: the film keeps at least half the width; panes shrink, hide and come back;
the toolbar's overflow stays reachable; Actual Size is one image pixel per device pixel."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QToolBar

from xrayviewer.gui import pane_layout
from xrayviewer.gui.worklist import THUMB


@pytest.mark.parametrize("total", [1024, 1366, 1440, 1920])
def test_the_film_gets_at_least_half_and_panes_never_go_below_their_minimum(total):
    w = pane_layout.share(total, worklist_min=260, worklist_want=470, handles=12)
    assert w.image >= total / 2 - 1
    assert w.worklist >= 260 and w.side >= pane_layout.SIDE_MIN
    assert w.worklist + w.image + w.side + 12 == total
    # Room for the full worklist beside the panel's minimum: it keeps its thumbnails.
    full = pane_layout.share(total, worklist_min=260, worklist_want=470, handles=12, worklist_full=440)
    assert full.worklist >= (440 if total >= 1440 else 260) and full.image >= total / 2 - 1
    hidden = pane_layout.share(total, 260, 470, worklist_shown=False, side_shown=False)
    assert hidden == pane_layout.PaneWidths(0, total, 0)


@pytest.mark.parametrize("size", [(1024, 700), (1366, 768), (1440, 900)])
def test_at_laptop_sizes_the_image_area_is_at_least_half_the_window(qtbot, fake_window, size):
    window = fake_window
    window._started = True  # no model service needed to lay out
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.width() == size[0])
    assert window.image_view.width() >= window.width() / 2, (window.image_view.width(), window.width())
    assert window.worklist_view.isVisible() and window.side_panel.isVisible()
    compact = size[0] < pane_layout.COMPACT_BELOW
    assert window.worklist_view.isColumnHidden(THUMB) == compact
    # the worklist still shows name, probability and verdict whole
    assert window.worklist_view.width() >= window.worklist_view.narrowest_width()
    assert window.side_panel.widget().width() <= window.side_panel.viewport().width()  # nothing clipped

    # F9 / F10 hide the panes; the film takes the room; pressing again brings them back
    before = window.image_view.width()
    window.act["show_worklist"].trigger()
    window.act["show_side"].trigger()
    qtbot.waitUntil(lambda: window.image_view.width() > before + 400)
    assert not window.worklist_view.isVisible() and not window.side_panel.isVisible()
    assert [s.toString() for s in window.act["show_worklist"].shortcuts()] == ["F9"]
    window.act["show_worklist"].trigger()
    window.act["show_side"].trigger()
    qtbot.waitUntil(lambda: window.worklist_view.isVisible() and window.side_panel.isVisible())
    assert window.image_view.width() >= window.width() / 2


def test_the_toolbar_overflow_is_reachable_at_1024(qtbot, fake_window):
    """Actions that do not fit go behind the toolbar's extension button, which must be shown."""
    window = fake_window
    window._started = True
    window.resize(1024, 700)
    window.show()
    qtbot.waitExposed(window)
    bar = window.findChild(QToolBar, "tools")
    hidden = [a for a in bar.actions() if bar.widgetForAction(a) is not None
              and not bar.widgetForAction(a).isVisible() and not a.isSeparator()]
    assert hidden == []  # short labels: every button fits at 1024 px, Opacity and Export included
    assert bar.widgetForAction(window.act["export"]).text() == "Export CSV"
    assert window.opacity_slider.isVisible()
    assert window.opacity_slider.mapTo(window, window.opacity_slider.rect().topRight()).x() <= window.width()
    # Export, opacity and the panes are in menus too, whatever fits in the bar.
    menu_actions = {a for m in window.menuBar().actions() if m.menu() for a in m.menu().actions()}
    assert {window.act["export"], window.act["show_worklist"], window.act["show_side"]} <= menu_actions


HIDPI_SCRIPT = r"""
import json, sys
import numpy as np
from PySide6.QtWidgets import QApplication
from xrayviewer.imaging.image import XRayImage
from xrayviewer.gui.image_view import ImageView

app = QApplication([])
view = ImageView()
view.resize(400, 400)
view.show()
checker = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)  # one-pixel checkerboard
image = XRayImage(pixels=checker, source_format="TEST", bit_depth=8, window_center=127.5, window_width=256.0)
view.set_image(image)
view.actual_size()
app.processEvents()
grab = view.viewport().grab().toImage()
dpr = grab.devicePixelRatio()
# The image is centred; read a row of device pixels across its middle.
w = grab.width()
y = grab.height() // 2
row = [grab.pixelColor(x, y).red() for x in range(w)]
bright = [x for x, v in enumerate(row) if v > 200]
runs, run = [], 1
for a, b in zip(bright, bright[1:]):
    if b == a + 1:
        run += 1
    else:
        runs.append(run)
        run = 1
print(json.dumps({"dpr": dpr, "view_dpr": view.devicePixelRatioF(), "zoom": view.zoom,
                  "device_zoom": view.device_zoom, "runs": sorted(set(runs))}))
"""


def test_actual_size_is_one_image_pixel_per_device_pixel_at_scale_factor_2(tmp_path):
    """QT_SCALE_FACTOR=2 (a HiDPI screen): 1:1 used to draw each image pixel as 2 x 2 screen
    pixels. A one-pixel checkerboard must come out as single bright device pixels."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_SCALE_FACTOR="2", QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", HIDPI_SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["view_dpr"] == 2.0 and result["dpr"] == 2.0
    assert result["zoom"] == pytest.approx(0.5) and result["device_zoom"] == pytest.approx(1.0)
    assert result["runs"] == [1], result  # alternate device pixels, never pairs


def test_the_shortcuts_dialog_shows_every_key_without_scrolling_at_1024x700(qtbot, fake_window):
    from xrayviewer.gui import dialogs
    from xrayviewer.gui.main_window import TRAINING_SHORTCUT

    window = fake_window
    rows = dialogs.shortcut_rows(window.act.values()) + [("Training panel (hidden)", TRAINING_SHORTCUT)]
    dialog = dialogs.ShortcutsDialog(rows + dialogs.MOUSE_ROWS, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.height() <= 700 and dialog.width() <= 1024, dialog.size()
    shown = sum(t.rowCount() for t in dialog.tables)
    assert shown == len(rows) + len(dialogs.MOUSE_ROWS)
    for table in dialog.tables:
        last = table.rowCount() - 1
        assert table.visualItemRect(table.item(last, 0)).bottom() <= table.viewport().height()
        assert table.verticalScrollBar().maximum() == 0


def _small_window_showing(qtbot, window, path):
    """The window at 1024 x 700, showing a small ramp film saved at ``path`` (a blank one is
    refused)."""
    from PIL import Image

    from xrayviewer.imaging import load_image

    Image.fromarray(np.tile(np.arange(64, dtype=np.uint8) * 2, (64, 1))).save(path)
    window._started = True
    window.resize(1024, 700)
    window.show()
    qtbot.waitExposed(window)
    window.show_image(load_image(path))
    return window, path


def test_the_side_panel_fits_its_width_with_a_long_file_name_at_1024x700(qtbot, fake_window, tmp_path):
    """A long file name without spaces held the panel wider than the window gave it: its right
    edge (the title, the threshold, the sentences) was cut off."""
    from xrayviewer.model import Prediction

    window, path = _small_window_showing(qtbot, fake_window, tmp_path / "person1004_bacteria_2935_with_a_long_export_suffix.jpeg")
    window.show_prediction(Prediction(0.9999, 0.99, 0.88), None)
    qtbot.waitUntil(lambda: window.side_panel.widget().width() <= window.side_panel.viewport().width())
    qtbot.wait(50)
    assert window.side_panel.widget().width() <= window.side_panel.viewport().width()
    assert window.info_pane.rows()[0] == ("File", path.name)  # the facts keep the real name


@pytest.mark.parametrize("screen, fits", [((1440, 900), False), ((1440, 960), False), ((1600, 960), True), ((1920, 1080), True),
                                          ((1366, 768), False), ((1456, 948), True), ((1455, 948), False)])
def test_the_first_window_counts_its_frame_before_deciding_it_fits(screen, fits):
    """A 1440 x 900 window on a 1440 x 900 screen hung its status bar (and the Grad-CAM legend
    in it) off the bottom: the title bar comes on top of the client size. Such a screen now
    starts maximized."""
    from PySide6.QtCore import QSize

    from xrayviewer.gui.main_window import DEFAULT_SIZE, fits_with_frame

    assert fits_with_frame(QSize(*DEFAULT_SIZE), QSize(*screen)) is fits


def test_the_side_column_keeps_its_text_width_when_it_starts_to_scroll(qtbot, fake_window, tmp_path):
    """An out-of-scope film's warning makes the right column taller than a short window, and
    its scroll bar appears. The bar used to take its width from the text, so every sentence
    re-wrapped and the image facts jumped as the reader stepped between such a film and an
    ordinary one. The text is now laid out at one width either way."""
    from xrayviewer.model import Prediction

    window, _ = _small_window_showing(qtbot, fake_window, tmp_path / "film.png")
    side, bar = window.side_panel, window.side_panel.verticalScrollBar()

    caption = window.probability_panel.threshold_label

    def settled():  # the column laid out: the caption has the height its width asks for
        return caption.height() == caption.heightForWidth(caption.width())

    window.show_prediction(Prediction(0.12, 0.12, 0.5), None)
    qtbot.waitUntil(lambda: not bar.isVisible() and settled())
    plain_width, caption_height = side.viewport().width(), caption.height()

    long_reason = "; ".join(["the film is unlike the pediatric chest X-rays the model was trained on"] * 6)
    window.show_prediction(Prediction(0.12, 0.12, 0.5, out_of_distribution=True, ood_reason=long_reason), None)
    qtbot.waitUntil(lambda: bar.isVisible() and settled())  # the column now scrolls ...
    assert side.viewport().width() == plain_width  # ... and its text keeps its width and wrapping
    assert caption.height() == caption_height
    assert side.widget().width() <= side.viewport().width()  # nothing cut off at the right

    window.show_prediction(Prediction(0.12, 0.12, 0.5), None)
    qtbot.waitUntil(lambda: not bar.isVisible())
    assert side.viewport().width() == plain_width


def test_a_dicom_film_out_of_scope_fits_the_narrowest_column(qtbot, fake_window, tmp_path):
    """At 1024 x 700 an adult DICOM film (its facts: "View position" beside "MONOCHROME1", the
    identifiers box) with the out-of-scope warning held the column's content 31 px wider than
    its view: the warning and the operating point were cut off at the right. The facts now
    wrap under their labels when they must, and the content fits, scrolled or not."""
    from imaging_factories import gradient, write_dicom
    from xrayviewer.imaging import load_image
    from xrayviewer.model import Prediction

    path = write_dicom(tmp_path / "adult.dcm", gradient(96, 96, np.uint16, 0, 4095), photometric="MONOCHROME1",
                       bits_stored=12, tags={"PatientAge": "062Y"})
    window, _ = _small_window_showing(qtbot, fake_window, tmp_path / "film.png")
    window.show_image(load_image(path))
    reason = "patient aged 62 years, outside the training population (children aged 1 to 5)"
    window.show_prediction(Prediction(0.16, 0.16, 0.51, out_of_distribution=True, ood_reason=reason), None)
    side = window.side_panel
    assert window.info_pane.identifiers_box.isVisible()
    assert any(label == "Photometric" for label, _ in window.info_pane.rows())
    qtbot.waitUntil(lambda: side.verticalScrollBar().isVisible())
    qtbot.wait(50)
    assert side.widget().width() <= side.viewport().width()
    assert side.widget().minimumSizeHint().width() <= side.viewport().width()
