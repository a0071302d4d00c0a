"""Heatmap overlays written to disk (``xrayviewer predict --heatmap``): a safe file name per
input, and the full-resolution overlay built a band of rows at a time.

Blending a 9,400 x 9,400 film in one go made float32 RGB copies of the whole picture
(several GB: 5.6 GB peak in issue 13); here each band of rows is blended, filtered and
compressed in turn, so the extra memory is one band's, whatever the film's size.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib

import numpy as np

from ..atomic import atomic_open
from .gradcam import OVERLAY_OPACITY, overlay

SUFFIX = "_heatmap.png"
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


def save_overlay_png(image, heatmap: np.ndarray, out_path: str, opacity: float = OVERLAY_OPACITY) -> None:
    """Write ``image`` (an XRayImage at its default window) with ``heatmap`` (H, W) blended in,
    as an RGB PNG, a band of rows at a time (never the whole RGB picture in memory). Written
    beside the target and renamed, so no half-written PNG is left behind."""
    grey = image.display()
    height, width = grey.shape
    bands = (overlay(grey[top:top + BAND_ROWS], heatmap[top:top + BAND_ROWS], opacity)
             for top in range(0, height, BAND_ROWS))
    with atomic_open(out_path, "wb", prefix=".heatmap-") as fh:
        write_png_rgb(fh, width, height, bands)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png_rgb(fh, width: int, height: int, bands, level: int = 6) -> None:
    """An 8-bit RGB PNG from ``bands``, (rows, width, 3) uint8 arrays top to bottom, compressed
    as they come. Each row uses PNG's "Sub" filter (the difference from the pixel to its
    left), which suits smooth pictures such as films and heatmaps."""
    fh.write(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
    packer = zlib.compressobj(level)
    rows_written = 0
    for band in bands:
        flat = np.ascontiguousarray(band, dtype=np.uint8).reshape(len(band), width * 3)
        filtered = np.empty((len(band), width * 3 + 1), dtype=np.uint8)
        filtered[:, 0] = 1  # filter type Sub
        filtered[:, 1:4] = flat[:, :3]
        np.subtract(flat[:, 3:], flat[:, :-3], out=filtered[:, 4:])  # wraps modulo 256, as PNG wants
        data = packer.compress(filtered.tobytes())
        if data:
            fh.write(_chunk(b"IDAT", data))
        rows_written += len(band)
    if rows_written != height:
        raise ValueError(f"{rows_written} rows given for a PNG of {height}")
    fh.write(_chunk(b"IDAT", packer.flush()) + _chunk(b"IEND", b""))
