"""Dataset scanning, patient split, training, calibration and evaluation. Keras is imported
only when a network is trained, recalibrated or site-calibrated (model.runtime.import_keras)."""

from .cache import CacheWriteError
from .dataset import CLASSES, DatasetError, DatasetScan, Sample, patient_id, scan_dataset
from .fit import FitResult, TrainConfig, fit
from .recipes import DEFAULT_RECIPE, RECIPES, get_recipe, recipe_of
from .split import patient_split

__all__ = ["CacheWriteError", "CLASSES", "DatasetError", "DatasetScan", "Sample", "patient_id", "scan_dataset",
           "FitResult", "TrainConfig", "fit", "DEFAULT_RECIPE", "RECIPES", "get_recipe", "recipe_of", "patient_split"]
