"""The model thread: one QThread owns the one Predictor, and only it touches TensorFlow.

Keras models are not thread-safe and importing TensorFlow takes seconds, so the GUI never
calls the model: it posts requests (queued signals) to :class:`ModelWorker` living on the
model thread and gets results back the same way. Requests posted while the model loads
simply wait in the thread's event queue, so images opened meanwhile are queued, not refused.

Every result carries the *generation* of the model that produced it (bumped on each
successful load), so the controller can drop results of a model it has since replaced.
"""

from __future__ import annotations

import gc
import logging
from typing import Optional

from PySide6.QtCore import QObject, QThread, Signal, Slot

log = logging.getLogger(__name__)


class ModelWorker(QObject):
    """Lives on the model thread. Slots run there, one at a time, in request order."""

    loading = Signal(str)
    loaded = Signal(object, int)  # ModelInfo, generation
    load_failed = Signal(str, bool)  # message, whether a previous model is still active
    scored = Signal(object, int)  # [(key, Prediction)], generation
    unscored = Signal(object)  # [key]: no model is loaded
    score_failed = Signal(object, str)  # [key], message
    explained = Signal(object, object, int)  # key, heatmap, generation
    explain_failed = Signal(object, str)

    def __init__(self):
        super().__init__()
        self._predictor = None
        self._generation = 0
        # Set from the GUI thread at shutdown (a plain bool: reads and writes are atomic);
        # requests still queued then return at once instead of delaying the exit.
        self.stopping = False

    @Slot(object)
    def load(self, path) -> None:
        if self.stopping:
            return
        from ..model import ModelLoadError, Predictor  # Keras itself is imported by Predictor.load

        self.loading.emit(str(path) if path else "the bundled model")
        try:
            predictor = Predictor.load(path)
        except ModelLoadError as exc:
            log.warning("Model not loaded: %s", exc)
            self.load_failed.emit(str(exc), self._predictor is not None)
            return
        except Exception as exc:  # TF errors are many; the user still gets a sentence
            log.exception("Model load crashed")
            self.load_failed.emit(f"The model could not be loaded ({type(exc).__name__}: {exc}).",
                                  self._predictor is not None)
            return
        # Replace only once the new one works: a broken choice keeps the old model running.
        self._predictor = predictor
        self._generation += 1
        gc.collect()  # the previous model's graph and weights
        self.loaded.emit(predictor.info, self._generation)

    @Slot(object)
    def score(self, batch) -> None:
        """``batch``: [(key, uint8 (128,128) model input, colourfulness)]."""
        if self.stopping:
            return
        keys = [key for key, _, _ in batch]
        if self._predictor is None:
            self.unscored.emit(keys)
            return
        from ..imaging import to_model_input
        import numpy as np

        try:
            x = np.stack([to_model_input(u8) for _, u8, _ in batch])
            preds = self._predictor.predict_batch(x, [c for _, _, c in batch])
        except Exception as exc:
            log.exception("Scoring failed")
            self.score_failed.emit(keys, f"Scoring failed ({type(exc).__name__}: {exc}).")
            return
        self.scored.emit(list(zip(keys, preds)), self._generation)

    @Slot(object, object)
    def explain(self, key, image) -> None:
        if self.stopping:
            return
        if self._predictor is None:
            self.explain_failed.emit(key, "No model is loaded.")
            return
        try:
            heat = self._predictor.explain(image)
        except Exception as exc:
            log.exception("Grad-CAM failed")
            self.explain_failed.emit(key, f"The heatmap could not be computed ({type(exc).__name__}).")
            return
        self.explained.emit(key, heat, self._generation)

    @Slot()
    def shutdown(self) -> None:
        """Drop the model on its own thread, then end the thread (queued after the requests
        already posted, which return at once because ``stopping`` is set)."""
        self._predictor = None
        gc.collect()
        QThread.currentThread().quit()


class ModelService(QObject):
    """The GUI side of the model thread: request methods and relayed result signals."""

    loading = Signal(str)
    loaded = Signal(object, int)
    load_failed = Signal(str, bool)
    scored = Signal(object, int)
    unscored = Signal(object)
    score_failed = Signal(object, str)
    explained = Signal(object, object, int)
    explain_failed = Signal(object, str)

    _request_load = Signal(object)
    _request_score = Signal(object)
    _request_explain = Signal(object, object)
    _request_shutdown = Signal()

    LOADING, READY, FAILED, IDLE = "loading", "ready", "failed", "idle"

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.state = self.IDLE
        self.info = None
        self.generation = 0
        self._pending_loads = 0
        self._thread = QThread()
        self._thread.setObjectName("model")
        self._worker = ModelWorker()
        self._worker.moveToThread(self._thread)
        # Requests: queued to the worker's thread (it lives there).
        self._request_load.connect(self._worker.load)
        self._request_score.connect(self._worker.score)
        self._request_explain.connect(self._worker.explain)
        self._request_shutdown.connect(self._worker.shutdown)
        # Results: the worker's signals relayed through ours, delivered on the GUI thread.
        self._worker.loading.connect(self.loading)
        self._worker.loaded.connect(self._on_loaded)
        self._worker.load_failed.connect(self._on_load_failed)
        for name in ("scored", "unscored", "score_failed", "explained", "explain_failed"):
            getattr(self._worker, name).connect(getattr(self, name))

    def start(self) -> None:
        if not self._thread.isRunning():
            self._thread.start()

    def load(self, path=None) -> None:
        self.start()
        self.state = self.LOADING
        self._pending_loads += 1
        self._request_load.emit(str(path) if path else None)

    def score(self, batch) -> None:
        self.start()
        self._request_score.emit(list(batch))

    def explain(self, key, image) -> None:
        self.start()
        self._request_explain.emit(key, image)

    def stop(self, msecs: int = 60000) -> None:
        """Finish the running request, drop the model and end the thread."""
        if self._thread.isRunning():
            self._worker.stopping = True
            self._request_shutdown.emit()
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
