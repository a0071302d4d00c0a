"""Heatmap overlays written to disk (``xrayviewer predict --heatmap``): a safe file name per
input, and the full-resolution overlay built a band of rows at a time.

Blending a 9,400 x 9,400 film in one go made float32 RGB copies of the whole picture
(several GB: 5.6 GB peak in issue 13); band by band the extra memory is the output PNG's
uint8 RGB plus one band's floats.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
from PIL import Image

from .gradcam import overlay

SUFFIX = "_heatmap.png"
#: The overlay's opacity at the heatmap's strongest point (the GUI's default too).
OPACITY = 0.45
#: Rows blended at a time: 256 rows of a 9,400 px film are ~29 MB of float32 RGB per temporary.
BAND_ROWS = 256


def heatmap_file_name(path: str, used: set, max_bytes: int = 255) -> str:
    """``<stem>_heatmap.png`` for the input ``path``, unique among ``used``, and short enough
    for the file system (``max_bytes``, 255 on most): a long stem is cut and a short hash of
    the full path keeps it unique. Two inputs with the same name get -2, -3... as before."""
    stem = os.path.splitext(os.path.basename(path))[0] or "image"
    limit = max(32, max_bytes - 16)  # room for "-NN" and the suffix

    def fits(text: str) -> bool:
        return len(os.fsencode(text + SUFFIX)) <= limit

    if not fits(stem):
        digest = hashlib.sha1(os.fsencode(path)).hexdigest()[:8]
        while stem and not fits(f"{stem}~{digest}"):
            stem = stem[:-1]
        stem = f"{stem}~{digest}"
    name, k = stem + SUFFIX, 2
    while name in used:  # same file name in two input folders: do not overwrite the first
        name, k = f"{stem}-{k}{SUFFIX}", k + 1
    return name


def save_overlay_png(image, heatmap: np.ndarray, out_path: str, opacity: float = OPACITY) -> None:
    """Write ``image`` (an XRayImage at its default window) with ``heatmap`` (H, W) blended in,
    as an RGB PNG. Written beside the target and renamed, so no half-written PNG is left."""
    grey = image.display()
    rgb = np.empty((*grey.shape, 3), dtype=np.uint8)
    for top in range(0, grey.shape[0], BAND_ROWS):
        rows = slice(top, top + BAND_ROWS)
        rgb[rows] = overlay(grey[rows], heatmap[rows], opacity)
    tmp = f"{out_path}.part"
    try:
        Image.fromarray(rgb).save(tmp, format="PNG")
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
