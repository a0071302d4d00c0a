"""fit(): train a recipe on a dataset folder and save a calibrated model bundle, atomically.

A plain function (Orange3 style): progress goes to ``on_progress``, cancellation comes from
``should_cancel``, so the CLI, the GUI's training panel and the tests all call the same code.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np

from .. import __version__
from ..defaults import OOD_FLAG_RATE, SENSITIVITY_TARGET, VAL_FRACTION
from ..progress import Cancelled, CancelCheck, Progress, ProgressCallback, check_cancel, no_progress
from .averaging import RecentWeights, mean_weights
from .cache import build_cache
from .cycles import cycle_ends, cycle_plan, cyclic_rate
from .calibrate import calibrate_and_describe, reference_sample
from .dataset import DatasetScan, scan_dataset
from .recipes import epoch_plan, get_recipe
from .results import FitResult
from .split import prepare_split


@dataclass
class TrainConfig:
    dataset_dir: str
    out_dir: str
    recipe: str = "default"  # a name in training.recipes.RECIPES, or "default" for the shipped one
    epochs: Optional[int] = None  # None: the recipe's
    seed: int = 0
    val_fraction: float = VAL_FRACTION
    name: Optional[str] = None  # None: "<recipe>-<UTC timestamp>"
    max_images: Optional[int] = None  # subsample (tests, quick looks); None: all
    # The threshold is the highest with at least this validation sensitivity
    # (xrayviewer.defaults says why 0.98).
    sensitivity_target: float = SENSITIVITY_TARGET
    ood_flag_rate: float = OOD_FLAG_RATE
    cache_dir: Optional[str] = None
    overwrite: bool = False
    command: str = ""  # recorded in the metadata; defaults to this process's command line
    distribute: str = "none"  # "none", "mirrored" or "multiworker" (training.distribute)
    per_replica_batch: Optional[int] = None  # distributed runs: images per replica and step (None: the recipe's)
    # A labelled folder scored (never trained on) after every epoch: its AUC goes into the
    # history as ``monitor_auc``. For recipe experiments on an external set (issue 14); it
    # changes nothing about which weights are kept.
    monitor_dir: Optional[str] = None
    # Save every epoch's weights beside the bundle (<name>.epochs.npz), so checkpoint choice,
    # weight averaging and snapshot ensembles can be compared after one run.
    keep_snapshots: bool = False


class _Bridge:
    """Keras callback adapter: batch/epoch progress out, cancellation in, best weights kept."""

    def __init__(self, keras, on_progress, should_cancel, epochs, steps, patience, monitor=None,
                 keep_snapshots=False, average_last=0, cycles=(), peak_rate=0.0, restart_peak=0.5):
        outer = self

        class Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                outer.epoch = epoch
                outer.epoch_start = time.perf_counter()

            def on_train_batch_begin(self, batch, logs=None):
                if cycles:  # a plain float rate, set per step: a saved bundle needs no custom schedule class
                    self.model.optimizer.learning_rate = cyclic_rate(outer.epoch * steps + batch, steps, cycles,
                                                                     peak_rate, restart_peak)

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
                # The rate of the epoch's last step: shows the schedule (cosine or cycles) in the record.
                logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
                if monitor is not None:
                    logs["monitor_auc"] = monitor(self.model)
                if keep_snapshots or outer.recent is not None:
                    weights = self.model.get_weights()
                    if keep_snapshots:
                        outer.snapshots.append(weights)
                    if outer.recent is not None:
                        outer.recent.add(epoch + 1, weights)
                if epoch + 1 in outer.cycle_ends:
                    outer.cycle_weights.append((epoch + 1, self.model.get_weights()))
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
        self.snapshots: list = []
        self.recent = RecentWeights(average_last) if average_last else None
        # A cyclic schedule keeps the mean of its cycle ends; one cycle alone is its last epoch.
        self.cycle_ends = set(cycle_ends(cycles)) if len(cycles) > 1 else set()
        self.cycle_weights: list = []
        self.best_auc, self.best_epoch, self.best_weights = -1.0, 0, None
        self.epoch, self.epoch_start = 0, time.perf_counter()


def _training_metrics(keras, blended_labels: bool) -> list:
    """Training accuracy and AUC. Mixup trains on blended labels (0.7 pneumonia); scored as
    they are, accuracy would read ~0.5 however well the network learns, so those recipes score
    each blend against its dominant label."""
    if not blended_labels:
        return [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")]

    class DominantLabel:
        def update_state(self, y_true, y_pred, sample_weight=None):
            return super().update_state(keras.ops.round(y_true), y_pred, sample_weight)

    class Accuracy(DominantLabel, keras.metrics.BinaryAccuracy):
        pass

    class AUC(DominantLabel, keras.metrics.AUC):
        pass

    return [Accuracy(name="accuracy"), AUC(name="auc")]


def _monitor(folder, cache_dir, on_progress, should_cancel):
    """AUC of a model on a labelled folder (cached like the training inputs), for the epoch log."""
    from ..imaging import to_model_input
    from ..model.metrics import roc_auc

    scan = scan_dataset(folder, on_progress=on_progress, should_cancel=should_cancel)
    cache, ok, _bad = build_cache(scan.samples, cache_dir, on_progress, should_cancel)
    grey = cache.read(np.asarray(ok))
    y = np.array([scan.samples[i].label for i in ok])

    def auc(model) -> float:
        # predict_on_batch runs a traced graph: calling the model eagerly took a quarter more
        # CPU (2.1 against 1.6 s on 299 films, slim network, 2026-12-08), inside the fitting
        # time. It only scores: no weight depends on it.
        p = np.concatenate([np.asarray(model.predict_on_batch(to_model_input(grey[s:s + 128]))).reshape(-1)
                            for s in range(0, len(grey), 128)])
        return round(roc_auc(y, p), 5)
    return auc


def _save_snapshots(snapshots, path: Path) -> None:
    """Every epoch's weights as one .npz (epoch k's i-th weight array is ``e{k}_{i}``), atomically."""
    arrays = {f"e{k}_{i}": w for k, weights in enumerate(snapshots, start=1) for i, w in enumerate(weights)}
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def fit(config: TrainConfig, on_progress: ProgressCallback = no_progress,
        should_cancel: Optional[CancelCheck] = None, scan: Optional[DatasetScan] = None) -> FitResult:
    """Train, calibrate, choose the threshold, fit OOD statistics, save. Raises Cancelled on
    cancel (nothing written), DatasetError for a bad folder, ModelSaveError if saving fails."""
    from ..model.architectures import build_model, with_last_conv_output
    from ..model.bundle import save_bundle
    from ..model.runtime import import_keras, versions
    from .fast_step import fast_training_step
    from .sequence import CachedBatches, class_weights_for, training_batches

    t0 = time.perf_counter()
    recipe = get_recipe(config.recipe)
    epochs, schedule_epochs = epoch_plan(recipe, config.epochs)
    cycles = cycle_plan(recipe.cycles, epochs) if recipe.cycles else ()
    cluster = None
    if config.distribute not in ("", "none"):
        from .distribute import join_cluster

        cluster = join_cluster(config.distribute)  # tf.distribute wants this before other TF work
        if not cluster.role.is_chief:
            on_progress = no_progress  # only the chief reports
    chief = cluster is None or cluster.role.is_chief
    if chief and config.name and not config.overwrite and (Path(config.out_dir) / f"{config.name}.keras").exists():
        # Say so now, not after an hour of training (save_bundle would refuse it then).
        from ..model.bundle import ModelSaveError

        raise ModelSaveError(f"A model named {config.name} already exists in {config.out_dir}; "
                             "choose another name or allow overwriting.")
    if scan is None:
        scan = scan_dataset(config.dataset_dir, on_progress=on_progress, should_cancel=should_cancel)
    if cluster is None:
        prepared = prepare_split(scan, config.max_images, config.val_fraction, config.seed, config.cache_dir,
                                 on_progress, should_cancel)
        split_train, split_val = prepared.train, prepared.val
    else:
        from .distribute import prepare_worker_inputs

        inputs = prepare_worker_inputs(scan, config, cluster, on_progress, should_cancel)
        prepared, split_train, split_val = inputs.prepared, inputs.split_train, inputs.split_val
    samples, cache, bad, train, val = prepared.samples, prepared.cache, prepared.bad, prepared.train, prepared.val
    if (not split_train or not split_val or len({s.label for s in split_val}) < 2
            or len({s.label for s in split_train}) < 2):
        from .dataset import DatasetError

        raise DatasetError("Too few images or patients to keep both classes in training and in a "
                           "held-out validation set: add images of more patients.")
    train_idx, val_idx = prepared.train_idx, prepared.val_idx
    y_train = np.array([s.label for s in train], dtype=np.float32)
    y_val = np.array([s.label for s in val], dtype=np.float32)

    keras = import_keras()
    keras.utils.set_random_seed(config.seed)
    check_cancel(should_cancel)
    plan = None
    with cluster.scope() if cluster else contextlib.nullcontext():
        model = build_model(recipe.network)
        if cluster is None:
            steps, learning_rate = int(np.ceil(len(train) / recipe.batch_size)), recipe.learning_rate
        else:
            from .distribute import plan_batches

            plan = plan_batches(recipe, cluster, inputs, config.per_replica_batch)
            steps, learning_rate = plan.steps, plan.learning_rate
        lr = (keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, steps * schedule_epochs))
              if recipe.cosine_decay and not cycles else learning_rate)
        model.compile(optimizer=keras.optimizers.Adam(lr, beta_1=0.9, beta_2=0.999),
                      loss=keras.losses.BinaryCrossentropy(label_smoothing=recipe.label_smoothing),
                      metrics=_training_metrics(keras, blended_labels=bool(recipe.mixup_alpha)))
    class_weight = None
    if recipe.class_weights and not recipe.mixup_alpha and cluster is None:  # mixup batches carry their own weights
        w0, w1 = class_weights_for(y_train)
        class_weight = {0: w0, 1: w1}
    fit_kwargs = {}
    if cluster is None:
        train_seq = training_batches(recipe, cache, train_idx, y_train, seed=config.seed)
        val_seq = CachedBatches(cache, val_idx, y_val, 64, shuffle=False)
        stop_vote, extra_callbacks = should_cancel, []
    else:  # the same batches, this worker's shard, class weights inside (training.distribute)
        from .distribute import distributed_datasets, prepare_model_for_fit

        train_seq, val_seq = distributed_datasets(cluster, recipe, inputs, plan, config.seed)
        fit_kwargs = {"steps_per_epoch": plan.steps, "validation_steps": plan.val_steps, "shuffle": False}
        prepare_model_for_fit(cluster, model)
        extra_callbacks = cluster.keras_callbacks(keras, model)

        def stop_vote():  # every worker stops on the same batch when any was asked to
            return cluster.any_worker(bool(should_cancel and should_cancel()))
    monitor = (_monitor(config.monitor_dir, config.cache_dir, on_progress, should_cancel)
               if config.monitor_dir else None)
    bridge = _Bridge(keras, on_progress, stop_vote, epochs, steps, recipe.patience, monitor=monitor,
                     keep_snapshots=config.keep_snapshots, average_last=recipe.average_last,
                     cycles=cycles, peak_rate=learning_rate, restart_peak=recipe.restart_peak)
    trained = False
    try:
        with fast_training_step(model, enabled=recipe.fast_step):
            model.fit(train_seq, validation_data=val_seq, epochs=epochs, class_weight=class_weight,
                      callbacks=[*extra_callbacks, bridge.callback], verbose=0, **fit_kwargs)
        trained = True
        train_seconds = time.perf_counter() - t0
        if len(bridge.cycle_weights) > 1:
            model.set_weights(mean_weights([w for _, w in bridge.cycle_weights]))
            kept = {"rule": "cycle-end-mean", "epochs": [e for e, _ in bridge.cycle_weights]}
        elif bridge.recent is not None and len(bridge.recent):
            weights, span = bridge.recent.mean()
            model.set_weights(weights)
            kept = {"rule": "weight-mean", "epochs": list(span)}
        else:
            if bridge.best_weights is not None:
                model.set_weights(bridge.best_weights)
            kept = {"rule": "best-validation-auc", "epochs": [bridge.best_epoch, bridge.best_epoch]}
        if cluster is not None:
            from .distribute import finish_worker

            result = finish_worker(cluster, model, bridge.history)
            if not chief:
                return result

        dual = with_last_conv_output(model)
        fields, ood = calibrate_and_describe(dual, prepared, recipe.shifts_prior, config.sensitivity_target,
                                             config.ood_flag_rate, on_progress=on_progress,
                                             should_cancel=should_cancel)
        on_progress(Progress("evaluate", 2, 3, "Saving"))

        cal = fields["calibration"]
        reference = reference_sample(dual, cal["temperature"], cal["shift"])
        name = config.name or f"{recipe.name}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
        meta = {
            "recipe": recipe.name,  # "default" resolved: the name keeps its meaning
            "recipe_description": recipe.description,
            **fields,
            "split": {"method": "patient-level stratified", "val_fraction": config.val_fraction,
                      "seed": config.seed, "train_images": len(train), "val_images": len(val),
                      "train_patients": len({s.patient for s in train}),
                      "val_patients": len({s.patient for s in val})},
            "training": {"epochs_run": len(bridge.history), "epochs_max": epochs, "schedule_epochs": schedule_epochs,
                         "best_epoch": bridge.best_epoch, "kept": kept, "batch_size": recipe.batch_size,
                         "seconds": round(train_seconds, 1), "params": int(model.count_params()),
                         "history": bridge.history, "seed": config.seed,
                         **({"distribute": cluster.describe(plan)} if cluster else {})},
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
        if bridge.snapshots:
            _save_snapshots(bridge.snapshots, path.with_name(f"{name}.epochs.npz"))
        if cluster is not None:
            cluster.succeeded()  # the waiting workers exit 0 only now
        on_progress(Progress("evaluate", 3, 3, "Done"))
        return FitResult(path, meta, bridge.history, result.weights_sha256 if cluster else "")
    except BaseException as exc:
        if cluster is not None:
            cluster.after_failure(exc, trained)  # tell waiting workers; TF's cluster errors in one line
        raise
    finally:
        # Free the graph and weights now: training twice in one GUI session must not grow.
        del model, train_seq, val_seq
        gc.collect()


__all__ = ["TrainConfig", "FitResult", "fit", "Cancelled"]
