"""Model bundles, prediction, calibration, explanation, OOD. TensorFlow loads lazily inside."""

from .bundle import (BUNDLED_MODEL_NAME, ModelInfo, ModelLoadError, ModelSaveError, bundled_model_path,
                     list_models, read_model_info, save_bundle)
from .predictor import NEGATIVE, POSITIVE, FileResult, Prediction, Predictor

__all__ = [
    "BUNDLED_MODEL_NAME", "ModelInfo", "ModelLoadError", "ModelSaveError", "bundled_model_path",
    "list_models", "read_model_info", "save_bundle", "NEGATIVE", "POSITIVE", "FileResult",
    "Prediction", "Predictor",
]
