"""The window's model service: typed requests, run one at a time on one worker thread.

The network runs on LiteRT (~2 ms an image, no TensorFlow), so scoring needs neither a child
process nor a thread that owns TensorFlow's thread state: measured with bench.py on the
2-core machine, a worker thread in the window's process gave the first probability sooner
than the previous child process and kept the event loop within a 16 ms frame (see
docs/ARCHITECTURE.md). A bundle made before LiteRT is converted once in a child process
(``training.child_process``), which is where TensorFlow may run.

How it works, on the GUI's one background mechanism (:class:`~.background.BackgroundTasks`
with one worker, so requests run in the order they were made: a score asked for after a load
is answered by that model):

- a request is a small frozen dataclass (:class:`LoadModel`, :class:`ScoreInputs`,
  :class:`ExplainImage`); its handler is a plain function whose ``on_progress`` reports are
  typed events (partial results: :class:`Loading` then :class:`Loaded`, ...);
- an :class:`ExplainImage` replaces the previous one (the user moved on: its map is stale);
  whatever a replaced request still reports is dropped;
- the events reach the GUI thread through the background tasks' one queued signal, and
  ``_deliver`` updates the state and re-emits them as the public signals the controller
  listens to.

Every result carries the *generation* of the model that produced it (bumped on each
successful load), so the controller can drop results of a model it has since replaced.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Optional, Sequence

from PySide6.QtCore import QObject, Signal

from .background import BackgroundTasks
from .heat_layer import make_heat_layer

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


# ---- events (what a request's handler reports) ---------------------------------------------
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
    heat: Any  # a heat_layer.HeatLayer, coloured in the worker
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


class ModelServiceSignals(QObject):
    """The service's result signals and state names, declared once: the test fake inherits
    them, so it cannot drift from the real service (``interfaces.ModelServiceInterface``)."""

    loading = Signal(str)
    loaded = Signal(object, int)  # ModelInfo, generation
    load_failed = Signal(str, bool)  # message, whether a previous model is still active
    scored = Signal(object, int)  # [(key, Prediction)], generation
    unscored = Signal(object)  # [key]: no model is loaded
    score_failed = Signal(object, str)  # [key], message
    explained = Signal(object, object, int)  # key, heatmap, generation
    explain_failed = Signal(object, str)

    LOADING, READY, FAILED, IDLE = "loading", "ready", "failed", "idle"


class ModelService(ModelServiceSignals):
    """Request methods, result signals, and the model's state, for the controller
    (``interfaces.ModelServiceInterface``)."""

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
        self._requests = BackgroundTasks(self, max_workers=1, name="model")
        # Touched only on the worker thread.
        self._predictor = None
        self._worker_generation = 0
        if predictor_factory is None:
            _import_runtime_now()

    # ---- requests (GUI thread) -------------------------------------------------------------
    def _submit(self, request) -> None:
        handler = {LoadModel: self._load, ScoreInputs: self._score, ExplainImage: self._explain}[type(request)]
        kind = type(request) if isinstance(request, self.REPLACES_STALE) else None
        self._requests.start(partial(handler, request), kind=kind, progress=self._deliver)

    def load(self, path=None) -> None:
        self.state = self.LOADING
        self._pending_loads += 1
        self._submit(LoadModel(str(path) if path else None))

    def score(self, batch) -> None:
        self._submit(ScoreInputs(list(batch)))

    def explain(self, key, image) -> None:
        self._submit(ExplainImage(key, image))

    def stop(self, msecs: int = 60000) -> None:
        """Skip queued requests, finish the running one, drop the model, end the thread."""
        self._requests.shutdown(msecs)
        self._predictor = None  # the worker has ended: nothing else holds the interpreter
        gc.collect()

    # ---- the worker thread: each handler reports typed events through on_progress ----------
    def _load(self, request: LoadModel, on_progress, should_cancel) -> None:
        from ..model import ModelLoadError

        on_progress(Loading(request.path or "the bundled model"))
        try:
            if self._factory is not None:
                predictor = self._factory(request.path)
            else:
                predictor = load_window_predictor(request.path, should_cancel=should_cancel)
        except ModelLoadError as exc:
            log.warning("Model not loaded: %s", exc)
            on_progress(LoadFailed(str(exc), self._predictor is not None))
            return
        except Exception as exc:  # a runtime's errors are many; the user still gets a sentence
            log.exception("Model load crashed")
            on_progress(LoadFailed(f"The model could not be loaded ({type(exc).__name__}: {exc}).",
                                   self._predictor is not None))
            return
        # Replace only once the new one works: a broken choice keeps the old model running.
        # (No gc.collect() here: reference counting frees the old interpreter, and a full
        # collection holds the GIL, and so the window, for tens of milliseconds.)
        self._predictor = predictor
        self._worker_generation += 1
        on_progress(Loaded(predictor.info, self._worker_generation, getattr(predictor, "runtime", "")))

    def _score(self, request: ScoreInputs, on_progress, should_cancel) -> None:
        import numpy as np

        from ..imaging import to_model_grey

        keys = [key for key, _, _ in request.batch]
        if self._predictor is None:
            on_progress(Unscored(keys))
            return
        try:
            x = to_model_grey(np.stack([u8 for _, u8, _ in request.batch]))
            preds = self._predictor.predict_batch(x, [reasons for _, _, reasons in request.batch])
        except Exception as exc:
            log.exception("Scoring failed")
            on_progress(ScoreFailed(keys, f"Scoring failed ({type(exc).__name__}: {exc})."))
            return
        on_progress(Scored(list(zip(keys, preds)), self._worker_generation))

    def _explain(self, request: ExplainImage, on_progress, should_cancel) -> None:
        predictor = self._predictor
        if predictor is None:
            on_progress(ExplainFailed(request.key, "No model is loaded."))
            return
        if not getattr(predictor, "explains_without_tensorflow", True):
            on_progress(ExplainFailed(request.key, "This model's heatmap needs TensorFlow (its head is not linear); "
                                                   "'xrayviewer predict --heatmap' draws it."))
            return
        try:
            # Coloured here, not on the GUI thread: 150 ms for a 2,000 px film (heat_layer.py).
            heat = make_heat_layer(predictor.explain(request.image))
        except Exception as exc:
            log.exception("Grad-CAM failed")
            on_progress(ExplainFailed(request.key, f"The heatmap could not be computed ({type(exc).__name__})."))
            return
        on_progress(Explained(request.key, heat, self._worker_generation))

    # ---- the GUI thread: state, then the public signals ------------------------------------
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
