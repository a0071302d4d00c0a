"""The image tools change what the radiologist sees: window/level, invert, zoom, overlay."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from xrayviewer.gui.heat_layer import heat_layer, make_heat_layer
from xrayviewer.gui.image_view import ImageView
from xrayviewer.gui.qimage import grey_to_qimage, qimage_to_array
from xrayviewer.imaging import XRayImage
from xrayviewer.model.gradcam import overlay


def ramp(width=301, height=200, dtype=np.uint16, top=4095):
    """A horizontal ramp 0..top, odd width (exercises bytesPerLine)."""
    row = np.linspace(0, top, width).astype(dtype)
    return XRayImage(pixels=np.tile(row, (height, 1)), source_format="TEST", bit_depth=12,
                     window_center=2048.0, window_width=4096.0)


@pytest.fixture
def view(qtbot):
    v = ImageView()
    qtbot.addWidget(v)
    v.resize(500, 400)
    v.show()
    qtbot.waitExposed(v)
    return v


def _mouse(view, kind, pos, button, buttons):
    event = QMouseEvent(kind, QPointF(*pos), view.viewport().mapToGlobal(QPointF(*pos)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), event)


def test_grey_qimage_keeps_its_buffer_and_stride():
    grey = (np.arange(7 * 5, dtype=np.uint8).reshape(5, 7) * 7)
    image = grey_to_qimage(grey)
    assert image.bytesPerLine() == 7 and image.width() == 7
    del grey
    assert np.array_equal(qimage_to_array(image), (np.arange(35, dtype=np.uint8).reshape(5, 7) * 7))


def test_right_drag_changes_window_and_pixels(view, qtbot):
    view.set_image(ramp())
    before = view.display_array.copy()
    c0, w0 = view.center, view.width_
    _mouse(view, QEvent.Type.MouseButtonPress, (200, 200), Qt.MouseButton.RightButton, Qt.MouseButton.RightButton)
    _mouse(view, QEvent.Type.MouseMove, (120, 260), Qt.MouseButton.NoButton, Qt.MouseButton.RightButton)
    _mouse(view, QEvent.Type.MouseButtonRelease, (120, 260), Qt.MouseButton.RightButton, Qt.MouseButton.NoButton)
    assert view.width_ < w0  # dragged left: narrower window, more contrast
    assert view.center > c0  # dragged down: level up, darker
    after = view.display_array
    assert not np.array_equal(before, after)
    assert after.mean() < before.mean()
    assert (after == 255).sum() > (before == 255).sum() or (after == 0).sum() > (before == 0).sum()

    view.reset_window()
    view.flush_render()
    assert (view.center, view.width_) == (2048.0, 4096.0)
    assert np.array_equal(view.display_array, before)


def test_invert_and_keyboard_window(view):
    image = ramp()
    view.set_image(image)
    base = view.display_array.copy()
    view.set_inverted(True)
    view.flush_render()
    assert np.array_equal(view.display_array, 255 - base)
    view.set_inverted(False)
    view.adjust_window(0, -5)
    view.flush_render()
    assert view.width_ < 4096 and view.display_array.std() > base.std()


def test_rendered_viewport_follows_the_window(view, qtbot):
    view.set_image(ramp())
    qtbot.wait(50)
    shot1 = qimage_to_array(view.viewport().grab().toImage())
    view.set_window(3800, 200)  # only the brightest end of the ramp stays non-black
    view.flush_render()
    qtbot.wait(50)
    shot2 = qimage_to_array(view.viewport().grab().toImage())
    assert shot2[..., :3].mean() < shot1[..., :3].mean() - 50


def test_zoom_wheel_and_fit_change_the_transform(view, qtbot):
    view.set_image(ramp())
    fitted = view.zoom
    assert view.fitted and fitted > 1.0  # 301 px shown in a 500 px view
    view.zoom_in()
    assert view.zoom == pytest.approx(fitted * 1.25)
    view.actual_size()
    assert view.zoom == 1.0 and not view.fitted
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    wheel = QWheelEvent(QPointF(100, 100), view.viewport().mapToGlobal(QPointF(100, 100)), QPoint(0, 0),
                        QPoint(0, 240), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.zoom == pytest.approx(1.25 ** 2)
    view.fit()
    assert view.zoom == pytest.approx(fitted)


def test_heat_layer_composites_like_gradcam_overlay(view, qtbot):
    rng = np.random.default_rng(0)
    heat = np.clip(rng.random((40, 60)).astype(np.float32), 0, 1)
    grey = rng.integers(0, 256, (40, 60), dtype=np.uint8)
    layer = heat_layer(heat).astype(np.float32)
    opacity = 0.6
    composed = grey[..., None] * (1 - opacity * layer[..., 3:] / 255) + layer[..., :3] * opacity
    assert np.abs(composed - overlay(grey, heat, opacity)).max() <= 2.0

    image = XRayImage(pixels=grey, source_format="TEST", bit_depth=8, window_center=127.5, window_width=256)
    view.set_image(image)
    view.set_heatmap(heat)
    assert not view.overlay_shown
    view.set_overlay_visible(True)
    view.set_overlay_opacity(opacity)
    assert view.overlay_shown
    view.set_image(image)  # a new image drops the old heatmap
    assert not view.overlay_shown


def test_a_large_films_overlay_is_drawn_from_a_smaller_layer_that_looks_the_same(view):
    """The worker colours a 2,400 px film's map at 1,024 px; stretched over the film it shows
    what the full-resolution layer would, in the same place (a blob off-centre, so a shifted
    or mis-scaled layer would show)."""
    h, w = 1600, 2400
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    heat = np.exp(-(((xx - 1700) / 300) ** 2 + ((yy - 500) / 250) ** 2)).astype(np.float32)
    small = make_heat_layer(heat)
    assert (small.image.width(), small.image.height()) == (1024, 683) and small.heat is heat
    full = make_heat_layer(heat, max_side=10_000)
    image = XRayImage(pixels=np.full((h, w), 90, np.uint8), source_format="TEST", bit_depth=8,
                      window_center=127.5, window_width=256)
    grabs = []
    for layer in (full, small):
        view.set_image(image)
        view.set_heatmap(layer)
        view.set_overlay_visible(True)
        grabs.append(qimage_to_array(view.viewport().grab().toImage()).astype(int))
    assert grabs[0][..., :3].std() > 20  # the overlay is on screen
    assert np.abs(grabs[0] - grabs[1]).max() <= 3


def test_rewindowing_a_2000px_film_is_fast(view):
    image = ramp(2000, 2000)
    view.set_image(image)
    start = time.perf_counter()
    for i in range(10):
        view.set_window(1000 + 100 * i, 2000)
        view.flush_render()
    per_frame = (time.perf_counter() - start) / 10
    # A few ms on a quiet machine; generous for a loaded 2-core CI box.
    assert per_frame < 0.15, f"{per_frame * 1000:.0f} ms per re-window"


def test_a_film_handed_over_in_the_screens_form_is_shown_without_converting_it(view, monkeypatch):
    """The loader's screen form (screen_image) is shown as it is: the same picture as the view's
    own rendering, no grey-to-32-bit conversion on the GUI thread, and the pixels it shows
    outlive the arrays they were made from."""
    import gc

    from xrayviewer.gui import image_view
    from xrayviewer.gui.screen_image import screen_qimage

    film = ramp(dtype=np.uint8, top=255)
    film = XRayImage(pixels=film.pixels, source_format="TEST", bit_depth=8, window_center=128.0, window_width=256.0)
    view.set_image(film)
    own = qimage_to_array(view._pixmap_item.pixmap().toImage())
    converted = []
    real = image_view.grey_to_qimage
    monkeypatch.setattr(image_view, "grey_to_qimage", lambda a: converted.append(a.shape) or real(a))

    view.set_image(None)
    view.set_image(film, screen=screen_qimage(film))
    gc.collect()
    assert converted == []
    assert np.array_equal(qimage_to_array(view._pixmap_item.pixmap().toImage()), own)
    assert np.array_equal(view.display_array, film.display())  # the case snapshot's picture

    view.set_window(100.0, 50.0)  # a window change renders on the GUI thread, as before
    QApplication.processEvents()
    assert converted == [film.pixels.shape]
    # A screen form that does not fit the film is not used.
    view.set_image(film, screen=screen_qimage(ramp(width=64, height=64, dtype=np.uint8, top=255)))
    assert converted == [film.pixels.shape] * 2
