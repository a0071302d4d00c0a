"""Predictor: one loaded model bundle that turns images into calibrated probabilities.

The network runs on LiteRT (``networks.LiteRTNetwork``, no TensorFlow) when the bundle has its
``.tflite``, else on Keras (``XRAYVIEWER_BACKEND=keras`` asks for Keras). A LiteRT Predictor may
be called from several threads (one interpreter per thread); a Keras one from one at a time.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np

from ..imaging import ImageLoadError, XRayImage, load_image, preprocess, preprocess_uint8, to_model_grey
from ..progress import CancelCheck, Progress, ProgressCallback, check_cancel, no_progress
from .architectures import GRADCAM_LAYER
from .bundle import ModelInfo, bundled_model_path, read_model_info
from .calibration import apply_temperature, scalar_logit
from .gradcam import RED_AT, display_heatmap, linear_grad_cam, resize_heatmap
from .networks import open_network
from .ood import image_descriptor
from .ood_statistics import StatisticExplainer, pixel_reasons
from .population import population_reasons
from .reasons import Reason, as_reason, combine, from_text, join

#: Within this distance of the threshold, in log-odds, a verdict is called "near the threshold".
#: At a threshold of 0.5 it spans 0.40-0.60. Measured in log-odds (not probability points) so it
#: means the same small change in evidence at any threshold: at 0.98, 0.10 probability points
#: would have called every film from 0.88 to 1.00, the most certain pneumonias, borderline.
NEAR_THRESHOLD_LOGIT_MARGIN = 0.4
POSITIVE, NEGATIVE = "PNEUMONIA", "NORMAL"


@dataclass(frozen=True)
class Prediction:
    probability: float  # calibrated probability of pneumonia
    raw_probability: float  # the network's own sigmoid output
    threshold: float
    ood_score: Optional[float] = None
    out_of_distribution: bool = False
    ood_reason: str = ""  # the reasons' text ("; "-joined), as the CSV column shows it
    reasons: tuple[Reason, ...] = ()  # typed (model.reasons); the panel and worklist decide on these

    def __post_init__(self):
        # One source: given reasons, the text follows them; given only text (older callers),
        # reasons are read back from it.
        if self.reasons:
            object.__setattr__(self, "ood_reason", join(self.reasons))
        elif self.ood_reason:
            object.__setattr__(self, "reasons", from_text(self.ood_reason))

    @property
    def label(self) -> str:
        return POSITIVE if self.probability >= self.threshold else NEGATIVE

    @property
    def near_threshold(self) -> bool:
        return abs(scalar_logit(self.probability) - scalar_logit(self.threshold)) < NEAR_THRESHOLD_LOGIT_MARGIN


@dataclass(frozen=True)
class FileResult:
    """One row of ``xrayviewer predict``: a prediction, or the reason there is none."""

    path: str
    prediction: Optional[Prediction] = None
    error: str = ""


class Predictor:
    def __init__(self, network, info: ModelInfo):
        """``network.forward(batch) -> (probabilities, last-conv activations)``: one forward
        pass gives the probability, the OOD features and the numpy Grad-CAM."""
        self.network = network
        self.info = info
        self._ood = info.ood_stats()
        self._explainer = StatisticExplainer(self._ood) if self._ood is not None and self._ood.has_image_model else None

    @classmethod
    def load(cls, path=None) -> "Predictor":
        """Load a bundle (the bundled default when ``path`` is None); ModelLoadError if bad."""
        info = read_model_info(path or bundled_model_path())
        return cls(open_network(info), info)

    @property
    def runtime(self) -> str:
        """"litert" or "keras": what runs the network."""
        return self.network.runtime

    @property
    def threshold(self) -> float:
        return self.info.threshold

    def _forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.network.forward(np.asarray(batch, dtype=np.float32))

    def features(self, batch: np.ndarray) -> np.ndarray:
        """Pooled last-conv features (what the OOD statistics are fitted on)."""
        return self._forward(batch)[1].mean(axis=(1, 2))

    def predict_batch(self, batch: np.ndarray,
                      file_reasons: Optional[Sequence[Sequence[str]]] = None) -> list[Prediction]:
        """Predictions for preprocessed inputs: model inputs (n, 128, 128, 3), or their grey
        channel (n, 128, 128, 1), which LiteRT takes as it is. ``file_reasons[i]``: what input
        i's file says that puts it out of scope (``population.population_reasons``), added to
        the pixel-based out-of-distribution check."""
        if len(batch) == 0:
            return []
        batch = np.asarray(batch, dtype=np.float32)
        raw, conv = self._forward(batch)
        return self._predictions(batch, raw, conv, file_reasons)

    def _predictions(self, batch: np.ndarray, raw: np.ndarray, conv: np.ndarray,
                     file_reasons: Optional[Sequence[Sequence[str]]]) -> list[Prediction]:
        """``predict_batch`` once the network has run: calibration and the OOD check.
        ``batch``: the model inputs, or one channel of them (n, 128, 128, 1): the image check
        reads one."""
        cal = apply_temperature(raw, self.info.temperature, self.info.calibration_shift)
        if self._ood is not None:
            parts = self._ood.components(conv.mean(axis=(1, 2)), batch)
            scores = self._ood.combine(parts)
        else:
            parts, scores = {}, [None] * len(raw)
        out = []
        for i, (r, c, s) in enumerate(zip(raw, cal, scores)):
            pixel: tuple[Reason, ...] = ()
            if s is not None and s > self._ood.threshold:
                descriptor = image_descriptor(batch[i:i + 1])[0] if self._explainer is not None else None
                pixel = pixel_reasons(self._ood, parts, i, self._explainer, descriptor)
            reasons = combine(pixel, [as_reason(r) for r in file_reasons[i]] if file_reasons is not None else ())
            out.append(Prediction(probability=float(c), raw_probability=float(r), threshold=self.threshold,
                                  ood_score=None if s is None else float(s),
                                  out_of_distribution=bool(reasons), reasons=tuple(reasons)))
        return out

    def predict_image(self, image: XRayImage) -> Prediction:
        return self.predict_batch(to_model_grey(preprocess_uint8(image))[None], [population_reasons(image)])[0]

    def predict_files(self, paths: Iterable, batch_size: int = 32, on_progress: ProgressCallback = no_progress,
                      should_cancel: Optional[CancelCheck] = None) -> list[FileResult]:
        """Score files in batches; unreadable ones get an error and the rest go on."""
        return list(self.iter_files(paths, batch_size, on_progress, should_cancel))

    def iter_files(self, paths: Iterable, batch_size: int = 32, on_progress: ProgressCallback = no_progress,
                   should_cancel: Optional[CancelCheck] = None, loaders: Optional[int] = None) -> Iterator[FileResult]:
        """``predict_files`` one result at a time, in the order of ``paths``, each batch's as
        soon as it is scored (the CLI writes rows as they come).

        ``loaders`` threads (default: one per core, at most 2) decode and preprocess the files
        while this thread gathers them; on LiteRT each loader also runs the network on its
        file with its own one-thread interpreter. Pillow and LiteRT release the GIL, so the
        two cores of the reference machine each carry a whole file at a time, and one image
        at a time costs a one-thread interpreter less CPU than a 2-thread batch of 32 (2.3
        against 2.9 ms an image, measured). Calibration and the OOD check run here, a batch
        at a time, as in ``predict_batch`` (same figures). At most a few batches are read
        ahead, as 128 x 128 inputs (full-resolution pixels live only in the loader that reads
        them), so memory does not grow with the run.
        """
        paths = [os.fspath(p) for p in paths]
        if not paths:
            return
        workers = max(1, min(len(paths), loaders if loaders is not None else min(2, os.cpu_count() or 1)))
        score_in_loader = bool(getattr(self.network, "thread_safe", False))
        ahead = 2 * batch_size + workers
        pending: list[tuple[int, _Prepared]] = []
        ready: dict[int, FileResult] = {}
        next_out = 0

        def prepare(path: str) -> _Prepared:
            prepared = _prepare_file(path)
            if score_in_loader and prepared.grey is not None:
                prepared.raw, prepared.conv = self.network.forward(to_model_grey(prepared.grey[None]), threads=1)
            return prepared

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xv-load") as pool:
            queue: deque = deque()
            submitted = 0
            try:
                for i, p in enumerate(paths):
                    while submitted < len(paths) and submitted < i + ahead:
                        queue.append(pool.submit(prepare, paths[submitted]))
                        submitted += 1
                    check_cancel(should_cancel)
                    prepared = queue.popleft().result()
                    if prepared.grey is None:
                        ready[i] = FileResult(p, error=prepared.error)
                    else:
                        pending.append((i, prepared))
                    if len(pending) >= batch_size or i == len(paths) - 1:
                        ready.update(self._score_pending(paths, pending))
                        pending.clear()
                    on_progress(Progress("predict", i + 1, len(paths), os.path.basename(p)))
                    while next_out in ready:  # in order: a batch's errors wait for its scores
                        yield ready.pop(next_out)
                        next_out += 1
            finally:
                for f in queue:  # cancelled or abandoned: unread files are not decoded
                    f.cancel()

    def _score_pending(self, paths: list[str], pending: list[tuple[int, "_Prepared"]]) -> dict[int, FileResult]:
        if not pending:
            return {}
        x = to_model_grey(np.stack([p.grey for _, p in pending]))
        reasons = [p.file_reasons for _, p in pending]
        if all(p.raw is not None for _, p in pending):
            raw = np.concatenate([p.raw for _, p in pending])
            conv = np.concatenate([p.conv for _, p in pending])
            preds = self._predictions(x, raw, conv, reasons)
        else:
            preds = self.predict_batch(x, reasons)
        return {i: FileResult(paths[i], pred) for (i, _), pred in zip(pending, preds)}

    @property
    def explains_without_tensorflow(self) -> bool:
        """Grad-CAM from the forward pass (linear head recorded in the bundle)."""
        return self.info.linear_head is not None

    def explain(self, image: XRayImage) -> np.ndarray:
        """Grad-CAM at the image's full resolution, float32 in [0, 1] on the fixed scale of
        ``gradcam.RED_AT`` (1.0: as strong as the hottest spot of a film the bundled model
        scores at its threshold), so maps compare across films."""
        return resize_heatmap(self.explain_cells(preprocess(image)[None])[0], image.height, image.width)

    def explain_cells(self, batch: np.ndarray) -> np.ndarray:
        """(n, h, w) Grad-CAM on the fixed scale at the explained layer's resolution."""
        head = self.info.linear_head
        if head is not None:
            cam = linear_grad_cam(self._forward(batch)[1], head["weights"])
        else:  # a head that is not linear (the seed's max-pool + Flatten): TensorFlow's gradients
            from .gradcam import grad_cam_evidence

            cam = grad_cam_evidence(self._keras_model(), batch, GRADCAM_LAYER)
        return display_heatmap(cam, RED_AT)

    def _keras_model(self):
        """The Keras model, for gradients; a LiteRT Predictor loads it (and TensorFlow) once."""
        if getattr(self, "_gradient_model", None) is None:
            from .networks import KerasNetwork

            model = getattr(self.network, "model", None)
            self._gradient_model = model if model is not None else KerasNetwork(self.info).model
        return self._gradient_model



@dataclass
class _Prepared:
    """One file on its way through ``iter_files``: the model's uint8 input (None, and
    ``error`` set, when the file gave none), what the file says about its scope, and the
    network's outputs when its loader ran the network."""

    grey: Optional[np.ndarray]
    file_reasons: tuple[Reason, ...] = ()
    error: str = ""
    raw: Optional[np.ndarray] = None
    conv: Optional[np.ndarray] = None


def _prepare_file(path: str) -> _Prepared:
    """Decode and preprocess one file (on a loader thread); its error in words if it fails."""
    try:
        image = load_image(path)
        return _Prepared(preprocess_uint8(image), tuple(population_reasons(image)))
    except ImageLoadError as exc:
        return _Prepared(None, error=str(exc))
    except Exception:  # noqa: BLE001 - preprocessing's own failure costs this file only
        return _Prepared(None, error=f"{os.path.basename(path)} could not be prepared for the model "
                                     "(an unexpected error); the other files go on.")
