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

#: Stored in every model's metadata; the model loader refuses a model made for another id.
PREPROCESSING_ID = "rgb128-bilinear-v1"
INPUT_SIZE = 128
INPUT_SHAPE = (INPUT_SIZE, INPUT_SIZE, 3)


def preprocess_uint8(image: XRayImage) -> np.ndarray:
    """The displayed image, resized to INPUT_SIZE square: (128, 128) uint8."""
    grey = Image.fromarray(image.display())
    # reducing_gap lets Pillow box-reduce a 2,000 px image first: ~4x faster, same result
    # to within one grey level.
    small = grey.resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR, reducing_gap=3.0)
    return np.asarray(small, dtype=np.uint8)


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
