"""A Predictor in a child process, for the GUI.

Importing TensorFlow and loading a model hold Python's GIL for seconds at a time (the
dlopen of a 800 MB library, graph tracing), so a model *thread* still freezes the window:
measured here, up to 1.9 s without a single repaint. The GUI therefore keeps its Predictor
in a spawned child process; the GUI's model thread only waits on a pipe, which releases the
GIL. The GUI process never imports TensorFlow at all, and a crash inside TF cannot take the
viewer (and the radiologist's worklist) down with it.

Same methods as Predictor (load, predict_batch, explain, info, threshold), same errors.
"""

from __future__ import annotations

import multiprocessing
from typing import Optional, Sequence

import numpy as np

from .bundle import ModelInfo, ModelLoadError


class ModelProcessError(RuntimeError):
    """The model process died or could not start; the message is for people."""


def _serve(conn) -> None:
    """Child process: one Predictor, requests answered in order until the pipe closes."""
    predictor = None
    while True:
        try:
            name, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if name == "load":
                from .predictor import Predictor

                predictor = Predictor.load(args[0])
                result = predictor.info
            elif name == "predict_batch":
                result = predictor.predict_batch(*args)
            elif name == "grad_cam":
                result = predictor.explain_cells(args[0])[0]
            else:
                raise ValueError(f"unknown request {name}")
            conn.send(("ok", result))
        except ModelLoadError as exc:
            conn.send(("load_error", str(exc)))
        except Exception as exc:  # noqa: BLE001 - reported to the parent as a sentence
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class RemotePredictor:
    """Owns one child process; not thread-safe (one model thread uses it, as with Predictor)."""

    def __init__(self):
        ctx = multiprocessing.get_context("spawn")  # fork would copy Qt's threads and state
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), name="xrayviewer-model", daemon=True)
        self._proc.start()
        child.close()
        self.info: Optional[ModelInfo] = None

    @classmethod
    def load(cls, path=None) -> "RemotePredictor":
        remote = cls()
        try:
            remote.info = remote._call("load", str(path) if path else None)
        except BaseException:
            remote.close()
            raise
        return remote

    @property
    def threshold(self) -> float:
        return self.info.threshold

    def _call(self, name: str, *args):
        try:
            self._conn.send((name, args))
            status, value = self._conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            code = self._proc.exitcode
            raise ModelProcessError(f"The model process stopped unexpectedly (exit code {code}).") from None
        if status == "load_error":
            raise ModelLoadError(value)
        if status == "error":
            raise ModelProcessError(value)
        return value

    def predict_batch(self, batch: np.ndarray, file_reasons: Optional[Sequence[Sequence[str]]] = None):
        return self._call("predict_batch", np.asarray(batch, dtype=np.float32),
                          None if file_reasons is None else [tuple(r) for r in file_reasons])

    def explain(self, image) -> np.ndarray:
        """Grad-CAM at full resolution; only the 128 px input and the coarse map cross the pipe."""
        from ..imaging import preprocess
        from .gradcam import resize_heatmap

        cam = self._call("grad_cam", preprocess(image)[None])
        return resize_heatmap(cam, image.height, image.width)

    def close(self) -> None:
        try:
            self._conn.close()
        except OSError:
            pass
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)
