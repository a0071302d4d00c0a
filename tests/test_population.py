"""What a file's own header says about the model's scope: a DICOM's age, view, body part and
modality, and a colour picture. Pure functions on decoded images: no TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FIXTURES, shared_data
from imaging_factories import write_dicom
from PIL import Image

from xrayviewer.imaging import load_image
from xrayviewer.imaging.dicom import parse_age_string
from xrayviewer.model.population import age_text, population_reasons
from xrayviewer.model.reasons import Reason, ReasonKind


def texts(image) -> tuple[str, ...]:
    return tuple(r.text for r in population_reasons(image))

XRAY = sorted((FIXTURES / "tiny_dataset" / "NORMAL").glob("*.jpeg"))[0]


def xray_pixels() -> np.ndarray:
    return np.asarray(Image.open(XRAY).convert("L"))


@pytest.mark.parametrize("text, years", [("004Y", 4.0), ("018M", 1.5), ("010W", 70 / 365.25), ("003D", 3 / 365.25),
                                         ("62", 62.0), (" 062Y ", 62.0), ("", None), ("old", None), ("4Y5M", None)])
def test_dicom_age_strings(text, years):
    if years is None:
        assert parse_age_string(text) is None
    else:
        assert parse_age_string(text) == pytest.approx(years)


def test_age_comes_from_birth_date_when_the_age_tag_is_missing(tmp_path):
    path = write_dicom(tmp_path / "b.dcm", xray_pixels(), tags={"PatientBirthDate": "20210615"})  # study 2024-01-02
    assert load_image(path).dicom.patient_age_years == pytest.approx(2.55, abs=0.01)
    no_dates = write_dicom(tmp_path / "n.dcm", xray_pixels(), tags={"PatientBirthDate": "", "StudyDate": ""})
    assert load_image(no_dates).dicom.patient_age_years is None


def test_a_child_in_the_training_age_range_is_not_flagged(tmp_path):
    for age in ("001Y", "003Y", "005Y", "070M"):  # 70 months: five years and ten months
        image = load_image(write_dicom(tmp_path / f"{age}.dcm", xray_pixels(), view="AP", tags={"PatientAge": age}))
        assert population_reasons(image) == (), age


def test_ages_outside_one_to_five_years_are_flagged_in_words(tmp_path):
    for age, words in (("062Y", "patient aged 62 years"), ("009M", "patient aged 9 months"),
                       ("006Y", "patient aged 6 years"), ("012Y", "patient aged 12 years")):
        image = load_image(write_dicom(tmp_path / f"{age}.dcm", xray_pixels(), tags={"PatientAge": age}))
        (reason,) = population_reasons(image)
        assert reason.kind is ReasonKind.AGE
        reason = reason.text
        assert reason.startswith(words) and "children aged 1 to 5" in reason, reason


def test_the_shared_adult_chest_dicoms_are_flagged_by_their_age():
    for name in ("chest_cr_monochrome1.dcm", "chest_cr_monochrome2.dcm"):
        image = load_image(shared_data("dicom", name))
        assert image.dicom.patient_age_years == 62
        assert texts(image) == ("patient aged 62 years, outside the training population "
                                             "(children aged 1 to 5)",)


def test_lateral_views_other_body_parts_and_modalities_are_flagged(tmp_path):
    px = xray_pixels()
    lateral = load_image(write_dicom(tmp_path / "lat.dcm", px, view="LL", tags={"PatientAge": "003Y"}))
    hand = load_image(write_dicom(tmp_path / "hand.dcm", px, tags={"BodyPartExamined": "HAND"}))
    ct = load_image(write_dicom(tmp_path / "ct.dcm", px, modality="CT"))
    assert texts(lateral) == ("a lateral view; the model saw only frontal (AP/PA) films",)
    assert texts(hand) == ("body part HAND, not the chest",)
    assert texts(ct) == ("DICOM modality CT, not a projection radiograph",)
    assert [r.kind for r in population_reasons(lateral) + population_reasons(hand) + population_reasons(ct)] == [
        ReasonKind.LATERAL, ReasonKind.BODY_PART, ReasonKind.MODALITY]
    # Vendors spell the chest many ways; none of them is "another body part".
    for part in ("THORAX", "CHEST_PA", "PORT CHEST", ""):
        image = load_image(write_dicom(tmp_path / "c.dcm", px, modality="DX", tags={"BodyPartExamined": part}))
        assert population_reasons(image) == (), part
    # "Other" says nothing: films re-saved as secondary captures often carry it.
    assert population_reasons(load_image(write_dicom(tmp_path / "ot.dcm", px, modality="OT"))) == ()


def test_plain_files_carry_no_facts_and_colour_pictures_are_named(tmp_path):
    assert population_reasons(load_image(XRAY)) == ()
    rng = np.random.default_rng(0)
    photo = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(photo)
    assert population_reasons(load_image(photo)) == (Reason(ReasonKind.COLOUR, "a colour picture, not a radiograph"),)


def test_ages_read_as_a_radiologist_says_them():
    assert [age_text(y) for y in (0.5, 1.0, 1.99, 2.0, 62.9)] == ["6 months", "12 months", "23 months", "2 years",
                                                                  "62 years"]


@pytest.mark.slow
def test_an_adult_dicom_is_scored_but_marked_unreliable_in_predict_and_the_cli(tiny_model, tmp_path, capsys):
    """The same pixels get the same probability; only the header's age makes the difference."""
    import csv
    import io

    from xrayviewer.cli import main as cli_main
    from xrayviewer.model import Predictor

    child = write_dicom(tmp_path / "child.dcm", xray_pixels(), view="AP", tags={"PatientAge": "003Y"})
    adult = write_dicom(tmp_path / "adult.dcm", xray_pixels(), view="AP", tags={"PatientAge": "062Y"})
    kid, grown = (r.prediction for r in Predictor.load(tiny_model).predict_files([child, adult]))
    assert grown.probability == pytest.approx(kid.probability, abs=1e-6)
    assert grown.out_of_distribution and "patient aged 62 years" in grown.ood_reason
    assert "aged" not in kid.ood_reason

    assert cli_main(["predict", str(child), str(adult), "--model", str(tiny_model)]) == 0
    rows = {r["path"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows[str(adult)]["out_of_distribution"] == "true"
    assert "patient aged 62 years" in rows[str(adult)]["ood_reason"]
    assert rows[str(adult)]["prediction"] in ("NORMAL", "PNEUMONIA")  # still scored: the reader decides
