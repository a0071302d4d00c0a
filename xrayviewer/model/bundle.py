"""Model bundles: ``<name>.keras`` + ``<name>.json`` (+ ``<name>.ood.npz``, ``<name>.tflite``),
saved atomically, loaded only when the metadata matches this app's preprocessing and the
weights' checksum. The ``.tflite`` is the same network for LiteRT (scoring without
TensorFlow); every save writes one, checked against Keras (``convert.py``)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..imaging.preprocess import INPUT_SHAPE, PREPROCESSING_ID
from ..paths import bundled_models_dir, user_models_dir
from .metrics import operating_point, table_threshold_for_sensitivity
from .ood import OODStats

METADATA_FORMAT = 1
BUNDLED_MODEL_NAME = "default"
REQUIRED_KEYS = ("format", "name", "recipe", "preprocessing", "input_shape", "threshold", "sha256")


class ModelLoadError(Exception):
    """A model bundle is missing, corrupt, or made for another preprocessing. Message for people."""


class ModelSaveError(Exception):
    """A model could not be written (disk full, permissions); nothing existing was touched."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def metadata_path(keras_path: Path) -> Path:
    return Path(keras_path).with_suffix(".json")


def ood_path(keras_path: Path) -> Path:
    return Path(keras_path).with_suffix(".ood.npz")


def litert_path(keras_path: Path) -> Path:
    return Path(keras_path).with_suffix(".tflite")


def litert_meta(file_name: str, sha256: str, conversion) -> dict:
    """The metadata entry of a bundle's ``.tflite``: which file, its checksum, and how far it
    was from Keras on which inputs when it was written."""
    return {"file": file_name, "sha256": sha256, "max_difference_vs_keras": conversion.max_difference,
            "score_difference_vs_keras": conversion.score_difference,
            "activation_scale": conversion.activation_scale, "checked_on": conversion.checked_on,
            "input_channels": conversion.input_channels}


@dataclass
class ModelInfo:
    """A bundle's metadata, validated, with helpers the CLI and GUI share."""

    keras_path: Path
    meta: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @property
    def threshold(self) -> float:
        return float(self.meta["threshold"])

    @property
    def temperature(self) -> float:
        return float(self.meta.get("calibration", {}).get("temperature", 1.0))

    @property
    def calibration_shift(self) -> float:
        """Prior-correction logit shift (class-weighted training); 0 for older bundles."""
        return float(self.meta.get("calibration", {}).get("shift", 0.0))

    @property
    def is_bundled(self) -> bool:
        try:
            return self.keras_path.resolve().parent == bundled_models_dir().resolve()
        except OSError:
            return False

    def operating_point(self, threshold: Optional[float] = None) -> Optional[tuple[float, float]]:
        """(sensitivity, specificity) expected at ``threshold`` (default: the model's own), read
        from the validation ROC stored in the metadata; None for a bundle without one."""
        table = self.meta.get("operating_points")
        if not table:
            return None
        return operating_point(table, self.threshold if threshold is None else threshold)

    def threshold_for_sensitivity(self, target: float) -> Optional[float]:
        """The highest threshold that kept validation sensitivity >= ``target``, if recorded."""
        table = self.meta.get("operating_points")
        if not table:
            return None
        return table_threshold_for_sensitivity(table, target)

    @property
    def has_litert(self) -> bool:
        """A ``.tflite`` recorded in the metadata (so written and checked by a save) and present."""
        entry = self.meta.get("litert")
        return isinstance(entry, dict) and bool(entry.get("sha256")) and litert_path(self.keras_path).is_file()

    @property
    def linear_head(self) -> Optional[dict]:
        """Dense weights for numpy Grad-CAM (``gradcam.linear_grad_cam``); None: explain with TF."""
        head = self.meta.get("gradcam")
        return head if isinstance(head, dict) and head.get("weights") else None

    def ood_stats(self) -> Optional[OODStats]:
        p = ood_path(self.keras_path)
        return OODStats.load(p) if p.exists() else None

    @property
    def display_name(self) -> str:
        created = str(self.meta.get("created", ""))[:10]
        origin = "bundled" if self.is_bundled else "yours"
        return f"{self.name} ({self.meta.get('recipe', '?')}, {created}, {origin})"


def read_model_info(keras_path, verify_checksum: bool = True) -> ModelInfo:
    """Read and check a bundle's metadata; raise ModelLoadError with a clear message."""
    keras_path = Path(keras_path)
    if keras_path.suffix == ".json":
        keras_path = keras_path.with_suffix(".keras")
    if not keras_path.exists():
        raise ModelLoadError(f"Model file {keras_path} does not exist.")
    meta_file = metadata_path(keras_path)
    if not meta_file.exists():
        raise ModelLoadError(f"Model {keras_path.name} has no metadata file ({meta_file.name}); "
                             "it was not made by XRay Viewer and cannot be trusted.")
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"The metadata of model {keras_path.name} is damaged ({exc}).") from None
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise ModelLoadError(f"The metadata of model {keras_path.name} lacks {', '.join(missing)}.")
    if meta["format"] != METADATA_FORMAT:
        raise ModelLoadError(f"Model {keras_path.name} uses metadata format {meta['format']}; "
                             f"this XRay Viewer reads format {METADATA_FORMAT}.")
    if meta["preprocessing"] != PREPROCESSING_ID:
        raise ModelLoadError(
            f"Model {keras_path.name} expects preprocessing '{meta['preprocessing']}', but this "
            f"XRay Viewer prepares images as '{PREPROCESSING_ID}'. Its probabilities would be wrong.")
    if tuple(meta["input_shape"]) != tuple(INPUT_SHAPE):
        raise ModelLoadError(f"Model {keras_path.name} expects input {meta['input_shape']}, "
                             f"not {list(INPUT_SHAPE)}.")
    if verify_checksum and sha256_of(keras_path) != meta["sha256"]:
        raise ModelLoadError(f"Model file {keras_path.name} does not match its metadata "
                             "(damaged or replaced). Restore it or retrain.")
    return ModelInfo(keras_path=keras_path, meta=meta)


def bundled_model_path() -> Path:
    return bundled_models_dir() / f"{BUNDLED_MODEL_NAME}.keras"


def resolve_model(spec=None) -> Path:
    """What ``--model`` names: None for the bundled model, a bundle's path (.keras or .json),
    or the name of a model in the per-user models folder (then the bundled folder). Raises
    ModelLoadError when it is none of these."""
    if spec is None or str(spec) == "":
        return bundled_model_path()
    path = Path(spec).expanduser()
    if path.exists() or path.suffix in (".keras", ".json") or os.sep in str(spec) or (os.altsep or os.sep) in str(spec):
        return path
    for folder in (user_models_dir(), bundled_models_dir()):
        candidate = folder / f"{spec}.keras"
        if candidate.exists():
            return candidate
    raise ModelLoadError(f"No model named {spec}: it is not a file, and {user_models_dir()} holds no {spec}.keras.")


def list_models() -> list[ModelInfo]:
    """The bundled model first, then the user's models (newest first); broken ones skipped."""
    found: list[ModelInfo] = []
    for folder in (bundled_models_dir(), user_models_dir()):
        if not folder.is_dir():
            continue
        infos = []
        for p in folder.glob("*.keras"):
            try:
                infos.append(read_model_info(p, verify_checksum=False))
            except ModelLoadError:
                continue
        infos.sort(key=lambda i: str(i.meta.get("created", "")), reverse=folder != bundled_models_dir())
        found.extend(infos)
    return found


def save_bundle(model, meta: dict, out_dir, name: str, ood: Optional[OODStats] = None,
                overwrite: bool = False, weights_from=None) -> Path:
    """Write ``model`` + ``meta`` as ``out_dir/name.keras`` (+ .json, .ood.npz, .tflite), atomically.

    ``weights_from``: an existing ``.keras`` file whose bytes are copied instead of saving
    ``model`` again (a re-save changes the archive's bytes, so a bundle that keeps another's
    weights, such as a site calibration, would not keep its SHA-256).

    The ``.tflite`` (LiteRT) is converted here, with TensorFlow, and checked against Keras
    before anything is moved (``convert.bundle_litert_parts``); a network that cannot be
    converted is saved without one and scored by Keras.

    Everything is written to a temporary folder beside the target first; only a complete,
    checksummed set is moved into place (``os.replace``, atomic on one filesystem), metadata
    last so that a reader never sees new metadata beside old weights. If anything fails the
    temporary folder is removed and existing files are untouched.
    """
    out_dir = Path(out_dir)
    target = out_dir / f"{name}.keras"
    if target.exists() and not overwrite:
        raise ModelSaveError(f"A model named {name} already exists in {out_dir}.")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-saving-", dir=out_dir))
    except OSError as exc:
        raise ModelSaveError(_save_message(exc, out_dir)) from None
    try:
        tmp_keras = tmp / f"{name}.keras"
        if weights_from is not None:
            shutil.copyfile(weights_from, tmp_keras)
        else:
            model.save(tmp_keras)
        meta = dict(meta, format=METADATA_FORMAT, name=name, sha256=sha256_of(tmp_keras),
                    preprocessing=PREPROCESSING_ID, input_shape=list(INPUT_SHAPE))
        meta.pop("litert", None)  # a recalibrated copy's metadata must not name the old file
        meta.pop("gradcam", None)
        from .convert import bundle_litert_parts

        conversion, extra = bundle_litert_parts(model)
        meta.update(extra)
        tmp_litert = litert_path(tmp_keras)
        if conversion is not None:
            tmp_litert.write_bytes(conversion.model_bytes)
            meta["litert"] = litert_meta(litert_path(target).name, sha256_of(tmp_litert), conversion)
        if ood is not None:
            ood.save(ood_path(tmp_keras))
            meta["ood"] = dict(meta.get("ood", {}), threshold=ood.threshold, file=ood_path(target).name)
        meta_tmp = metadata_path(tmp_keras)
        meta_tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        for f in (tmp_keras, ood_path(tmp_keras), tmp_litert, meta_tmp):
            if f.exists():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        # (new file or None to remove, target): weights, OOD statistics, LiteRT model (a stale
        # one from an overwritten model goes too), metadata last.
        moves = [(tmp_keras, target),
                 (ood_path(tmp_keras) if ood is not None else None, ood_path(target)),
                 (tmp_litert if conversion is not None else None, litert_path(target)),
                 (meta_tmp, metadata_path(target))]
        _swap_in(moves, tmp)
    except OSError as exc:
        raise ModelSaveError(_save_message(exc, out_dir)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _swap_in(moves, backup_dir: Path) -> None:
    """Move each new file onto its target; if any move fails, put every replaced file back.

    Each file about to be replaced is first linked (or copied) into ``backup_dir``, so that a
    failure half-way (new weights already in place, metadata not yet) can restore the old
    bundle instead of leaving new weights beside old metadata.
    """
    done: list[tuple[Path, Optional[Path]]] = []  # (target, backup of the file it replaced)
    try:
        for new, dst in moves:
            if new is None and not dst.exists():
                continue
            backup = None
            if dst.exists():
                backup = backup_dir / f"previous-{dst.name}"
                try:
                    os.link(dst, backup)
                except OSError:
                    shutil.copy2(dst, backup)
            done.append((dst, backup))
            if new is None:
                os.remove(dst)
            else:
                os.replace(new, dst)
    except OSError:
        for dst, backup in reversed(done):
            try:
                if backup is not None:
                    os.replace(backup, dst)
                elif dst.exists():
                    os.remove(dst)
            except OSError:
                pass  # best effort; the original error is what the user must hear about
        raise


def _save_message(exc: OSError, folder: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"The disk holding {folder} is full; the model was not saved and nothing was changed."
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"XRay Viewer may not write to {folder}; the model was not saved."
    return f"The model could not be saved to {folder}: {exc.strerror or exc}."
