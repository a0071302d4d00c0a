"""``train --distribute``: the same fit() on several GPUs or machines through tf.distribute.

* ``mirrored``: ``tf.distribute.MirroredStrategy``, every GPU of this machine (on a machine
  without one, a single CPU replica: the run is today's, through the distributed code).
* ``multiworker``: ``tf.distribute.MultiWorkerMirroredStrategy`` configured by ``TF_CONFIG``
  (README, "Train on several machines"). Every worker runs the same command.

What is shared with a single-machine run: recipe, subsample, patient split, input cache,
augmentation, class weights, callbacks, calibration and the bundle writer. What differs:

* Batches. Each replica takes ``per_replica_batch`` images (default: the recipe's batch size),
  so one step trains on ``per_replica_batch x replicas`` (the global batch), the learning rate
  follows ``recipes.scaled_learning_rate`` and an epoch is ``ceil(training images / global
  batch)`` steps on every worker.
* Input. Worker K of N trains on every N-th training file by sorted path (``sharding.round_robin``)
  and caches only those and the validation files (the chief caches every file, because it
  calibrates on them). An epoch tops a short shard up from its own start, so every worker
  takes the same number of steps. Every worker validates on the whole validation set (its
  figures are summed over the workers, which leaves AUC and mean loss unchanged); replicas of
  one machine share it, padded with zero-weight rows.
* Writing. Only the chief (worker 0) reports progress, calibrates and saves the bundle. The
  others keep nothing but their input cache, wait for the chief's outcome and exit with it.
* Stopping. After every batch the workers agree whether anyone asked to stop (Ctrl-C), so all
  stop on the same batch and nothing is written. A worker that dies is noticed by the
  coordination service's heartbeats within about 10-20 s; a peer that hangs fails the next
  collective after COLLECTIVE_TIMEOUT_S. Either way the others stop with ClusterError.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..progress import Cancelled
from ..sharding import round_robin
from .cache import build_cache
from .results import FitResult, PreparedSplit
from .split import patient_split, stratified_subsample

STRATEGIES = ("none", "mirrored", "multiworker")
#: A training collective (gradient all-reduce, the per-batch stop vote) that waits longer than
#: this for a peer fails, so a hung worker stops the others well within a minute.
COLLECTIVE_TIMEOUT_S = 40
#: Every worker must start within this long of the first (Slurm starts them together; by hand,
#: start them within a few minutes).
REGISTER_TIMEOUT_S = 600
#: Waits that legitimately last long (the chief caching every file, then calibrating and
#: saving while the others wait): no collective timeout; the heartbeats still catch a death.
LONG_WAIT_S = 7 * 24 * 3600

OK, FAILED, CANCELLED = 0, 1, 2


class ClusterError(Exception):
    """The cluster is misconfigured or lost a worker; one line for people, nothing written."""


@dataclass(frozen=True)
class WorkerRole:
    """Where this process sits: worker ``index`` (0 is the chief) of ``count``."""

    strategy: str  # "mirrored" or "multiworker"
    index: int = 0
    count: int = 1
    task: str = "chief"  # words for messages, e.g. "worker 1"

    @property
    def is_chief(self) -> bool:
        return self.index == 0


def role_from_tf_config(text: Optional[str]) -> WorkerRole:
    """This worker's role from the TF_CONFIG JSON, as MultiWorkerMirroredStrategy reads it:
    the ``chief`` task (or ``worker`` 0 without one) is worker 0; ``worker`` i follows."""
    if not text:
        raise ClusterError("--distribute multiworker needs the TF_CONFIG environment variable (the cluster's "
                           "addresses and this worker's place in it); see 'Train on several machines' in README.md.")
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        kind, index = str(task["type"]), int(task["index"])
        chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ClusterError(f"TF_CONFIG is not valid: {exc.__class__.__name__} {exc}. It needs "
                           '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}.') from None
    others = sorted(set(cluster) - {"chief", "worker"})
    if others:
        raise ClusterError(f"TF_CONFIG names {', '.join(others)} tasks; MultiWorkerMirroredStrategy uses only "
                           "'chief' and 'worker'.")
    if len(chiefs) > 1:
        raise ClusterError("TF_CONFIG names more than one chief.")
    jobs = {"chief": chiefs, "worker": workers}
    if kind not in jobs or not 0 <= index < len(jobs[kind]):
        raise ClusterError(f"TF_CONFIG's task {kind} {index} is not in its cluster.")
    position = index if kind == "chief" else index + len(chiefs)
    return WorkerRole("multiworker", position, len(chiefs) + len(workers), f"{kind} {index}")


def _configure_coordination(tf) -> None:
    """The coordination service MultiWorkerMirroredStrategy would configure, plus a bounded
    wait for every worker to join (its default waits for a missing worker indefinitely)."""
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    try:
        from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    except ImportError:  # older layouts: keep TensorFlow's own defaults
        return
    spec = tf.distribute.cluster_resolver.TFConfigClusterResolver().cluster_spec()
    jobs = [coordination_config_pb2.CoordinatedJob(name=j, num_tasks=spec.num_tasks(j))
            for j in ("chief", "worker") if j in spec.jobs]
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=multi_worker_util.coordination_leader(spec),
        coordinated_jobs=jobs, cluster_register_timeout_in_ms=REGISTER_TIMEOUT_S * 1000)
    # Without the barrier the timeout above is not enforced: the chief waited for a worker
    # that never started for as long as it was left (measured: killed after 4 minutes).
    context.context().coordination_service.cluster_register_with_barrier = True


class Cluster:
    """This worker's strategy and the few collective decisions fit() needs."""

    def __init__(self, role: WorkerRole, strategy, tf):
        self.role = role
        self.strategy = strategy
        self._tf = tf

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)

    @property
    def local_replicas(self) -> int:
        return max(1, self.replicas // self.role.count)

    def scope(self):
        return self.strategy.scope()

    def _mean(self, values, timeout_s) -> np.ndarray:
        """Mean of ``values`` over every replica of every worker (each worker passes its own)."""
        tf = self._tf
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout_s)

        def replica_mean(x):
            return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.MEAN, x, options=options)

        # Eagerly: inside a tf.function this all-reduce fails in TF 2.21 ("destinations can not be empty").
        with self._quiet():
            out = self.strategy.run(replica_mean, args=(tf.constant(np.asarray(values, np.float32)),))
        return np.asarray(self.strategy.experimental_local_results(out)[0])

    @contextlib.contextmanager
    def _quiet(self):
        """Without TensorFlow's warning, on every eager collective, that eager collectives are slow
        (these carry a few numbers a batch)."""
        logger = self._tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")
        try:
            yield
        finally:
            logger.setLevel(level)

    def sync_statistics(self, model) -> None:
        """Average the non-trainable weights (batch-normalisation moving statistics) over every
        replica. Keras 3 updates them on each replica from its own batches and never reconciles
        them, so without this the workers would validate, and the chief would save, statistics of
        its own shard only (the trainable weights are all-reduced every step and need nothing)."""
        variables = list(model.non_trainable_variables)
        if not variables or self.replicas == 1:
            return
        tf = self._tf
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=COLLECTIVE_TIMEOUT_S)

        def replica_mean():  # in replica context each variable reads as this replica's own copy
            flat = tf.concat([tf.reshape(tf.cast(v.value, tf.float32), [-1]) for v in variables], 0)
            return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.MEAN, flat, options=options)

        with self._quiet():
            mean = np.asarray(self.strategy.experimental_local_results(self.strategy.run(replica_mean))[0])
        offset = 0
        for v in variables:
            n = int(np.prod(v.shape))
            v.assign(mean[offset:offset + n].reshape(v.shape).astype(v.dtype))
            offset += n

    def keras_callbacks(self, keras, model) -> list:
        """Callbacks a distributed fit() adds: statistics averaged before every validation pass
        (so the epoch's figures, the best-epoch snapshot and the saved model all use them)."""
        cluster = self

        class SyncStatistics(keras.callbacks.Callback):
            def on_test_begin(self, logs=None):
                cluster.sync_statistics(model)

        return [SyncStatistics()]

    def any_worker(self, flag: bool, timeout_s: float = COLLECTIVE_TIMEOUT_S) -> bool:
        """True on every worker when ``flag`` is true on at least one."""
        if self.role.count == 1:
            return bool(flag)
        return bool(self._mean([1.0 if flag else 0.0], timeout_s)[0] > 0)

    def check_same_split(self, train_paths, val_paths, root) -> None:
        """Every worker must have split the same files alike (same archive, same options)."""
        if self.role.count == 1:
            return
        h = hashlib.sha256()
        for group in (train_paths, val_paths):
            for p in group:
                h.update(os.path.relpath(p, root).replace(os.sep, "/").encode() + b"\n")
            h.update(b"--\n")
        mine = np.frombuffer(h.digest()[:8], np.uint8).astype(np.float32)  # small ints: exact in float32
        mean = self._mean(mine, LONG_WAIT_S)
        if self.any_worker(not np.array_equal(mean, mine), LONG_WAIT_S):
            raise ClusterError("The workers do not see the same training files (different folders, file lists or "
                               "options such as --seed or --max-images); give every worker the same data and command.")

    def finish(self, status: int) -> int:
        """The chief's outcome (OK, FAILED, CANCELLED) on every worker: the others wait here while
        the chief calibrates and saves."""
        if self.role.count == 1:
            return status
        mine = status if self.role.is_chief else 0
        return int(round(float(self._mean([mine], LONG_WAIT_S)[0]) * self.role.count))

    def succeeded(self) -> None:
        """The chief saved the bundle: the waiting workers may exit 0."""
        self.finish(OK)

    def after_failure(self, exc: BaseException, trained: bool) -> None:
        """On the way out of fit() with ``exc``: once training is over the other workers wait
        for the chief's outcome, so the chief tells them; a TensorFlow cluster error becomes
        a one-line ClusterError."""
        if trained and self.role.is_chief:
            try:
                self.finish(CANCELLED if isinstance(exc, (Cancelled, KeyboardInterrupt)) else FAILED)
            except Exception:  # noqa: BLE001 - the chief's own error is the one to report
                pass
        if isinstance(exc, self._tf.errors.OpError):
            raise self.cluster_error(exc) from None

    def describe(self, plan: "BatchPlan") -> dict:
        """For the bundle's metadata["training"]["distribute"]."""
        return {"strategy": self.role.strategy, "workers": self.role.count, "replicas": self.replicas,
                "per_replica_batch": plan.per_replica_batch, "global_batch": plan.global_batch,
                "steps_per_epoch": plan.steps, "learning_rate": plan.learning_rate,
                "learning_rate_rule": plan.learning_rate_rule,
                "input": "worker K of N trains on every N-th training file by sorted path"}

    def cluster_error(self, exc) -> ClusterError:
        """A TensorFlow collective failure, in one line."""
        text = str(exc)
        me = (self.role.task.split()[0], int(self.role.task.split()[1]))
        peers = [(job, int(task)) for job, task in re.findall(r"/job:(\w+)(?:/replica:\d+)?/task:(\d+)", text)]
        others = [p for p in peers if p != me]
        who = f"{others[0][0]} {others[0][1]}" if others else "another worker"
        if "heartbeat" in text or "unhealthy" in text or "Unavailable" in type(exc).__name__ or "not available" in text:
            why = f"lost contact with {who} (it stopped or became unreachable)"
        elif "DeadlineExceeded" in type(exc).__name__ or "timed out" in text.lower() or "deadline" in text.lower():
            why = f"{who} did not answer within {COLLECTIVE_TIMEOUT_S} s"
        else:
            why = f"the cluster failed ({type(exc).__name__}: {text.splitlines()[0][:160] if text else ''})"
        return ClusterError(f"Training stopped on {self.role.task}: {why}. No model was written.")


def _import_tensorflow_with_gpus() -> None:
    """Keras and TensorFlow as ``model.runtime.import_keras`` loads them, but with the GPUs
    visible: that function hides them (CUDA_VISIBLE_DEVICES=-1) because the app scores on the
    CPU, while a distributed run is for the GPUs. Must run before anything imports Keras."""
    import sys

    from ..model.runtime import set_tensorflow_environment, startup_chatter_filtered

    if "keras" in sys.modules:
        return
    set_tensorflow_environment()  # as import_keras, but the GPUs stay visible
    with startup_chatter_filtered():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401


def join_cluster(strategy: str, environ=None) -> Cluster:
    """Create the strategy (the first TensorFlow work of the process, as tf.distribute needs)."""
    _import_tensorflow_with_gpus()
    import tensorflow as tf

    environ = os.environ if environ is None else environ
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=COLLECTIVE_TIMEOUT_S)
    if strategy == "mirrored":
        return Cluster(WorkerRole("mirrored"), tf.distribute.MirroredStrategy(), tf)
    if strategy != "multiworker":
        raise ValueError(f"--distribute must be one of {', '.join(STRATEGIES)}")
    role = role_from_tf_config(environ.get("TF_CONFIG"))
    _configure_coordination(tf)
    try:
        mwms = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except tf.errors.OpError as exc:
        text = str(exc)
        if "register" in text.lower():
            names = re.search(r"timed out task names:\s*((?:/job:\w+/replica:\d+/task:\d+[,\s]*)+)", text)
            missing = sorted({f"{job} {task}" for job, task in
                              re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", names.group(1) if names else "")})
            raise ClusterError(f"Not every worker joined within {REGISTER_TIMEOUT_S // 60} minutes"
                               f"{' (missing: ' + ', '.join(missing) + ')' if missing else ''}: start the same "
                               "command on every machine named in TF_CONFIG. No model was written.") from None
        raise ClusterError(f"Could not join the cluster as {role.task}: {text.splitlines()[0][:200]}") from None
    return Cluster(role, mwms, tf)


# --------------------------------------------------------------------------- input per worker

@dataclass
class WorkerInputs:
    """What one worker trains and validates on. ``prepared`` is the chief's full PreparedSplit
    (calibration needs every file); other workers have only their shard and the validation set."""

    prepared: object  # fit.PreparedSplit (chief: every file cached; others: shard + validation)
    split_train: list  # the whole split, as scanned (labels and paths only, no pixels)
    split_val: list
    shard_idx: list  # cache indices of this worker's decodable training files
    shard_labels: np.ndarray
    train_count: int  # training files of the whole split (same on every worker): steps per epoch
    val_count: int
    class_weights: tuple  # (normal, pneumonia) over the whole training split


def prepare_worker_inputs(scan, config, cluster: Cluster, on_progress, should_cancel) -> WorkerInputs:
    """Subsample and split as fit() does, but from the scan (the rule ``evaluate --split
    validation`` reproduces), so every worker knows the split before decoding anything; then
    cache what this worker reads. Files that do not decode are dropped after the split."""
    from .sequence import class_weights_for  # imports Keras

    samples = stratified_subsample(scan.samples, config.max_images, config.seed)
    train, val = patient_split(samples, config.val_fraction, config.seed)
    cluster.check_same_split([s.path for s in train], [s.path for s in val], scan.root)
    shard = round_robin(sorted(train, key=lambda s: s.path), cluster.role.index, cluster.role.count)
    # The chief caches the same list as a single-machine run (so the cache is shared with it).
    to_cache = samples if cluster.role.is_chief else sorted(shard + val, key=lambda s: s.path)
    cache, ok, bad = build_cache(to_cache, config.cache_dir, on_progress, should_cancel)
    cluster.any_worker(False, LONG_WAIT_S)  # wait for the slowest cache (the chief's: every file)
    index_of = {id(s): i for i, s in enumerate(to_cache)}
    usable = set(ok)

    def keep(items):
        return [s for s in items if id(s) in index_of and index_of[id(s)] in usable]

    train_ok = keep(train) if cluster.role.is_chief else []
    val_ok, shard_ok = keep(val), keep(shard)
    prepared = PreparedSplit(to_cache, cache, bad, train_ok, val_ok, [index_of[id(s)] for s in train_ok],
                             [index_of[id(s)] for s in val_ok])
    y_train = np.array([s.label for s in train], dtype=np.float32)
    both = len(set(y_train.tolist())) == 2
    return WorkerInputs(prepared, train, val, [index_of[id(s)] for s in shard_ok],
                        np.array([s.label for s in shard_ok], dtype=np.float32), len(train), len(val),
                        class_weights_for(y_train) if both else (1.0, 1.0))


# --------------------------------------------------------------------------- batches and datasets

@dataclass(frozen=True)
class BatchPlan:
    per_replica_batch: int
    global_batch: int
    steps: int  # per epoch, on every worker
    val_per_replica_batch: int
    val_steps: int
    learning_rate: float
    learning_rate_rule: str


def plan_batches(recipe, cluster: Cluster, inputs: WorkerInputs, per_replica_batch: Optional[int]) -> BatchPlan:
    from .recipes import scaled_learning_rate

    b = int(per_replica_batch or recipe.batch_size)
    global_batch = b * cluster.replicas
    lr, rule = scaled_learning_rate(recipe, global_batch)
    val_b = 64
    return BatchPlan(b, global_batch, max(1, math.ceil(inputs.train_count / global_batch)), val_b,
                     max(1, math.ceil(inputs.val_count / (val_b * cluster.local_replicas))), lr, rule)


def _training_stream(batches, per_epoch: int):
    """``per_epoch`` batches an epoch, forever (Keras counts the epochs by steps_per_epoch).
    A shard with fewer batches goes round again from its start, freshly augmented."""
    n = len(batches)
    while True:
        for i in range(per_epoch):
            x, y, *w = batches[i % n]
            yield x, y, (w[0] if w else np.ones(len(y), np.float32))
        batches.on_epoch_end()


def _validation_stream(batches, per_epoch: int, batch_size: int):
    """The whole validation set each epoch in ``per_epoch`` batches; rows past its end are
    zero-weight copies (they count nowhere)."""
    n = len(batches)
    while True:
        for i in range(per_epoch):
            if i < n:
                x, y = batches[i][:2]
                w = np.ones(len(y), np.float32)
            else:
                x, y = batches[0][:2]
                x, y = x[:1], y[:1]
                w = np.zeros(1, np.float32)
            yield x, y, w


def distributed_datasets(cluster: Cluster, recipe, inputs: WorkerInputs, plan: BatchPlan, seed: int):
    """(training, validation) distributed datasets of this worker."""
    from ..imaging import INPUT_SHAPE
    from .sequence import CachedBatches, training_batches

    tf = cluster._tf
    prepared = inputs.prepared
    y_val = np.array([s.label for s in prepared.val], dtype=np.float32)
    signature = (tf.TensorSpec((None, *INPUT_SHAPE), tf.float32), tf.TensorSpec((None,), tf.float32),
                 tf.TensorSpec((None,), tf.float32))
    weights = inputs.class_weights if recipe.class_weights else None

    def check(context):
        if context.input_pipeline_id != cluster.role.index or context.num_input_pipelines != cluster.role.count:
            raise ClusterError(f"TensorFlow placed this worker at input {context.input_pipeline_id} of "
                               f"{context.num_input_pipelines}, TF_CONFIG at {cluster.role.index} of {cluster.role.count}.")

    def train_fn(context):
        check(context)
        batches = training_batches(recipe, prepared.cache, inputs.shard_idx, inputs.shard_labels,
                                   seed=seed + 7919 * cluster.role.index, batch_size=plan.per_replica_batch,
                                   class_weights=weights)
        per_epoch = plan.steps * cluster.local_replicas
        return tf.data.Dataset.from_generator(lambda: _training_stream(batches, per_epoch),
                                              output_signature=signature).prefetch(2)

    def val_fn(context):
        check(context)
        batches = CachedBatches(prepared.cache, prepared.val_idx, y_val, plan.val_per_replica_batch, shuffle=False)
        per_epoch = plan.val_steps * cluster.local_replicas
        return tf.data.Dataset.from_generator(
            lambda: _validation_stream(batches, per_epoch, plan.val_per_replica_batch),
            output_signature=signature).prefetch(2)

    return (cluster.strategy.distribute_datasets_from_function(train_fn),
            cluster.strategy.distribute_datasets_from_function(val_fn))


def prepare_model_for_fit(cluster: Cluster, model) -> None:
    """Work around two Keras 3 defects with MultiWorkerMirroredStrategy (keras 3.15): before
    fit() it reduces a sample batch across workers (fails on a tuple), and after every step it
    reduces each scalar log value "along axis 0" across workers (fails on a scalar). The model
    is built here instead, and the step logs become 1-element vectors; undone by
    ``restore_model_after_fit`` so the saved model is an ordinary one."""
    from ..imaging import INPUT_SHAPE

    tf = cluster._tf
    with cluster.scope():
        model._symbolic_build(data_batch=(np.zeros((2, *INPUT_SHAPE), np.float32), np.zeros(2, np.float32),
                                          np.ones(2, np.float32)))
    model._maybe_symbolic_build = lambda *_args, **_kwargs: None  # built above: Keras must not rebuild it
    if cluster.role.strategy == "multiworker" and cluster.role.count > 1:
        train_step, test_step = model.train_step, model.test_step
        model.train_step = lambda data: {k: tf.reshape(v, [1]) for k, v in train_step(data).items()}
        model.test_step = lambda data: {k: tf.reshape(v, [1]) for k, v in test_step(data).items()}


def restore_model_after_fit(model) -> None:
    for name in ("_maybe_symbolic_build", "train_step", "test_step"):
        if name in vars(model):
            delattr(model, name)


def weights_digest(weights) -> str:
    """SHA-256 of a model's weights (every worker of a run must end with the same)."""
    h = hashlib.sha256()
    for w in weights:
        h.update(np.ascontiguousarray(np.asarray(w, dtype=np.float32)).tobytes())
    return h.hexdigest()


def finish_worker(cluster: Cluster, model, history: list):
    """After training: the model back to an ordinary one and the weights' digest. A non-chief
    worker then waits for the chief's outcome and returns (or raises) it; it writes nothing."""

    restore_model_after_fit(model)
    digest = weights_digest(model.get_weights())
    if cluster.role.is_chief:
        return FitResult(None, {}, history, digest)
    status = cluster.finish(OK)
    if status == CANCELLED:
        raise Cancelled("The chief was cancelled.")
    if status != OK:
        raise ClusterError(f"{cluster.role.task.capitalize()} trained to the end, but the chief could not write "
                           "the model (see the chief's output).")
    return FitResult(None, {"worker": cluster.role.task, "workers": cluster.role.count}, history, digest)
