"""The opinion panel's number and verdict are drawn in the verdict's colour, under the app's theme."""

from __future__ import annotations

import numpy as np
import pytest

from xrayviewer.gui.probability_panel import NEGATIVE_COLOUR, NEUTRAL_COLOUR, POSITIVE_COLOUR, ProbabilityPanel
from xrayviewer.gui.qimage import qimage_to_array
from xrayviewer.gui.theme import apply_dark_theme
from xrayviewer.model.predictor import Prediction


@pytest.fixture
def panel(qtbot, qapp):
    apply_dark_theme(qapp)  # the app's style sheet is what a per-label colour must get past
    p = ProbabilityPanel()
    qtbot.addWidget(p)
    p.resize(320, 400)
    p.show()
    qtbot.waitExposed(p)
    return p


def text_colour(label) -> np.ndarray:
    """The most strongly drawn pixel of the label's text (its glyph cores), as RGB."""
    rgba = qimage_to_array(label.grab().toImage())[..., :3].astype(int)
    background = np.median(rgba.reshape(-1, 3), axis=0)
    far = np.abs(rgba - background).sum(axis=2)
    return rgba.reshape(-1, 3)[int(np.argmax(far))]


@pytest.mark.parametrize("probability, ood, colour", [(0.93, False, POSITIVE_COLOUR), (0.04, False, NEGATIVE_COLOUR),
                                                      (0.93, True, NEUTRAL_COLOUR)])
def test_number_and_verdict_take_the_verdicts_colour(panel, probability, ood, colour):
    panel.show_prediction(Prediction(probability, probability, 0.5, out_of_distribution=ood,
                                     ood_reason="unusual film" if ood else ""))
    want = np.array([colour.red(), colour.green(), colour.blue()])
    for label in (panel.percent_label, panel.verdict_label):
        assert np.abs(text_colour(label) - want).max() <= 24, label.text()
    panel.show_message("Scoring…")  # back to neutral grey, not the last verdict's colour
    assert np.abs(text_colour(panel.verdict_label) - np.array([200, 200, 200])).max() <= 24
