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


def test_the_threshold_caption_stays_while_a_film_is_scored(panel):
    """The white mark is on the bar whenever a model is loaded; its caption came and went with
    each opinion, so the panel gained a line (and everything below it moved) as a film's score
    arrived. It now reads the same before and after the score, and is absent without a model."""
    from tests.gui.fakes import fake_info

    panel.set_model(fake_info(threshold=0.51))
    panel.show_message("Scoring…")
    assert panel.threshold_label.text() == "Threshold 51% (white mark)"
    scoring_height = panel.threshold_label.sizeHint().height()
    panel.show_prediction(Prediction(0.97, 0.97, 0.51))
    assert panel.threshold_label.text() == "Threshold 51% (white mark)"
    assert panel.threshold_label.sizeHint().height() == scoring_height
    panel.set_model(None, "the model file is missing")
    panel.show_message("Images are shown but not scored.")
    assert panel.threshold_label.text() == ""
