"""What the model sees: the one preprocessing shared by training and prediction.

The seed notebook fed the CNN RGB images resized to 128 x 128 and scaled by 1/255. We keep
exactly that contract. A radiograph is grey, so its RGB form is the displayed grey image
(default window, bone white) copied into three channels. The resize is Pillow's antialiased
bilinear (Keras' load_img default, nearest, aliases badly on 2,000 px inputs).

Training caches the uint8 stage (``preprocess_uint8``) on disk; prediction calls
``preprocess``; both end in ``to_model_input``, so the two paths cannot drift.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .image import XRayImage
from .two_cores import side_by_side, spare_core

#: Stored in every model's metadata; the model loader refuses a model made for another id.
PREPROCESSING_ID = "rgb128-bilinear-v1"
INPUT_SIZE = 128
INPUT_SHAPE = (INPUT_SIZE, INPUT_SIZE, 3)


#: Pillow's box reduce before the bilinear step when the picture is over this many times the
#: input's size: ~4x faster on a 2,000 px image, the same result to within one grey level.
REDUCING_GAP = 3.0

#: From this many pixels the box reduce is done in two halves on two cores (a 2,000 px film:
#: 3.2 -> 2.1 ms); below it a helper thread's start costs more than it saves.
HALVED_REDUCE_PIXELS = 1_000_000


def preprocess_uint8(image: XRayImage) -> np.ndarray:
    """The displayed image, resized to INPUT_SIZE square: (128, 128) uint8."""
    grey = Image.fromarray(image.display())
    size = (INPUT_SIZE, INPUT_SIZE)
    fx, fy = _reduce_factors(grey.size)
    if grey.width * grey.height >= HALVED_REDUCE_PIXELS and fy > 1 and spare_core():
        # Exactly what resize(..., reducing_gap) does with a whole-picture box (tests/
        # test_fast_paths.py): a box reduce by (fx, fy), then bilinear over the reduced box. Each
        # reduced row averages only its own fy rows, so halves cut at a multiple of fy give the
        # same rows.
        cut = grey.height // 2 // fy * fy
        top, bottom = side_by_side(lambda: grey.reduce((fx, fy), box=(0, 0, grey.width, cut)),
                                   lambda: grey.reduce((fx, fy), box=(0, cut, grey.width, grey.height)))
        reduced = Image.fromarray(np.vstack([np.asarray(top), np.asarray(bottom)]))
        small = reduced.resize(size, Image.BILINEAR, box=(0, 0, grey.width / fx, grey.height / fy))
    else:
        small = grey.resize(size, Image.BILINEAR, reducing_gap=REDUCING_GAP)
    return np.asarray(small, dtype=np.uint8)


def _reduce_factors(picture: tuple[int, int]) -> tuple[int, int]:
    """The box-reduce factors Pillow's ``resize`` picks for ``reducing_gap`` (Image.resize)."""
    return tuple(int(side / INPUT_SIZE / REDUCING_GAP) or 1 for side in picture)


def to_model_grey(grey_u8: np.ndarray) -> np.ndarray:
    """uint8 grey (..., 128, 128) to float32 (..., 128, 128, 1) in [0, 1]: one channel of the
    model input, which the converted network and the OOD image check take as it is (no
    three-fold copy)."""
    return grey_u8[..., None].astype(np.float32) * (1.0 / 255.0)


def to_model_input(grey_u8: np.ndarray) -> np.ndarray:
    """uint8 grey (..., 128, 128) to float32 RGB (..., 128, 128, 3) in [0, 1]."""
    return np.repeat(to_model_grey(grey_u8), 3, axis=-1)


def preprocess(image: XRayImage) -> np.ndarray:
    """The model's input for one image: float32 (128, 128, 3) in [0, 1]."""
    return to_model_input(preprocess_uint8(image))
