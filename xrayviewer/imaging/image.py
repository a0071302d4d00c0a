"""XRayImage: one decoded radiograph at full resolution plus what a viewer needs to show it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .windowing import apply_window


@dataclass(frozen=True)
class DicomInfo:
    """DICOM attributes shown in the info pane. Identifiers are kept but hidden by default."""

    modality: str = ""
    photometric_interpretation: str = ""
    view_position: str = ""
    body_part: str = ""
    transfer_syntax: str = ""
    number_of_frames: int = 1
    patient_name: str = ""
    patient_id: str = ""
    study_date: str = ""
    patient_age_years: Optional[float] = None  # PatientAge, else StudyDate - PatientBirthDate


@dataclass(frozen=True)
class XRayImage:
    """A greyscale radiograph.

    ``pixels`` is 2-D at the file's full resolution: uint8, uint16 or float32 (DICOM after the
    modality rescale). Values keep the file's meaning; ``invert`` says that the display must be
    inverted so bone is white (DICOM MONOCHROME1). ``window_center``/``window_width`` are the
    default display window (DICOM window tags, else the data's range).
    ``colourfulness`` is 0 for greyscale sources and grows with chroma for colour ones: a cue
    for the out-of-distribution check, since the pixels themselves are stored grey.
    ``data_damaged``: the file's compressed data has errors the decoder worked around (a JPEG
    corrupted mid-stream decodes, streaked): shown and scored, but flagged as unreliable.
    """

    pixels: np.ndarray
    source_format: str
    bit_depth: int
    window_center: float
    window_width: float
    path: Optional[str] = None
    invert: bool = False
    colourfulness: float = 0.0
    original_mode: str = ""
    dicom: Optional[DicomInfo] = None
    file_size: int = 0
    extra: dict = field(default_factory=dict)
    data_damaged: bool = False

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def value_range(self) -> tuple[float, float]:
        return float(self.pixels.min()), float(self.pixels.max())

    def display(
        self,
        center: Optional[float] = None,
        width: Optional[float] = None,
        invert: bool = False,
    ) -> np.ndarray:
        """uint8 picture for the screen (and the model), bone white.

        ``center``/``width`` default to the image's own window; ``invert`` flips the result
        once more (the viewer's Invert tool), on top of any MONOCHROME1 inversion.
        """
        c = self.window_center if center is None else center
        w = self.window_width if width is None else width
        return apply_window(self.pixels, c, w, invert=self.invert != invert)
