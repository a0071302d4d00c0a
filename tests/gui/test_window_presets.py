"""One display rule for window/level and invert (each film opens at its default, not inverted),
presets placed on the film's own histogram, and the automatic window."""

from __future__ import annotations

import numpy as np
import pytest

from xrayviewer.gui.image_view import ImageView
from xrayviewer.gui.window_presets import PRESETS, window_for
from xrayviewer.imaging import XRayImage
from xrayviewer.imaging.windowing import window_lut_bounds


def film(invert=False, seed=0):
    """A 12-bit film: a third dark lung values (~800), a third mid soft tissue (~2000), a third
    bright bone (~3300); MONOCHROME1 (``invert``) stores them the other way round."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(800, 60, 3000), rng.normal(2000, 80, 3000), rng.normal(3300, 60, 3000)])
    pixels = np.clip(values, 0, 4095).astype(np.uint16).reshape(90, 100)
    if invert:
        pixels = (4095 - pixels).astype(np.uint16)
    return XRayImage(pixels=pixels, source_format="DICOM", bit_depth=12, window_center=2048.0, window_width=4096.0,
                     invert=invert)


@pytest.fixture
def view(qtbot):
    v = ImageView()
    qtbot.addWidget(v)
    v.resize(400, 300)
    v.show()
    return v


def shown_grey(view, value_mask):
    view.flush_render()
    return float(view.display_array[value_mask].mean())


def test_presets_spread_the_part_of_the_film_they_name(view):
    image = film()
    lung, bone = image.pixels < 1400, image.pixels > 2700
    view.set_image(image)
    default_lung_spread = view.display_array[lung].std()
    view.apply_preset("Lung")
    view.flush_render()
    assert view.display_array[lung].std() > 2 * default_lung_spread  # the lungs' greys spread out
    assert shown_grey(view, bone) == 255  # bone burns out white, as on a lung window
    view.apply_preset("Bone")
    assert shown_grey(view, lung) == 0 and view.display_array[bone].std() > 2 * default_lung_spread
    view.apply_preset("Default")
    assert (view.center, view.width_) == (2048.0, 4096.0)


def test_presets_follow_displayed_brightness_on_monochrome1():
    """MONOCHROME1 stores the lungs as high values; "Lung" must still window the lungs."""
    m2, m1 = film(), film(invert=True)
    for image, lungs in ((m2, m2.pixels < 1400), (m1, m1.pixels > 4095 - 1400)):
        low, high = window_lut_bounds(**vars(window_for(image, "Lung")))
        inside = (image.pixels[lungs] >= low) & (image.pixels[lungs] <= high)
        assert inside.mean() > 0.95


def test_automatic_window_spans_the_histogram_not_the_bit_depth(view):
    image = film()
    w = window_for(image, "Automatic (histogram)")
    low, high = window_lut_bounds(w.center, w.width)
    assert low == pytest.approx(np.percentile(image.pixels, 1), abs=2)
    assert high == pytest.approx(np.percentile(image.pixels, 99), abs=2)
    assert w.width < 4096 * 0.9  # narrower than the 12-bit default: more contrast
    assert set(PRESETS) >= {"Default", "Automatic (histogram)", "Lung", "Soft tissue", "Bone"}


def test_window_and_invert_follow_one_rule_each_film_opens_at_its_default(view):
    seen = []
    view.invertedChanged.connect(seen.append)
    first = film()
    view.set_image(first)
    view.set_inverted(True)
    view.apply_preset("Lung")
    view.set_image(film(seed=1))  # the next film: default window, not inverted
    assert not view.inverted and (view.center, view.width_) == (2048.0, 4096.0)
    assert seen == [True, False]  # the Invert action's check mark follows
    view.set_inverted(True)
    view.set_window(1000, 500)
    view.reset_window()  # R: the film's default display, invert included
    assert not view.inverted and (view.center, view.width_) == (2048.0, 4096.0)


def test_the_window_menu_and_toolbar_offer_the_presets(qtbot, fake_window):
    window = fake_window
    labels = {a.text() for a in window.act.values()}
    assert {"Lung Window", "Bone Window", "Soft tissue Window", "Automatic (histogram) Window",
            "Default Window"} <= labels
    window.image_view.set_image(film())
    window.act["invert"].setChecked(True)
    assert window.image_view.inverted
    window.image_view.set_image(film(seed=2))
    assert not window.act["invert"].isChecked()  # the check mark never lies about the film
    window.act["preset:Automatic (histogram)"].trigger()
    assert window.image_view.width_ < 4000
