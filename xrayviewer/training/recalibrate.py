"""recalibrate_bundle(): refit what fit() fits after the weights (temperature, threshold,
operating points, OOD statistics, model-card figures) for an existing bundle, without
retraining. For bundles made before a change to those steps; the weights are untouched and
the result is exactly what fit() would have stored for the same weights (same split, same code).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from ..defaults import OLD_BUNDLE_SENSITIVITY_TARGET, OOD_FLAG_RATE
from ..progress import CancelCheck, ProgressCallback, no_progress
from .dataset import DatasetError, scan_dataset
from .calibrate import calibrate_and_describe, reference_sample
from .recipes import get_recipe, recipe_of
from .results import PreparedSplit
from .split import rebuild_model_split


def reproduce_split(info, dataset_dir, cache_dir=None, on_progress: ProgressCallback = no_progress,
                    should_cancel: Optional[CancelCheck] = None) -> PreparedSplit:
    """The PreparedSplit (cache, train and validation samples) that fit() made for the bundle
    ``info``, rebuilt from its metadata (split.rebuild_model_split, decoding as fit() did).
    Raises DatasetError when ``dataset_dir`` is not the folder it was trained on or the split
    comes out different: recalibrating on another split would change the model silently."""
    scan = scan_dataset(dataset_dir, on_progress=on_progress, should_cancel=should_cancel)
    rebuilt = rebuild_model_split(scan, info.meta, decode=True, cache_dir=cache_dir, on_progress=on_progress,
                                  should_cancel=should_cancel)
    if rebuilt.files_differ:
        raise DatasetError(f"{dataset_dir} is not the dataset model {info.name} was trained on "
                           "(its file list differs); its validation split cannot be reproduced.")
    if rebuilt.count_differs:
        raise DatasetError(f"Reproduced {len(rebuilt.val)} validation images, but model {info.name} recorded "
                           f"{rebuilt.recorded_val_images}: the split cannot be reproduced.")
    return rebuilt.prepared


def recalibrate_bundle(model_path, dataset_dir, out_dir, name: Optional[str] = None, cache_dir=None,
                       overwrite: bool = False, sensitivity_target: Optional[float] = None,
                       on_progress: ProgressCallback = no_progress,
                       should_cancel: Optional[CancelCheck] = None) -> Path:
    """Save ``out_dir/name.keras`` (+ .json, .ood.npz): the same weights with recomputed
    calibration, threshold, operating points, OOD statistics and card figures. The threshold
    rule's sensitivity target is the bundle's own unless ``sensitivity_target`` is given (then
    it is recorded in the metadata's config, as fit() records it). Raises DatasetError when
    ``dataset_dir`` is not the folder the model was trained on."""
    from ..model.architectures import with_last_conv_output
    from ..model.bundle import read_model_info, save_bundle
    from ..model.runtime import import_keras

    info = read_model_info(model_path)
    meta = dict(info.meta)
    config = dict(meta.get("config") or {})
    if sensitivity_target is not None:
        config["sensitivity_target"] = float(sensitivity_target)
        meta["config"] = config
    prepared = reproduce_split(info, dataset_dir, cache_dir, on_progress, should_cancel)
    keras = import_keras()
    model = keras.saving.load_model(info.keras_path, compile=False)
    dual = with_last_conv_output(model)
    recipe = get_recipe(recipe_of(meta))
    fields, ood = calibrate_and_describe(
        dual, prepared, recipe.shifts_prior, float(config.get("sensitivity_target", OLD_BUNDLE_SENSITIVITY_TARGET)),
        float(config.get("ood_flag_rate", OOD_FLAG_RATE)), on_progress=on_progress, should_cancel=should_cancel)
    meta.update(fields)
    cal = fields["calibration"]
    meta["reference_sample"] = reference_sample(dual, cal["temperature"], cal["shift"])
    meta["recalibrated"] = {"from": str(info.keras_path), "from_sha256": info.meta.get("sha256"),
                            "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    for k in ("format", "name", "sha256", "preprocessing", "input_shape"):
        meta.pop(k, None)
    return save_bundle(model, meta, out_dir, name or f"{info.name}-recal", ood=ood, overwrite=overwrite)
