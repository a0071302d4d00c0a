"""Grad-CAM in the window: one scale for every film, a colour bar saying what red means, and
no overlay (a plain note instead) on a film the model calls normal. The bundled model on
LiteRT scores the two bundled samples: a normal film (p 0.39 < threshold) and a pneumonia."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import REPO
from xrayviewer.gui.controller import NO_OVERLAY_NOTE
from xrayviewer.gui.heat_legend import colour_bar

from .helpers import wait_settled

SAMPLES = REPO / "resources" / "samples"
NORMAL, PNEUMONIA = SAMPLES / "IM-0199-0001.jpeg", SAMPLES / "person992_bacteria_2919.jpeg"


def _select(window, qtbot, name):
    key = next(i.key for i in window.controller.worklist.items() if i.path.endswith(name))
    window.controller.select(key)
    qtbot.waitUntil(lambda: window.controller.current_image is not None, timeout=30_000)


def test_overlay_on_a_pneumonia_film_and_a_note_on_a_normal_one(window_factory, qtbot):
    window = window_factory([str(NORMAL), str(PNEUMONIA)], model_path=None)
    wait_settled(qtbot, window)
    legend = window.heat_legend
    window.act["overlay"].setChecked(True)

    _select(window, qtbot, PNEUMONIA.name)
    qtbot.waitUntil(lambda: window.image_view.overlay_shown, timeout=30_000)
    heat = window.controller.current_heat.heat
    assert heat.shape == (window.image_view.image.height, window.image_view.image.width)
    assert heat.max() == pytest.approx(1.0, abs=1e-3)  # its strongest evidence is red on the fixed scale
    assert legend.isVisibleTo(window) and legend.showing_scale
    assert "red" in legend.high_label.text() and "threshold" in legend.high_label.text()

    _select(window, qtbot, NORMAL.name)
    qtbot.waitUntil(lambda: legend.note.isVisibleTo(window), timeout=30_000)
    assert not window.image_view.overlay_shown and window.controller.current_heat is None
    assert legend.note.text() == NO_OVERLAY_NOTE and not legend.showing_scale

    window.act["overlay"].setChecked(False)
    assert not legend.isVisibleTo(window) and not window.image_view.overlay_shown


def test_the_normal_films_map_would_not_reach_red(window_factory, qtbot):
    """The same scale for both films: asked directly, the normal film's map stays below red
    (each map scaled to its own maximum would paint both red)."""
    from xrayviewer.imaging import load_image
    from xrayviewer.model import Predictor

    p = Predictor.load()
    normal, pneumonia = p.explain(load_image(NORMAL)), p.explain(load_image(PNEUMONIA))
    assert normal.max() < 0.95 <= pneumonia.max()


def test_colour_bar_runs_from_the_film_to_red():
    bar = colour_bar(100, 4, opacity=1.0)
    assert bar.shape == (4, 100, 3) and bar.dtype == np.uint8
    assert (bar[:, 0] == 128).all()  # no heat: the film's grey, untouched
    r, g, b = (int(v) for v in bar[0, -1])
    assert r > 100 and r > 2 * g and r > 2 * b  # full heat: red
