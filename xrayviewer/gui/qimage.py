"""numpy arrays to QImage without copying, and without the classic dangling-buffer crash.

QImage built on a foreign buffer does not own it: if the array is freed while Qt still
paints from it, the app reads freed memory. Every QImage made here carries a reference to
its array (``image.array``) for as long as the QImage object lives; callers that convert
to QPixmap get Qt's own copy and may drop both.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def _wrap(array: np.ndarray, fmt: QImage.Format) -> QImage:
    h, w = array.shape[:2]
    # bytesPerLine must be the real row stride: rows of an odd-width grey image are not
    # padded to 4 bytes in numpy, and Qt would otherwise assume they are (a sheared image).
    image = QImage(array.data, w, h, array.strides[0], fmt)
    image.array = array
    return image


def grey_to_qimage(grey: np.ndarray) -> QImage:
    """(H, W) uint8 to Format_Grayscale8."""
    grey = np.ascontiguousarray(grey, dtype=np.uint8)
    if grey.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {grey.shape}")
    return _wrap(grey, QImage.Format.Format_Grayscale8)


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) uint8 to Format_RGB888."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB, got shape {rgb.shape}")
    return _wrap(rgb, QImage.Format.Format_RGB888)


def rgba_premultiplied_to_qimage(rgba: np.ndarray) -> QImage:
    """(H, W, 4) uint8, colour already multiplied by alpha, to Format_RGBA8888_Premultiplied."""
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected (H, W, 4) RGBA, got shape {rgba.shape}")
    return _wrap(rgba, QImage.Format.Format_RGBA8888_Premultiplied)


def qimage_to_array(image: QImage) -> np.ndarray:
    """A copy of a QImage's pixels as (H, W) grey or (H, W, 4) RGBA uint8 (tests, screenshots)."""
    if image.format() == QImage.Format.Format_Grayscale8:
        fmt, channels = QImage.Format.Format_Grayscale8, 1
    else:
        fmt, channels = QImage.Format.Format_RGBA8888, 4
    image = image.convertToFormat(fmt)
    h, w, bpl = image.height(), image.width(), image.bytesPerLine()
    buf = np.frombuffer(image.constBits(), dtype=np.uint8, count=h * bpl).reshape(h, bpl)
    out = buf[:, : w * channels].copy()
    return out if channels == 1 else out.reshape(h, w, 4)
