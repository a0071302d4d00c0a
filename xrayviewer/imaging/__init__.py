"""Decoding, DICOM, windowing and the model's preprocessing. numpy, Pillow and pydicom only."""

from .errors import ImageLoadError
from .image import DicomInfo, XRayImage
from .loader import IMAGE_EXTENSIONS, find_images, is_candidate_image, load_image
from .preprocess import (INPUT_SHAPE, INPUT_SIZE, PREPROCESSING_ID, preprocess, preprocess_uint8, to_model_grey,
                         to_model_input)
from .windowing import apply_window

__all__ = [
    "ImageLoadError", "DicomInfo", "XRayImage", "IMAGE_EXTENSIONS", "find_images",
    "is_candidate_image", "load_image", "INPUT_SHAPE", "INPUT_SIZE", "PREPROCESSING_ID",
    "preprocess", "preprocess_uint8", "to_model_grey", "to_model_input", "apply_window",
]
