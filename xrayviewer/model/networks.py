"""The network behind a Predictor, on one of two runtimes, same contract:
``forward(batch) -> (probability (n,), last-conv activations (n, h, w, c))``.

- :class:`LiteRTNetwork` runs the bundle's ``.tflite`` with ai-edge-litert: import 0.01 s,
  load 0.01 s, ~2 ms an image, no TensorFlow. What ``predict``, ``evaluate`` and the window use.
- :class:`KerasNetwork` runs the ``.keras`` with TensorFlow (2-6 s to import, ~800 MB): the
  fallback for a bundle without a ``.tflite`` or when ``XRAYVIEWER_BACKEND=keras``.

Both return the two outputs of one forward pass, so the OOD features and the numpy Grad-CAM
cost no second call.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Optional

import numpy as np

from .bundle import ModelInfo, ModelLoadError, litert_path
from .litert_runner import LiteRTRunner, fit_channels

#: ``XRAYVIEWER_BACKEND``: "litert" (default where the bundle has a .tflite) or "keras".
BACKEND_VARIABLE = "XRAYVIEWER_BACKEND"
LITERT, KERAS = "litert", "keras"


def requested_backend() -> str:
    value = os.environ.get(BACKEND_VARIABLE, "").strip().lower()
    return KERAS if value == KERAS else LITERT


def litert_available() -> bool:
    """ai-edge-litert is installed (it has no wheels for some platforms, e.g. Intel Macs)."""
    import importlib.util

    return importlib.util.find_spec("ai_edge_litert") is not None


def open_network(info: ModelInfo):
    """The LiteRT network when the bundle has a valid .tflite, the runtime is installed and
    Keras is not asked for; otherwise the Keras network (which imports TensorFlow)."""
    if requested_backend() == LITERT and info.has_litert and litert_available():
        return LiteRTNetwork(info)
    return KerasNetwork(info)


class LiteRTNetwork:
    """The bundle's .tflite on ai-edge-litert. An interpreter is not thread-safe, so each
    thread that calls ``forward`` gets its own (they share the read-only model bytes)."""

    runtime = LITERT

    def __init__(self, info: ModelInfo, threads: Optional[int] = None):
        """``threads``: the interpreter's worker threads (default: up to 2). The window asks
        for one, leaving the other core of a 2-core machine to its event loop."""
        self._threads = threads
        path = litert_path(info.keras_path)
        expected = info.meta.get("litert", {}).get("sha256")
        try:
            self._model_bytes = Path(path).read_bytes()
        except OSError as exc:
            raise ModelLoadError(f"The LiteRT model {path.name} could not be read ({exc.strerror}).") from None
        if expected and _sha256_bytes(self._model_bytes) != expected:
            raise ModelLoadError(f"Model file {path.name} does not match its metadata "
                                 "(damaged or replaced). Restore it or retrain.")
        self._local = threading.local()
        self._runner()  # a broken file fails here, at load, not at the first image

    #: Whether ``forward`` may be called from several threads at once (Keras: no).
    thread_safe = True

    def _runner(self, threads: Optional[int] = None) -> LiteRTRunner:
        runner = getattr(self._local, "runner", None)
        if runner is None:
            try:
                runner = self._local.runner = LiteRTRunner(self._model_bytes, threads or self._threads)
            except (ValueError, RuntimeError) as exc:
                raise ModelLoadError(f"The LiteRT model could not be loaded: {exc}") from None
        return runner

    def forward(self, batch: np.ndarray, threads: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
        """``threads``: the worker threads of this thread's interpreter when it is first made
        (default: the network's); a pool of loaders that score in parallel asks for one each."""
        return self._runner(threads).forward(batch)


class KerasNetwork:
    """The bundle's .keras on TensorFlow, as a traced graph (any batch size)."""

    runtime = KERAS
    thread_safe = False

    def __init__(self, info: ModelInfo):
        from .architectures import with_last_conv_output
        from .runtime import import_keras, import_tensorflow

        keras = import_keras()
        try:
            self.model = keras.saving.load_model(info.keras_path, compile=False)
        except Exception as exc:  # noqa: BLE001 - Keras raises ValueError/OSError/zipfile errors and more
            raise ModelLoadError(f"Model {info.keras_path.name} could not be loaded: {exc}") from None
        tf = import_tensorflow()
        dual = with_last_conv_output(self.model)
        # A traced graph instead of eager layer-by-layer calls: ~60 ms -> a few ms an image.
        self._graph = tf.function(lambda x: dual(x, training=False), reduce_retracing=True, autograph=False,
                                  input_signature=[tf.TensorSpec([None, *self.model.input_shape[1:]], tf.float32)])

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``batch``: model inputs (n, 128, 128, 3), or their grey channel (n, 128, 128, 1)."""
        prob, conv = self._graph(fit_channels(batch, 3))
        return np.asarray(prob, dtype=np.float64).reshape(-1), np.asarray(conv)


def _sha256_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
