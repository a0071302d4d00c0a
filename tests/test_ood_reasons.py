"""Why a film is flagged, in a radiologist's words: the named image measures of
``model.ood_statistics`` against synthetic training films, and the typed reasons' text."""

from __future__ import annotations

import numpy as np
import pytest

from xrayviewer.model import Prediction
from xrayviewer.model import reasons as words
from xrayviewer.model.ood import OODStats, image_descriptor
from xrayviewer.model.ood_statistics import StatisticExplainer, pixel_reasons
from xrayviewer.model.reasons import ReasonKind


def films(n, seed=0, shift=0.0, contrast_scale=1.0, grain=0.0):
    """Chest-film layout (dark lungs either side of a bright vertical band, brighter below)
    with the spread real films have in exposure, contrast and grain; ``shift``,
    ``contrast_scale`` and ``grain`` make defective ones."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:128, 0:128] / 127.0
    base = 0.5 * np.exp(-((xx - 0.5) / 0.12) ** 2) + 0.2 * yy - 0.35
    contrast = rng.normal(1.0, 0.08, (n, 1, 1)) * contrast_scale
    exposure = rng.normal(0.5, 0.04, (n, 1, 1)) + shift
    noise = rng.uniform(0.01, 0.04, (n, 1, 1)) + grain
    out = exposure + contrast * base[None] + noise * rng.normal(0, 1, (n, 128, 128))
    return np.clip(out, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def explainer():
    train = films(600)
    stats = OODStats.fit(np.random.default_rng(0).normal(size=(600, 8)), images=train)
    return StatisticExplainer(stats)


def kinds(explainer, image):
    return [r.kind for r in explainer.reasons(image_descriptor(image[None])[0])]


def test_typical_films_name_nothing(explainer):
    named = [kinds(explainer, f) for f in films(100, seed=1)]
    assert sum(bool(k) for k in named) <= 12  # a few percent of real films cross 2.5 SD on some measure


def test_each_kind_of_defect_is_named_for_what_it_is(explainer):
    def first(image):
        (reason, *_) = explainer.reasons(image_descriptor(image[None])[0])
        return reason

    assert (first(films(1, seed=2, shift=-0.25)[0]).kind, "darker") == (ReasonKind.EXPOSURE, "darker")
    assert "darker" in first(films(1, seed=2, shift=-0.25)[0]).text
    assert "whiter" in first(films(1, seed=2, shift=0.25)[0]).text
    flat = explainer.reasons(image_descriptor(films(1, seed=2, contrast_scale=0.3)[None, 0])[0])
    assert any(r.kind is ReasonKind.CONTRAST and "flatter" in r.text for r in flat), flat
    film = films(1, seed=2)[0]
    assert first(np.rot90(film).copy()).kind is ReasonKind.ROTATION
    inverted = kinds(explainer, 1.0 - film)
    assert inverted[0] is ReasonKind.INVERTED and ReasonKind.ROTATION not in inverted
    assert first(films(1, seed=2, grain=0.15)[0]).kind is ReasonKind.NOISE


def test_without_a_standout_measure_the_part_that_flagged_is_said():
    stats = OODStats(mean=np.zeros(2), precision=np.eye(2), image_mean=np.zeros(96), image_precision=np.eye(96))
    image_flag = {"features": np.array([1.0]), "image": np.array([5.0])}
    feature_flag = {"features": np.array([5.0]), "image": np.array([1.0])}
    assert pixel_reasons(stats, image_flag, 0, None, None)[0].kind is ReasonKind.LAYOUT
    # Without the measures (an old bundle) nothing is claimed about exposure or contrast.
    assert pixel_reasons(stats, feature_flag, 0, None, None)[0].kind is ReasonKind.GENERAL
    explainer = StatisticExplainer(stats)
    typical = explainer.mean  # a film exactly at the training mean: no measure stands out
    (reason,) = pixel_reasons(stats, feature_flag, 0, explainer, typical)
    assert reason.kind is ReasonKind.APPEARANCE
    assert "exposure, contrast, rotation and cropping look typical" in reason.text


def test_what_the_file_says_comes_first_and_a_colour_photo_gets_no_grey_statistics():
    pixel = (words.statistic(ReasonKind.NOISE, -1), words.statistic(ReasonKind.INVERTED, -1))
    assert words.combine(pixel, (words.colour(),)) == (words.colour(),)
    assert words.combine(pixel, (words.lateral(),)) == (words.lateral(), *pixel)
    assert words.combine(pixel, ()) == pixel


def test_prediction_keeps_typed_reasons_and_their_text_for_the_csv():
    p = Prediction(0.9, 0.9, 0.5, out_of_distribution=True, reasons=(words.colour(), words.lateral()))
    assert p.ood_reason == ("a colour picture, not a radiograph; "
                            "a lateral view; the model saw only frontal (AP/PA) films")
    assert [r.kind for r in p.reasons] == [ReasonKind.COLOUR, ReasonKind.LATERAL]
    old = Prediction(0.9, 0.9, 0.5, out_of_distribution=True, ood_reason="unlike the training X-rays; x")
    assert [r.kind for r in old.reasons] == [ReasonKind.GENERAL, ReasonKind.OTHER]
