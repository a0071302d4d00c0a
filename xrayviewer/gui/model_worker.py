"""The model thread: one thread owns the one Predictor, and only it talks to the model.

By default the Predictor lives in a child process (``model.remote.RemotePredictor``): TF's
import and tracing hold the GIL for seconds, which froze the window even from a thread.

Keras models are not thread-safe and importing TensorFlow takes seconds, so the GUI never
calls the model: it posts requests to the model thread's queue and gets results back as Qt
signals, queued to the GUI thread. Requests posted while the model loads simply wait in the
queue, so images opened meanwhile are queued, not refused.

Why a request queue in ``QThread.run`` and not a worker QObject with slots: PySide gives
every slot call on a QThread's event loop a fresh Python thread state, so ``threading.local``
data does not survive from one call to the next. TensorFlow keeps its graph and eager
context there; loading the model in one slot and predicting in another crashed the process
(SIGSEGV while tracing, 4 runs in 10 here). One ``run()`` call for the thread's whole life
keeps one thread state.

Every result carries the *generation* of the model that produced it (bumped on each
successful load), so the controller can drop results of a model it has since replaced.
"""

from __future__ import annotations

import gc
import logging
import queue
from typing import Optional

from PySide6.QtCore import QObject, QThread, Signal, Slot

log = logging.getLogger(__name__)


class ModelWorker:
    """Runs on the model thread, one request at a time, in request order. ``out`` is the
    object whose signals carry the results (emitted here, delivered on the GUI thread)."""

    def __init__(self, out: "ModelService", predictor_factory=None):
        self.out = out
        self.predictor = None
        self.generation = 0
        self._factory = predictor_factory

    def load(self, path) -> None:
        from ..model import ModelLoadError
        from ..model.remote import RemotePredictor

        self.out.loading.emit(str(path) if path else "the bundled model")
        try:
            predictor = (self._factory or RemotePredictor.load)(path)
        except ModelLoadError as exc:
            log.warning("Model not loaded: %s", exc)
            self.out._load_failed.emit(str(exc), self.predictor is not None)
            return
        except Exception as exc:  # TF errors are many; the user still gets a sentence
            log.exception("Model load crashed")
            self.out._load_failed.emit(f"The model could not be loaded ({type(exc).__name__}: {exc}).",
                                       self.predictor is not None)
            return
        # Replace only once the new one works: a broken choice keeps the old model running.
        self._close(self.predictor)
        self.predictor = predictor
        self.generation += 1
        gc.collect()  # the previous model's graph and weights
        self.out._loaded.emit(predictor.info, self.generation)

    def score(self, batch) -> None:
        """``batch``: [(key, uint8 (128,128) model input, the file's out-of-scope reasons)]."""
        import numpy as np

        from ..imaging import to_model_input

        keys = [key for key, _, _ in batch]
        if self.predictor is None:
            self.out.unscored.emit(keys)
            return
        try:
            x = np.stack([to_model_input(u8) for _, u8, _ in batch])
            preds = self.predictor.predict_batch(x, [reasons for _, _, reasons in batch])
        except Exception as exc:
            log.exception("Scoring failed")
            self.out.score_failed.emit(keys, f"Scoring failed ({type(exc).__name__}: {exc}).")
            return
        self.out.scored.emit(list(zip(keys, preds)), self.generation)

    def explain(self, key, image) -> None:
        if self.predictor is None:
            self.out.explain_failed.emit(key, "No model is loaded.")
            return
        try:
            heat = self.predictor.explain(image)
        except Exception as exc:
            log.exception("Grad-CAM failed")
            self.out.explain_failed.emit(key, f"The heatmap could not be computed ({type(exc).__name__}).")
            return
        self.out.explained.emit(key, heat, self.generation)


    @staticmethod
    def _close(predictor) -> None:
        close = getattr(predictor, "close", None)  # RemotePredictor: end its process
        if close is not None:
            close()


class _ModelThread(QThread):
    def __init__(self, worker: ModelWorker, requests: "queue.Queue"):
        super().__init__()
        self.setObjectName("model")
        self._worker, self._requests = worker, requests
        self.stopping = False  # set by the GUI at shutdown; queued requests are then skipped

    def run(self) -> None:
        while True:
            request = self._requests.get()
            if request is None:
                break
            if self.stopping:
                continue
            name, args = request
            try:
                getattr(self._worker, name)(*args)
            except Exception:  # each request reports its own failures; this is a bug guard
                log.exception("Model request %s failed", name)
        ModelWorker._close(self._worker.predictor)
        self._worker.predictor = None  # dropped on the thread that made it
        gc.collect()


class ModelService(QObject):
    """The GUI side of the model thread: request methods, result signals, and the state."""

    loading = Signal(str)
    loaded = Signal(object, int)  # ModelInfo, generation
    load_failed = Signal(str, bool)  # message, whether a previous model is still active
    scored = Signal(object, int)  # [(key, Prediction)], generation
    unscored = Signal(object)  # [key]: no model is loaded
    score_failed = Signal(object, str)  # [key], message
    explained = Signal(object, object, int)  # key, heatmap, generation
    explain_failed = Signal(object, str)
    _loaded = Signal(object, int)  # from the model thread, to update the state below first
    _load_failed = Signal(str, bool)

    LOADING, READY, FAILED, IDLE = "loading", "ready", "failed", "idle"

    def __init__(self, parent: Optional[QObject] = None, predictor_factory=None):
        """``predictor_factory(path)`` returns a loaded predictor; default: a RemotePredictor
        (tests pass an in-process fake)."""
        super().__init__(parent)
        self.state = self.IDLE
        self.info = None
        self.generation = 0
        self._pending_loads = 0
        self._requests: queue.Queue = queue.Queue()
        self._thread = _ModelThread(ModelWorker(self, predictor_factory), self._requests)
        self._loaded.connect(self._on_loaded)
        self._load_failed.connect(self._on_load_failed)

    def start(self) -> None:
        if not self._thread.isRunning() and not self._thread.isFinished():
            self._thread.start()

    def _post(self, name: str, *args) -> None:
        self.start()
        self._requests.put((name, args))

    def load(self, path=None) -> None:
        self.state = self.LOADING
        self._pending_loads += 1
        self._post("load", str(path) if path else None)

    def score(self, batch) -> None:
        self._post("score", list(batch))

    def explain(self, key, image) -> None:
        self._post("explain", key, image)

    def stop(self, msecs: int = 60000) -> None:
        """Skip queued requests, finish the running one, drop the model, end the thread."""
        if self._thread.isRunning():
            self._thread.stopping = True
            self._requests.put(None)
            if not self._thread.wait(msecs):
                log.error("The model thread did not stop within %d s", msecs // 1000)

    @Slot(object, int)
    def _on_loaded(self, info, generation: int) -> None:
        self.info, self.generation = info, generation
        self._pending_loads -= 1
        if self._pending_loads == 0:
            self.state = self.READY
        self.loaded.emit(info, generation)

    @Slot(str, bool)
    def _on_load_failed(self, message: str, still_active: bool) -> None:
        self._pending_loads -= 1
        if self._pending_loads == 0:
            self.state = self.READY if still_active else self.FAILED
        self.load_failed.emit(message, still_active)
