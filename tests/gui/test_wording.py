"""The words beside the probability, from fake predictions (no model, no Qt)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from xrayviewer.gui import wording
from xrayviewer.model import Prediction


def pred(p, threshold=0.5, ood=False, reason=""):
    return Prediction(probability=p, raw_probability=p, threshold=threshold, ood_score=3.0 if ood else 1.0,
                      out_of_distribution=ood, ood_reason=reason)


@pytest.mark.parametrize("p, threshold, expected", [
    (0.91, 0.5, wording.SUGGESTS), (0.5, 0.5, wording.SUGGESTS), (0.49, 0.5, wording.NOT_SUGGESTED),
    (0.30, 0.25, wording.SUGGESTS), (0.20, 0.25, wording.NOT_SUGGESTED),
])
def test_verdict_follows_the_models_threshold_not_one_half(p, threshold, expected):
    assert wording.verdict(pred(p, threshold)) == expected


def test_near_threshold_note_only_near_the_threshold():
    assert wording.near_threshold_note(pred(0.55, 0.5))  # 5 points away
    assert "50%" in wording.near_threshold_note(pred(0.45, 0.5))
    assert wording.near_threshold_note(pred(0.95, 0.5)) == ""
    assert wording.near_threshold_note(pred(0.02, 0.5)) == ""


def test_out_of_distribution_warning_names_the_reason():
    text = wording.ood_warning(pred(0.9, ood=True, reason="a colour picture, not a radiograph"))
    assert "unlike the pediatric chest X-rays" in text and "unreliable" in text
    assert "colour picture" in text
    assert wording.ood_warning(pred(0.9)) == ""
    plain = wording.ood_warning(pred(0.9, ood=True, reason="unlike the training X-rays"))
    assert plain == wording.OOD_WARNING  # no redundant "(Detected: unlike the training X-rays)"


def test_the_panel_headline_puts_the_caveat_before_the_reading():
    flagged = wording.panel_verdict(pred(0.1, ood=True, reason="patient aged 62 years"))
    assert flagged.startswith("Unreliable") and flagged.endswith("(its reading: no pneumonia suggested)")
    assert wording.panel_verdict(pred(0.1)) == wording.NOT_SUGGESTED
    assert wording.panel_verdict(pred(0.9)) == wording.SUGGESTS


def test_worklist_verdict_puts_caveats_first():
    assert wording.worklist_verdict(pred(0.9, ood=True, reason="x")) == "Unreliable"
    assert wording.worklist_verdict(pred(0.52)) == "Borderline"
    assert wording.worklist_verdict(pred(0.1)) == "No pneumonia"
    assert wording.worklist_verdict(pred(0.9)) == "Pneumonia?"
    tip = wording.worklist_tooltip(pred(0.9, ood=True, reason="a colour picture, not a radiograph"))
    assert tip.startswith("Suggests pneumonia (90%; threshold 50%)") and "colour picture" in tip


@pytest.mark.parametrize("p, text", [(0.0, "<1%"), (0.004, "<1%"), (0.005, "1%"), (0.734, "73%"),
                                     (0.995, ">99%"), (1.0, ">99%"), (None, "–")])
def test_percent_never_claims_certainty(p, text):
    assert wording.percent(p) == text


def test_operating_point_text():
    info = SimpleNamespace(threshold=0.3, operating_point=lambda t=None: (0.95, 0.71))
    text = wording.operating_point_text(info)
    assert "30%" in text and "95%" in text and "71%" in text and "sensitivity" in text and "specificity" in text
    no_table = SimpleNamespace(threshold=0.3, operating_point=lambda t=None: None)
    assert "no validation operating point" in wording.operating_point_text(no_table)


def test_sizes_and_durations():
    assert wording.human_size(512) == "512 bytes"
    assert wording.human_size(46_757) == "45.7 KB"
    assert wording.duration(75) == "1:15" and wording.duration(3725) == "1:02:05"
    assert wording.duration(None) == "–"


def test_a_near_certain_pneumonia_is_not_borderline_when_the_threshold_is_high():
    """At a threshold of 0.98 (the bundled model's until its rule moved to sensitivity 0.98), a
    >99.9% film is a clear call, not borderline; what lies just either side of 0.98 still is."""
    assert wording.worklist_verdict(pred(0.9999, threshold=0.9814)) == "Pneumonia?"
    assert wording.worklist_verdict(pred(0.40, threshold=0.9814)) == "No pneumonia"
    assert wording.worklist_verdict(pred(0.985, threshold=0.9814)) == "Borderline"
    assert wording.worklist_verdict(pred(0.975, threshold=0.9814)) == "Borderline"
    # The same rule at a low threshold.
    assert wording.worklist_verdict(pred(0.04, threshold=0.05)) == "Borderline"
    assert wording.worklist_verdict(pred(0.30, threshold=0.05)) == "Pneumonia?"


def test_status_and_loading_texts_read_as_sentences():
    assert wording.loading_model("the bundled model") == "Loading the bundled model…"  # not "model the bundled model"
    assert wording.loading_model("/home/r/models/pneu-v2.keras") == "Loading model pneu-v2.keras…"
    assert wording.opened_status(2, 0, 5) == "Opened 2 new images; 5 images in the worklist."
    assert wording.opened_status(1, 0, 1) == "Opened 1 new image; 1 image in the worklist."
    assert wording.opened_status(0, 3, 3) == "3 images already in the worklist; 3 images in the worklist."
    assert "(s)" not in wording.opened_status(1, 1, 2)


def test_dicom_dates_are_shown_as_dates():
    assert wording.dicom_date("19010101") == "1901-01-01"
    assert wording.dicom_date("") == "" and wording.dicom_date("2019") == "2019"


def test_flagged_films_give_their_specific_reasons_in_the_panel_text():
    from xrayviewer.model import reasons as words
    from xrayviewer.model.reasons import ReasonKind

    p = Prediction(0.999, 0.999, 0.5, out_of_distribution=True,
                   reasons=(words.statistic(ReasonKind.EXPOSURE, -1), words.lateral()))
    text = wording.ood_warning(p)
    assert "exposure: much darker than the training films" in text and "lateral view" in text
    general = Prediction(0.9, 0.9, 0.5, out_of_distribution=True, reasons=(words.general(),))
    assert wording.ood_warning(general) == wording.OOD_WARNING
    # A feature-flagged film whose measures were checked says so: not a bare warning.
    checked = Prediction(0.9, 0.9, 0.5, out_of_distribution=True, reasons=(words.appearance(),))
    assert "look typical" in wording.ood_warning(checked)
