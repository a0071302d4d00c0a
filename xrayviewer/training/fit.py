"""fit(): train a recipe on a dataset folder and save a calibrated model bundle, atomically.

A plain function (Orange3 style): progress goes to ``on_progress``, cancellation comes from
``should_cancel``, so the CLI, the GUI's training panel and the tests all call the same code.
"""

from __future__ import annotations

import gc
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np

from .. import __version__
from ..imaging import load_image, preprocess
from ..model.calibration import apply_temperature, fit_temperature
from ..model.metrics import binary_report, operating_point_table, threshold_for_sensitivity
from ..model.ood import OODStats
from ..paths import samples_dir, user_cache_dir
from ..progress import Cancelled, CancelCheck, Progress, ProgressCallback, check_cancel, no_progress
from .cache import build_cache
from .dataset import DatasetScan, scan_dataset
from .recipes import get_recipe
from .split import patient_split


@dataclass
class TrainConfig:
    dataset_dir: str
    out_dir: str
    recipe: str = "default"
    epochs: Optional[int] = None  # None: the recipe's
    seed: int = 0
    val_fraction: float = 0.15
    name: Optional[str] = None  # None: "<recipe>-<UTC timestamp>"
    max_images: Optional[int] = None  # subsample (tests, quick looks); None: all
    sensitivity_target: float = 0.95  # the threshold is chosen for this validation sensitivity
    ood_flag_rate: float = 0.05
    cache_dir: Optional[str] = None
    overwrite: bool = False
    command: str = ""  # recorded in the metadata; defaults to this process's command line


@dataclass
class FitResult:
    model_path: Path
    metadata: dict
    history: list[dict] = field(default_factory=list)


class _Bridge:
    """Keras callback adapter: batch/epoch progress out, cancellation in, best weights kept."""

    def __init__(self, keras, on_progress, should_cancel, epochs, steps, patience):
        outer = self

        class Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                outer.epoch = epoch
                outer.epoch_start = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                logs = logs or {}
                on_progress(Progress("batch", batch + 1, steps, f"Epoch {outer.epoch + 1}/{epochs}",
                                     {"epoch": outer.epoch + 1, "epochs": epochs,
                                      "loss": float(logs.get("loss", np.nan)),
                                      "accuracy": float(logs.get("accuracy", np.nan))}))
                # Raising here stops within this batch; Keras would otherwise run a full
                # validation pass before honouring stop_training.
                check_cancel(should_cancel)

            def on_epoch_end(self, epoch, logs=None):
                logs = {k: float(v) for k, v in (logs or {}).items()}
                logs["epoch"] = epoch + 1
                logs["seconds"] = time.perf_counter() - outer.epoch_start
                outer.history.append(logs)
                auc = logs.get("val_auc", -1.0)
                if auc > outer.best_auc:
                    outer.best_auc, outer.best_epoch = auc, epoch + 1
                    outer.best_weights = self.model.get_weights()
                elif patience and epoch + 1 - outer.best_epoch >= patience:
                    self.model.stop_training = True
                on_progress(Progress("epoch", epoch + 1, epochs, f"Epoch {epoch + 1}/{epochs}", dict(logs)))

        self.callback = Callback()
        self.history: list[dict] = []
        self.best_auc, self.best_epoch, self.best_weights = -1.0, 0, None
        self.epoch, self.epoch_start = 0, time.perf_counter()


def _predict_cached(model_dual, cache, indices, batch_size=64):
    """Raw probabilities and pooled features for cached inputs (no augmentation)."""
    from ..imaging import to_model_input

    probs, feats = [], []
    for start in range(0, len(indices), batch_size):
        x = to_model_input(cache.read(indices[start:start + batch_size]))
        p, conv = model_dual(x, training=False)
        probs.append(np.asarray(p).reshape(-1))
        feats.append(np.asarray(conv).mean(axis=(1, 2)))
    return np.concatenate(probs), np.concatenate(feats)


def _subsample(samples, max_images, seed):
    if not max_images or len(samples) <= max_images:
        return samples
    rng = np.random.default_rng(seed)
    by_label = {0: [s for s in samples if s.label == 0], 1: [s for s in samples if s.label == 1]}
    out = []
    for label, items in by_label.items():
        k = max(2, int(round(max_images * len(items) / len(samples))))
        out += [items[i] for i in sorted(rng.choice(len(items), min(k, len(items)), replace=False))]
    return out


def fit(config: TrainConfig, on_progress: ProgressCallback = no_progress,
        should_cancel: Optional[CancelCheck] = None, scan: Optional[DatasetScan] = None) -> FitResult:
    """Train, calibrate, choose the threshold, fit OOD statistics, save. Raises Cancelled on
    cancel (nothing written), DatasetError for a bad folder, ModelSaveError if saving fails."""
    from ..model.architectures import GRADCAM_LAYER, build_model
    from ..model.bundle import save_bundle
    from ..model.runtime import import_keras, versions
    from .sequence import CachedBatches

    t0 = time.perf_counter()
    recipe = get_recipe(config.recipe)
    epochs = config.epochs or recipe.epochs
    if scan is None:
        scan = scan_dataset(config.dataset_dir, on_progress=on_progress, should_cancel=should_cancel)
    samples = _subsample(scan.samples, config.max_images, config.seed)
    cache, ok, bad = build_cache(samples, config.cache_dir or user_cache_dir() / "inputs",
                                 on_progress, should_cancel)
    usable = [samples[i] for i in ok]
    index_of = {id(s): i for i, s in enumerate(samples)}
    train, val = patient_split(usable, config.val_fraction, config.seed)
    if not train or not val or len({s.label for s in val}) < 2:
        from .dataset import DatasetError

        raise DatasetError("Too few images or patients to hold out a validation set with both classes.")
    train_idx = [index_of[id(s)] for s in train]
    val_idx = [index_of[id(s)] for s in val]
    y_train = np.array([s.label for s in train], dtype=np.float32)
    y_val = np.array([s.label for s in val], dtype=np.float32)

    keras = import_keras()
    keras.utils.set_random_seed(config.seed)
    check_cancel(should_cancel)
    model = build_model(config.recipe)
    steps = int(np.ceil(len(train) / recipe.batch_size))
    lr = (keras.optimizers.schedules.CosineDecay(recipe.learning_rate, decay_steps=max(1, steps * epochs))
          if recipe.cosine_decay else recipe.learning_rate)
    model.compile(optimizer=keras.optimizers.Adam(lr, beta_1=0.9, beta_2=0.999),
                  loss="binary_crossentropy",
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")])
    class_weight = None
    if recipe.class_weights:
        n, pos = len(y_train), float(y_train.sum())
        class_weight = {0: n / (2 * (n - pos)), 1: n / (2 * pos)}
    bridge = _Bridge(keras, on_progress, should_cancel, epochs, steps, recipe.patience)
    train_seq = CachedBatches(cache, train_idx, y_train, recipe.batch_size, shuffle=True, seed=config.seed)
    val_seq = CachedBatches(cache, val_idx, y_val, 64, shuffle=False)
    try:
        model.fit(train_seq, validation_data=val_seq, epochs=epochs, class_weight=class_weight,
                  callbacks=[bridge.callback], verbose=0)
        train_seconds = time.perf_counter() - t0
        if bridge.best_weights is not None:
            model.set_weights(bridge.best_weights)

        on_progress(Progress("evaluate", 0, 3, "Calibrating on validation"))
        dual = keras.Model(model.input, [model.output, model.get_layer(GRADCAM_LAYER).output])
        raw_val, feat_val = _predict_cached(dual, cache, val_idx)
        check_cancel(should_cancel)
        temperature = fit_temperature(y_val, raw_val)
        cal_val = apply_temperature(raw_val, temperature)
        threshold = threshold_for_sensitivity(y_val, cal_val, config.sensitivity_target)
        report = binary_report(y_val, cal_val, threshold)
        report_raw = binary_report(y_val, raw_val, 0.5)
        on_progress(Progress("evaluate", 1, 3, "Fitting out-of-distribution statistics"))
        _, feat_train = _predict_cached(dual, cache, train_idx)
        check_cancel(should_cancel)
        ood = OODStats.fit(feat_train)
        ood.set_threshold(feat_val, config.ood_flag_rate)
        on_progress(Progress("evaluate", 2, 3, "Saving"))

        reference = _reference_sample(dual, temperature)
        name = config.name or f"{config.recipe}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
        meta = {
            "recipe": config.recipe,
            "recipe_description": recipe.description,
            "threshold": round(float(threshold), 6),
            "threshold_rule": f"highest threshold with validation sensitivity >= {config.sensitivity_target}",
            "calibration": {"method": "temperature", "temperature": temperature,
                            "validation_ece_before": report_raw.ece, "validation_ece_after": report.ece},
            "validation": report.as_dict(),
            "validation_uncalibrated_at_0.5": report_raw.as_dict(),
            "operating_points": operating_point_table(y_val, cal_val),
            "ood": {"method": "mahalanobis-last-conv-gap", "flag_rate_on_validation": config.ood_flag_rate},
            "split": {"method": "patient-level stratified", "val_fraction": config.val_fraction,
                      "seed": config.seed, "train_images": len(train), "val_images": len(val),
                      "train_patients": len({s.patient for s in train}),
                      "val_patients": len({s.patient for s in val})},
            "training": {"epochs_run": len(bridge.history), "epochs_max": epochs,
                         "best_epoch": bridge.best_epoch, "batch_size": recipe.batch_size,
                         "seconds": round(train_seconds, 1), "params": int(model.count_params()),
                         "history": bridge.history, "seed": config.seed},
            "data": dict(scan.fingerprint(), root=str(scan.root), used_files=len(samples),
                         unreadable=len(scan.unreadable) + len(bad)),
            "reference_sample": reference,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "app_version": __version__,
            "versions": versions(),
            "command": config.command or " ".join(shlex.quote(a) for a in sys.argv),
            "config": asdict(config),
        }
        path = save_bundle(model, meta, config.out_dir, name, ood=ood, overwrite=config.overwrite)
        on_progress(Progress("evaluate", 3, 3, "Done"))
        return FitResult(path, meta, bridge.history)
    finally:
        # Free the graph and weights now: training twice in one GUI session must not grow.
        del model, train_seq, val_seq
        gc.collect()


def _reference_sample(dual, temperature) -> Optional[dict]:
    """The probability of the first bundled sample image: the self-test checks it."""
    folder = samples_dir()
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpeg", ".jpg", ".png", ".dcm"))
    if not files:
        return None
    prob, _ = dual(preprocess(load_image(files[0]))[None], training=False)
    return {"file": files[0].name, "probability": float(apply_temperature(np.asarray(prob).reshape(-1), temperature)[0])}


__all__ = ["TrainConfig", "FitResult", "fit", "Cancelled"]
