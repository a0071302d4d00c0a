"""Predictor: one loaded model bundle that turns images into calibrated probabilities.

Not thread-safe by design: the GUI keeps one Predictor on one worker thread.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from ..imaging import ImageLoadError, XRayImage, load_image, preprocess
from ..progress import CancelCheck, Progress, ProgressCallback, check_cancel, no_progress
from .architectures import GRADCAM_LAYER, with_last_conv_output
from .bundle import ModelInfo, ModelLoadError, bundled_model_path, read_model_info
from .calibration import apply_temperature, logit
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
        return abs(float(logit(self.probability) - logit(self.threshold))) < NEAR_THRESHOLD_LOGIT_MARGIN


@dataclass(frozen=True)
class FileResult:
    """One row of ``xrayviewer predict``: a prediction, or the reason there is none."""

    path: str
    prediction: Optional[Prediction] = None
    error: str = ""


class Predictor:
    def __init__(self, model, info: ModelInfo):
        self.model = model
        self.info = info
        # One forward pass gives the probability and the last conv activations (for the OOD
        # features and Grad-CAM); no second model call.
        self._dual = with_last_conv_output(model)
        self._ood = info.ood_stats()
        self._explainer = StatisticExplainer(self._ood) if self._ood is not None and self._ood.has_image_model else None
        # A traced graph (any batch size) instead of eager layer-by-layer calls: a single
        # image goes from ~60 ms of Python overhead to a few ms on CPU.
        tf = _tf()
        self._graph = tf.function(lambda x: self._dual(x, training=False), reduce_retracing=True, autograph=False,
                                  input_signature=[tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)])

    @classmethod
    def load(cls, path=None) -> "Predictor":
        """Load a bundle (the bundled default when ``path`` is None); ModelLoadError if bad."""
        info = read_model_info(path or bundled_model_path())
        keras = _keras()
        try:
            model = keras.saving.load_model(info.keras_path, compile=False)
        except Exception as exc:  # Keras raises ValueError/OSError/zipfile errors and more
            raise ModelLoadError(f"Model {info.keras_path.name} could not be loaded: {exc}") from None
        return cls(model, info)

    @property
    def threshold(self) -> float:
        return self.info.threshold

    def _forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prob, conv = self._graph(np.asarray(batch, dtype=np.float32))
        return np.asarray(prob, dtype=np.float64).reshape(-1), np.asarray(conv)

    def features(self, batch: np.ndarray) -> np.ndarray:
        """Pooled last-conv features (what the OOD statistics are fitted on)."""
        return self._forward(batch)[1].mean(axis=(1, 2))

    def predict_batch(self, batch: np.ndarray,
                      file_reasons: Optional[Sequence[Sequence[str]]] = None) -> list[Prediction]:
        """Predictions for preprocessed inputs (n, 128, 128, 3). ``file_reasons[i]``: what input
        i's file says that puts it out of scope (``population.population_reasons``), added to
        the pixel-based out-of-distribution check."""
        if len(batch) == 0:
            return []
        batch = np.asarray(batch, dtype=np.float32)
        raw, conv = self._forward(batch)
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
        return self.predict_batch(preprocess(image)[None], [population_reasons(image)])[0]

    def predict_images(self, images: Sequence[XRayImage]) -> list[Prediction]:
        if not images:
            return []
        return self.predict_batch(np.stack([preprocess(im) for im in images]),
                                  [population_reasons(im) for im in images])

    def predict_files(self, paths: Iterable, batch_size: int = 32, on_progress: ProgressCallback = no_progress,
                      should_cancel: Optional[CancelCheck] = None) -> list[FileResult]:
        """Score files in batches; unreadable ones get an error and the rest go on."""
        paths = [os.fspath(p) for p in paths]
        results: dict[int, FileResult] = {}
        pending: list[tuple[int, np.ndarray, tuple[str, ...]]] = []

        def flush():
            if pending:
                preds = self.predict_batch(np.stack([x for _, x, _ in pending]), [c for _, _, c in pending])
                for (i, _, _), pred in zip(pending, preds):
                    results[i] = FileResult(paths[i], pred)
                pending.clear()

        for i, p in enumerate(paths):
            check_cancel(should_cancel)
            try:
                image = load_image(p)
                pending.append((i, preprocess(image), population_reasons(image)))
            except ImageLoadError as exc:
                results[i] = FileResult(p, error=str(exc))
            if len(pending) >= batch_size:
                flush()
            on_progress(Progress("predict", i + 1, len(paths), os.path.basename(p)))
        flush()
        return [results[i] for i in range(len(paths))]

    def explain(self, image: XRayImage) -> np.ndarray:
        """Grad-CAM heatmap in [0, 1] at the image's full resolution."""
        from .gradcam import explain_image

        return explain_image(self.model, image, GRADCAM_LAYER)


def _keras():
    from .runtime import import_keras

    return import_keras()


def _tf():
    from .runtime import import_tensorflow

    return import_tensorflow()


def default_model_exists() -> bool:
    return Path(bundled_model_path()).exists()
