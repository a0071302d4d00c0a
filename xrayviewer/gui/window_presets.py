"""Window/level presets and the automatic window, from the image's own histogram.

The display rule (also in the README): window, level and invert belong to the film on screen.
Every film opens at its own default window (the DICOM window tags, else its full range), not
inverted; Reset (R) returns to exactly that; moving to another film and back starts again
from the default. Nothing a reader did to one film silently changes how the next one looks.

A projection radiograph has no Hounsfield scale, so fixed CT-style numbers ("lung: W 1500
L -600") mean nothing on a CR or a JPEG. The presets are placed on the film's own histogram
instead: lung spreads the grey levels of the darker (air-filled) part of the film, bone those
of the brightest part, soft tissue the middle; automatic spreads the 1st to 99th percentile.
"Darker" means darker as displayed: a MONOCHROME1 DICOM stores bone as low values, and its
presets are mirrored.

Pure numpy, no Qt: tested directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..imaging import XRayImage

#: name -> (low, high) percentiles of the displayed brightness that the window spans.
#: None: the image's own default window.
PRESETS: dict[str, Optional[tuple[float, float]]] = {
    "Default": None,
    "Automatic (histogram)": (1.0, 99.0),
    "Lung": (1.0, 60.0),
    "Soft tissue": (25.0, 90.0),
    "Bone": (55.0, 99.7),
}
#: One key each (the digits are zoom keys; P, N, U are the reader's reads).
PRESET_SHORTCUTS = {"Default": "F2", "Automatic (histogram)": "A", "Lung": "F3", "Soft tissue": "F4", "Bone": "F5"}
#: Percentiles are taken on at most this many pixels (a 3,000 x 3,000 film in ~10 ms).
_SAMPLE = 250_000


@dataclass(frozen=True)
class Window:
    center: float
    width: float


def _sample(pixels: np.ndarray) -> np.ndarray:
    flat = np.asarray(pixels).reshape(-1)
    step = max(1, flat.size // _SAMPLE)
    return flat[::step].astype(np.float64)


def window_for(image: XRayImage, preset: str) -> Window:
    """The window ``preset`` gives on ``image`` (KeyError for an unknown name)."""
    span = PRESETS[preset]
    if span is None:
        return Window(float(image.window_center), float(image.window_width))
    low_pct, high_pct = span
    if image.invert:  # stored values run opposite to displayed brightness
        low_pct, high_pct = 100.0 - high_pct, 100.0 - low_pct
    values = _sample(image.pixels)
    low, high = np.percentile(values, [low_pct, high_pct])
    if high <= low:  # a flat film: fall back to its default rather than a zero-width window
        return Window(float(image.window_center), float(image.window_width))
    # Inverse of imaging.windowing.window_lut_bounds, so low maps to black and high to white.
    width = float(high - low + 1.0)
    return Window(float(low + 0.5 + (width - 1.0) / 2.0), width)
