"""What a file says about itself that puts it outside the model's training population.

The out-of-distribution score (``ood``) judges the pixels, and a chest film of an adult, a
lateral view or a hand can look close enough to pass it. A DICOM header often states these
facts outright: the patient's age, the view, the body part, the modality. When it does, the
model has no business reading the film as usual, whatever the pixels say. A colour picture is
the same kind of fact, taken from the decoded file rather than a tag, and so is a file whose
compressed data was damaged: its picture is not what was acquired.

Plain Python: reasons are typed ``reasons.Reason`` values (their words live in ``reasons``) that
``Predictor.predict_batch`` adds to the pixel-based score's, in ``Prediction.reasons``.
"""

from __future__ import annotations

from ..imaging import XRayImage
from . import reasons as words
from .ood import COLOURFULNESS_LIMIT
from .reasons import Reason

#: The words of the reason given for a picture decoded around errors in its file
#: (``XRayImage.data_damaged``), as the CSV's ood_reason carries them.
IMAGE_DATA_DAMAGED = words.damaged().text

#: The dataset's patients were "one to five years old" (Kermany et al., 2018): up to the
#: sixth birthday. Infants and older children are outside it, as the model card says.
TRAINING_AGE_YEARS = (1.0, 6.0)

#: DICOM modalities of projection radiographs (CR computed, DX digital, RG radiographic film,
#: DR a common non-standard spelling), plus OT ("other"), which says nothing: a chest film
#: re-saved as a secondary capture often carries it. Anything else (CT, MR, US, MG, XA...)
#: is not a chest radiograph.
RADIOGRAPH_MODALITIES = {"CR", "DX", "DR", "RG", "OT"}
#: BodyPartExamined values that name the chest, matched as substrings ("CHEST", "THORAX",
#: "CHEST_PA", "PORT CHEST", "LUNG").
CHEST_WORDS = ("CHEST", "THORAX", "LUNG", "TORAX", "THORAC")
#: ViewPosition values of lateral films; the model saw only frontal (AP/PA) views.
LATERAL_VIEWS = {"LL", "RL", "LAT", "LATERAL", "LLD", "RLD"}


def age_text(years: float) -> str:
    """An age as a radiologist says it, in completed units: months under two years, years after."""
    if years < 2:
        return f"{int(years * 12 + 1e-9)} months"
    return f"{int(years + 1e-9)} years"


def population_reasons(image: XRayImage) -> tuple[Reason, ...]:
    """Why the file itself puts ``image`` outside what the model was trained on, in words.

    Empty when nothing in it does, which is not proof that it is in scope: most JPEGs and
    PNGs say nothing about the patient.
    """
    reasons = []
    if image.data_damaged:  # decoded around errors in the file (a JPEG corrupted mid-stream)
        reasons.append(words.damaged())
    if image.colourfulness > COLOURFULNESS_LIMIT:
        reasons.append(words.colour())
    d = image.dicom
    if d is None:
        return tuple(reasons)
    modality = d.modality.strip().upper()
    if modality and modality not in RADIOGRAPH_MODALITIES:
        reasons.append(words.modality(modality))
    body_part = d.body_part.strip().upper()
    if body_part and not any(word in body_part for word in CHEST_WORDS):
        reasons.append(words.body_part(body_part))
    if d.view_position.strip().upper() in LATERAL_VIEWS:
        reasons.append(words.lateral())
    age = d.patient_age_years
    low, high = TRAINING_AGE_YEARS
    if age is not None and not low <= age < high:
        reasons.append(words.age(age_text(age), low, high))
    return tuple(reasons)
