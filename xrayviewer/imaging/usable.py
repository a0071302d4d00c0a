"""Is there a picture to read? Checks every decoded image must pass before anyone scores it.

A blank page, a one-pixel file, a 3 x 50,000 sliver or an array of NaNs decodes without
complaint, and the model then gives it a confident probability (about 1.0 PNEUMONIA in the
hostile-input run of issue 13). None of them is a radiograph, so each becomes that file's
ImageLoadError instead. The size rules run on the header's dimensions, before decoding.
"""

from __future__ import annotations

import numpy as np

from .errors import ImageLoadError

#: Smallest side, in pixels, of an image we read. The model looks at 128 x 128; below 64 the
#: picture has been shrunk past anything a reader (or the model) can interpret.
MIN_SIDE = 64
#: Longest side over shortest side. A chest film is about 1:1.2; panoramic and long-leg
#: films reach 1:3. Beyond 1:4 it is a strip, a banner or a corrupt header.
MAX_ASPECT = 4.0


def check_dimensions(width: int, height: int, name: str, path: str | None = None) -> None:
    """Refuse sizes no radiograph has (called with the header's size, before decoding)."""
    if min(width, height) < MIN_SIDE:
        raise ImageLoadError(
            f"{name} is only {width:,} x {height:,} pixels, too small to be a radiograph "
            f"(at least {MIN_SIDE} pixels on each side).", path)
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageLoadError(
            f"{name} is {width:,} x {height:,} pixels, a narrow strip rather than a radiograph "
            f"(sides more than {MAX_ASPECT:.0f} to 1).", path)


def check_pixels(pixels: np.ndarray, name: str, path: str | None = None) -> None:
    """Refuse decoded pixels that hold no picture: non-finite values, or one value everywhere."""
    check_dimensions(pixels.shape[1], pixels.shape[0], name, path)
    if pixels.dtype.kind == "f" and not np.isfinite(pixels).all():
        raise ImageLoadError(
            f"{name} holds pixel values that are not numbers (NaN or infinity): the file is "
            "damaged or was not saved as an image.", path)
    # Two different values anywhere settle it. A sparse sample finds two in any real picture
    # (0.01 ms, where both full passes over a 2,000 px film take 0.3); only a sample of one
    # value needs the full passes.
    sample = pixels[::7, ::7]
    if sample.min() != sample.max():
        return
    lo, hi = pixels.min(), pixels.max()
    if lo == hi:
        raise ImageLoadError(
            f"{name} is blank: every pixel has the same value, so there is no picture to read.", path)
