"""The window's model service: typed requests, run one at a time on one worker thread.

The network runs on LiteRT (~2 ms an image, no TensorFlow), so scoring needs neither a child
process nor a thread that owns TensorFlow's thread state: measured with bench.py on the
2-core machine, a worker thread in the window's process gave the first probability sooner
than the previous child process and kept the event loop within a 16 ms frame (see
docs/ARCHITECTURE.md). A bundle made before LiteRT is converted once in a child process
(``training.child_process``), which is where TensorFlow may run.

How it works (after Orange3's ConcurrentMixin and napari's thread_worker):

- a request is a small frozen dataclass (:class:`LoadModel`, :class:`ScoreInputs`,
  :class:`ExplainImage`); ``submit`` queues it on a single-worker executor, so requests run
  in the order they were made (a score asked for after a load is answered by that model);
- each request is handled by a generator whose yields are typed events (partial results);
  after every yield the task checks whether it was cancelled;
- submitting an :class:`ExplainImage` cancels the previous one (the user moved on: its map is
  stale); the events of a cancelled task are dropped;
- events cross to the GUI thread through one queued Qt signal, and ``_deliver`` updates the
  state and re-emits them as the public signals the controller listens to.

Every result carries the *generation* of the model that produced it (bumped on each
successful load), so the controller can drop results of a model it has since replaced.
"""

from __future__ import annotations

import gc
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Sequence

from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)


# ---- requests ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadModel:
    path: Optional[str]  # None: the bundled model


@dataclass(frozen=True)
class ScoreInputs:
    batch: Sequence  # [(key, uint8 (128, 128) model input, the file's out-of-scope reasons)]


@dataclass(frozen=True)
class ExplainImage:
    key: Any
    image: Any  # XRayImage


# ---- events (what a request's generator yields) ------------------------------------------
@dataclass(frozen=True)
class Loading:
    what: str


@dataclass(frozen=True)
class Loaded:
    info: Any
    generation: int
    runtime: str = ""


@dataclass(frozen=True)
class LoadFailed:
    message: str
    still_active: bool


@dataclass(frozen=True)
class Scored:
    results: list  # [(key, Prediction)]
    generation: int


@dataclass(frozen=True)
class Unscored:
    keys: list


@dataclass(frozen=True)
class ScoreFailed:
    keys: list
    message: str


@dataclass(frozen=True)
class Explained:
    key: Any
    heat: Any
    generation: int


@dataclass(frozen=True)
class ExplainFailed:
    key: Any
    message: str


def load_window_predictor(path: Optional[str], should_cancel: Callable[[], bool] = lambda: False):
    """A LiteRT Predictor for the window. A bundle without its ``.tflite`` is converted first,
    in a child process: TensorFlow never enters the window's process."""
    from ..model import Predictor, bundled_model_path, read_model_info
    from ..model.networks import LiteRTNetwork

    info = read_model_info(path or bundled_model_path())
    if not info.has_litert:
        from ..training.child_process import add_litert_in_child_process

        add_litert_in_child_process(info.keras_path, should_cancel=should_cancel)
        info = read_model_info(info.keras_path)
    return Predictor(LiteRTNetwork(info, threads=1), info)  # one core for scoring, one for the window


def _import_runtime_now() -> None:
    """Import LiteRT on the GUI thread while the window is being built, before it is shown.

    An import holds the GIL (module code, the dlopen of its 18 MB library): done on the worker
    thread after the window is up, it froze the event loop for 27-60 ms (measured here, 15-85
    ms imports). Before the first paint it costs the same time and freezes nothing."""
    from ..model.networks import litert_available

    if litert_available():
        import ai_edge_litert.interpreter  # noqa: F401, PLC0415


class _Task:
    def __init__(self, request):
        self.request = request
        self.cancelled = threading.Event()


class ModelService(QObject):
    """Request methods, result signals, and the model's state, for the controller."""

    loading = Signal(str)
    loaded = Signal(object, int)  # ModelInfo, generation
    load_failed = Signal(str, bool)  # message, whether a previous model is still active
    scored = Signal(object, int)  # [(key, Prediction)], generation
    unscored = Signal(object)  # [key]: no model is loaded
    score_failed = Signal(object, str)  # [key], message
    explained = Signal(object, object, int)  # key, heatmap, generation
    explain_failed = Signal(object, str)
    _event = Signal(object)  # from the worker thread; queued to the GUI thread

    LOADING, READY, FAILED, IDLE = "loading", "ready", "failed", "idle"
    #: Request kinds where a newer request makes the older one stale.
    REPLACES_STALE = (ExplainImage,)

    def __init__(self, parent: Optional[QObject] = None, predictor_factory=None):
        """``predictor_factory(path)`` returns a loaded predictor; default: a LiteRT one
        (``load_window_predictor``). Tests pass an in-process fake."""
        super().__init__(parent)
        self.state = self.IDLE
        self.info = None
        self.generation = 0
        self.runtime = ""  # what runs the active model: "litert" in the window
        self._pending_loads = 0
        self._factory = predictor_factory
        self._executor: Optional[ThreadPoolExecutor] = None
        self._latest: dict[type, _Task] = {}
        self._stopping = threading.Event()
        # Touched only on the worker thread.
        self._predictor = None
        self._worker_generation = 0
        self._event.connect(self._deliver)
        if predictor_factory is None:
            _import_runtime_now()

    # ---- requests (GUI thread) -------------------------------------------------------------
    def start(self) -> None:
        if self._executor is None and not self._stopping.is_set():
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")

    def submit(self, request) -> None:
        if self._stopping.is_set():
            return
        self.start()
        task = _Task(request)
        if isinstance(request, self.REPLACES_STALE):
            stale = self._latest.get(type(request))
            if stale is not None:
                stale.cancelled.set()
            self._latest[type(request)] = task
        self._executor.submit(self._run, task)

    def load(self, path=None) -> None:
        self.state = self.LOADING
        self._pending_loads += 1
        self.submit(LoadModel(str(path) if path else None))

    def score(self, batch) -> None:
        self.submit(ScoreInputs(list(batch)))

    def explain(self, key, image) -> None:
        self.submit(ExplainImage(key, image))

    def stop(self, msecs: int = 60000) -> None:
        """Skip queued requests, finish the running one, drop the model, end the thread."""
        self._stopping.set()
        for task in self._latest.values():
            task.cancelled.set()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._predictor = None  # the worker has ended: nothing else holds the interpreter
        gc.collect()

    # ---- the worker thread -------------------------------------------------------------
    def _run(self, task: _Task) -> None:
        handler = {LoadModel: self._load, ScoreInputs: self._score, ExplainImage: self._explain}[type(task.request)]
        if self._stopping.is_set():
            return
        try:
            for event in handler(task.request, task.cancelled.is_set):
                if task.cancelled.is_set() or self._stopping.is_set():
                    return  # stale: whatever it still had to say is dropped
                self._event.emit(event)
        except Exception:  # each handler reports its own failures; this is a bug guard
            log.exception("Model request %s failed", type(task.request).__name__)

    def _load(self, request: LoadModel, should_cancel) -> Iterator:
        from ..model import ModelLoadError

        yield Loading(request.path or "the bundled model")
        try:
            if self._factory is not None:
                predictor = self._factory(request.path)
            else:
                predictor = load_window_predictor(request.path, should_cancel=self._stopping.is_set)
        except ModelLoadError as exc:
            log.warning("Model not loaded: %s", exc)
            yield LoadFailed(str(exc), self._predictor is not None)
            return
        except Exception as exc:  # a runtime's errors are many; the user still gets a sentence
            log.exception("Model load crashed")
            yield LoadFailed(f"The model could not be loaded ({type(exc).__name__}: {exc}).",
                             self._predictor is not None)
            return
        # Replace only once the new one works: a broken choice keeps the old model running.
        # (No gc.collect() here: reference counting frees the old interpreter, and a full
        # collection holds the GIL, and so the window, for tens of milliseconds.)
        self._predictor = predictor
        self._worker_generation += 1
        yield Loaded(predictor.info, self._worker_generation, getattr(predictor, "runtime", ""))

    def _score(self, request: ScoreInputs, should_cancel) -> Iterator:
        import numpy as np

        from ..imaging import to_model_input

        keys = [key for key, _, _ in request.batch]
        if self._predictor is None:
            yield Unscored(keys)
            return
        try:
            x = np.stack([to_model_input(u8) for _, u8, _ in request.batch])
            preds = self._predictor.predict_batch(x, [reasons for _, _, reasons in request.batch])
        except Exception as exc:
            log.exception("Scoring failed")
            yield ScoreFailed(keys, f"Scoring failed ({type(exc).__name__}: {exc}).")
            return
        yield Scored(list(zip(keys, preds)), self._worker_generation)

    def _explain(self, request: ExplainImage, should_cancel) -> Iterator:
        predictor = self._predictor
        if predictor is None:
            yield ExplainFailed(request.key, "No model is loaded.")
            return
        if not getattr(predictor, "explains_without_tensorflow", True):
            yield ExplainFailed(request.key, "This model's heatmap needs TensorFlow (its head is not linear); "
                                             "'xrayviewer predict --heatmap' draws it.")
            return
        try:
            heat = predictor.explain(request.image)
        except Exception as exc:
            log.exception("Grad-CAM failed")
            yield ExplainFailed(request.key, f"The heatmap could not be computed ({type(exc).__name__}).")
            return
        yield Explained(request.key, heat, self._worker_generation)

    # ---- the GUI thread: state, then the public signals ------------------------------------
    @Slot(object)
    def _deliver(self, event) -> None:
        if isinstance(event, Loading):
            self.loading.emit(event.what)
        elif isinstance(event, Loaded):
            self.info, self.generation, self.runtime = event.info, event.generation, event.runtime
            self._pending_loads -= 1
            if self._pending_loads == 0:
                self.state = self.READY
            self.loaded.emit(event.info, event.generation)
        elif isinstance(event, LoadFailed):
            self._pending_loads -= 1
            if self._pending_loads == 0:
                self.state = self.READY if event.still_active else self.FAILED
            self.load_failed.emit(event.message, event.still_active)
        elif isinstance(event, Scored):
            self.scored.emit(event.results, event.generation)
        elif isinstance(event, Unscored):
            self.unscored.emit(event.keys)
        elif isinstance(event, ScoreFailed):
            self.score_failed.emit(event.keys, event.message)
        elif isinstance(event, Explained):
            self.explained.emit(event.key, event.heat, event.generation)
        elif isinstance(event, ExplainFailed):
            self.explain_failed.emit(event.key, event.message)
