"""Why a film is out of the model's scope, typed, with every phrase a reader sees kept here.

A :class:`Reason` is a kind (what the panel, the worklist and tests decide on) plus the words
for a radiologist. Two sources give them: what the file says about itself
(``population.population_reasons``: colour, a DICOM's age, view, body part, modality) and
which image statistics put the pixels outside the training films
(``ood_statistics.StatisticExplainer``: exposure, contrast, rotation, inversion, cropping, noise).
``Prediction.ood_reason`` and the CSV column ``ood_reason`` stay the "; "-joined text.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable


class ReasonKind(enum.Enum):
    # What the file says (population.py)
    COLOUR = "colour"
    MODALITY = "modality"
    BODY_PART = "body part"
    LATERAL = "lateral view"
    AGE = "age"
    DAMAGED = "image data damaged"  # the file's compressed data has errors (imaging.jpeg_check)
    # Which image statistic is off (ood_statistics.py)
    EXPOSURE = "exposure"
    CONTRAST = "contrast"
    ROTATION = "rotation"
    INVERTED = "inverted"
    CROPPING = "cropping"
    NOISE = "noise"
    # Flagged, but no single statistic stands out
    LAYOUT = "layout"  # the image part of the score: layout and grey levels together
    APPEARANCE = "appearance"  # the network's features part, the named measures checked and typical
    GENERAL = "general"  # flagged, nothing more known (old bundles; older producers' text)
    OTHER = "other"  # text from an older producer, kept as it came


#: Kinds that only restate the panel's general sentence ("unlike the training X-rays").
GENERAL_KINDS = frozenset({ReasonKind.GENERAL})
#: What the file says outright; when one of these is known, it comes first, and a colour
#: picture's grey-level statistics are not worth naming at all.
FILE_KINDS = frozenset({ReasonKind.COLOUR, ReasonKind.MODALITY, ReasonKind.BODY_PART, ReasonKind.LATERAL,
                        ReasonKind.AGE, ReasonKind.DAMAGED})


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind
    text: str

    def __str__(self) -> str:
        return self.text


def join(reasons: Iterable[Reason]) -> str:
    """The one-line text of the CSV column and ``Prediction.ood_reason``."""
    return "; ".join(r.text for r in reasons)


def as_reason(value) -> Reason:
    """A Reason as is; plain text from an older producer as kind OTHER."""
    return value if isinstance(value, Reason) else Reason(ReasonKind.OTHER, str(value))


#: The general phrase older producers wrote for a feature-part flag.
_LEGACY_GENERAL = "unlike the training X-rays"


def from_text(text: str) -> tuple[Reason, ...]:
    """Reasons from "; "-joined text of an older producer (kind OTHER; its general phrase
    as APPEARANCE, which the panel does not repeat)."""
    parts = [part.strip() for part in (text or "").split(";") if part.strip()]
    return tuple(Reason(ReasonKind.GENERAL if p == _LEGACY_GENERAL else ReasonKind.OTHER, p) for p in parts)


def combine(pixel: Iterable[Reason], file: Iterable[Reason]) -> tuple[Reason, ...]:
    """One film's reasons in the order a reader needs them: what the file says first (it is
    certain), then what the pixels show; none of a colour picture's pixel statistics."""
    file, pixel = tuple(file), tuple(pixel)
    if any(r.kind is ReasonKind.COLOUR for r in file):
        pixel = ()
    return file + pixel


# ---- what the file says -------------------------------------------------------------------
def colour() -> Reason:
    return Reason(ReasonKind.COLOUR, "a colour picture, not a radiograph")


def modality(code: str) -> Reason:
    return Reason(ReasonKind.MODALITY, f"DICOM modality {code}, not a projection radiograph")


def body_part(name: str) -> Reason:
    return Reason(ReasonKind.BODY_PART, f"body part {name}, not the chest")


def lateral() -> Reason:
    return Reason(ReasonKind.LATERAL, "a lateral view; the model saw only frontal (AP/PA) films")


def damaged() -> Reason:
    """A picture decoded around errors in its file (a JPEG corrupted mid-stream shows streaks)."""
    return Reason(ReasonKind.DAMAGED, "image data damaged")


def age(age_words: str, low: float, high: float) -> Reason:
    return Reason(ReasonKind.AGE, f"patient aged {age_words}, outside the training population "
                                  f"(children aged {low:.0f} to {high - 1:.0f})")


# ---- which image statistic is off ---------------------------------------------------------
#: (kind, sign of the deviation) -> the words. The model input is the displayed film, bone
#: white: a whiter film than usual reads as under-exposed, a darker one as over-exposed.
STATISTIC_WORDS = {
    (ReasonKind.EXPOSURE, +1): "exposure: much whiter than the training films (under-exposed?)",
    (ReasonKind.EXPOSURE, -1): "exposure: much darker than the training films (over-exposed?)",
    (ReasonKind.CONTRAST, +1): "contrast: harsher than the training films (few mid-greys)",
    (ReasonKind.CONTRAST, -1): "contrast: flatter than the training films (washed-out greys)",
    (ReasonKind.ROTATION, +1): "rotation: the film looks turned; no upright mediastinum down the middle",
    (ReasonKind.ROTATION, -1): "rotation: the film looks turned; no upright mediastinum down the middle",
    (ReasonKind.INVERTED, -1): "inverted grey scale: the mediastinum is darker than the lungs (a negative image?)",
    (ReasonKind.INVERTED, +1): "inverted grey scale: the mediastinum is darker than the lungs (a negative image?)",
    (ReasonKind.CROPPING, +1): "cropping: the edges are much brighter than in the training films "
                               "(tight crop, collimation or positioning)",
    (ReasonKind.CROPPING, -1): "cropping: the edges are much darker than in the training films "
                               "(wide field, off-centre or small patient)",
    (ReasonKind.NOISE, +1): "noise: much more fine detail than the training films (grain, text or markers)",
    (ReasonKind.NOISE, -1): "sharpness: much smoother than the training films (blurred or heavily processed)",
}


def statistic(kind: ReasonKind, sign: int) -> Reason:
    return Reason(kind, STATISTIC_WORDS[(kind, 1 if sign >= 0 else -1)])


def layout() -> Reason:
    return Reason(ReasonKind.LAYOUT, "layout and grey levels together unlike a chest X-ray "
                                     "(no single measure stands out), e.g. not a radiograph")


def appearance() -> Reason:
    return Reason(ReasonKind.APPEARANCE, "unusual to the model's own features, while exposure, contrast, "
                                         "rotation and cropping look typical")


def general() -> Reason:
    return Reason(ReasonKind.GENERAL, _LEGACY_GENERAL)
