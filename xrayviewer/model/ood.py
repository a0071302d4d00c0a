"""Out-of-distribution score: how unlike the training radiographs an input is.

Two Gaussian models of the training set, each scored by Mahalanobis distance (Lee et al., 2018)
with a shrunk covariance:

- **features**: the network's pooled last-convolution activations (what the classifier
  "sees"). Strong for things that are not radiographs at all.
- **image**: a small, hand-made description of the 128 x 128 input the network receives: an
  8 x 8 thumbnail (the layout: dark lungs either side of a bright, vertical mediastinum), a
  16-bin grey-level histogram (polarity and exposure) and a 4 x 4 grid of edge strength
  (texture: noise, text). A convolutional network pools its features over the image, so it is
  largely blind to orientation and polarity: a chest film rotated by 90 degrees or inverted
  still yields "chest-like" features, while its layout and histogram are plainly wrong.

Each distance is divided by its own (1 - flag_rate) quantile on the validation X-rays, the
score is the larger of the two, and the threshold is set on that score so that at most
``flag_rate`` of real validation X-rays (floor(flag_rate * n)) are flagged, whichever part flags
them. Everything is fitted on the training split by ``training.calibrate`` and thresholded on its
validation split; bundles made before the image part keep the feature distance alone.

Colour pictures are flagged by a separate rule: the model sees grey, so a colour photo can
look normal to the features while being nothing like a radiograph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..defaults import OOD_FLAG_RATE

#: Hasler-Suesstrunk colourfulness above which a picture is not a radiograph (greyscale
#: X-rays saved as RGB JPEG score < 2; a faint sepia tint scores ~10; photos 30-100).
COLOURFULNESS_LIMIT = 8.0

#: The image descriptor's layout: an 8 x 8 thumbnail, a 16-bin histogram, a 4 x 4 edge grid.
THUMB, BINS, GRID = 8, 16, 4


def image_descriptor(images) -> np.ndarray:
    """(n, 96) description of model inputs: thumbnail, histogram, edge-strength grid.

    ``images``: (n, 128, 128) grey or (n, 128, 128, 3) model input, values in [0, 1].
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 4:
        x = x[..., 0]
    if x.ndim == 2:
        x = x[None]
    n, h, w = x.shape
    thumb = x.reshape(n, THUMB, h // THUMB, THUMB, w // THUMB).mean(axis=(2, 4)).reshape(n, -1)
    # Bin indices as uint8 (inputs lie in [0, 1], so 0..16): the int64 cast of 16 k values an
    # image made the histogram 5x slower, most of the descriptor's time.
    idx = (x.reshape(n, -1) * BINS).astype(np.uint8)
    np.minimum(idx, BINS - 1, out=idx)
    hist = np.stack([np.bincount(row, minlength=BINS) for row in idx]).astype(np.float32) / (h * w)
    # Neighbour differences written into place (np.diff's temporaries took twice as long;
    # the same numbers, bit for bit).
    grad = np.zeros_like(x)
    np.abs(np.subtract(x[:, :, 1:], x[:, :, :-1], out=grad[:, :, :-1]), out=grad[:, :, :-1])
    grad[:, :-1, :] += np.abs(x[:, 1:, :] - x[:, :-1, :])
    edges = grad.reshape(n, GRID, h // GRID, GRID, w // GRID).mean(axis=(2, 4)).reshape(n, -1)
    return np.concatenate([thumb, hist, edges], axis=1).astype(np.float64)


def _threshold_flagging_at_most(scores, rate: float) -> float:
    """A threshold with at most k = floor(rate * n) validation scores above it, so "<= 5%
    flagged" holds exactly on validation (an interpolated quantile flagged 40 of 785 = 5.1%).
    It sits midway between the k-th and (k+1)-th largest scores, not on a score: the prediction
    path (files, traced graph) reproduces fit()'s scores only to float precision."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    k = int(np.floor(rate * s.size + 1e-9))
    if k >= s.size:
        return float(s[0] - 1e-6 * max(abs(s[0]), 1.0))
    if k == 0:
        return float(s[-1] + 1e-6 * max(abs(s[-1]), 1.0))
    return float((s[s.size - k - 1] + s[s.size - k]) / 2)


def _stored(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def _descriptors(images, descriptors) -> Optional[np.ndarray]:
    if descriptors is not None:
        return np.atleast_2d(np.asarray(descriptors, dtype=np.float64))
    if images is not None:
        return image_descriptor(images)
    return None


def _fit_gaussian(x: np.ndarray, shrinkage: float, diagonal_target: bool) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    cov = np.atleast_2d(np.cov(x - mean, rowvar=False))
    if diagonal_target:
        # Shrink toward the per-dimension variances: the descriptor mixes units (grey levels,
        # histogram fractions, edge strengths), so a scaled identity would drown small ones.
        target = np.diag(np.maximum(np.diag(cov), 1e-8))
    else:
        # Ledoit-Wolf-style shrink toward the average variance keeps the inverse stable.
        target = np.eye(cov.shape[0]) * np.trace(cov) / cov.shape[0]
    cov = (1 - shrinkage) * cov + shrinkage * target
    return mean, np.linalg.inv(cov)


def _distance(x: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    d = np.atleast_2d(np.asarray(x, dtype=np.float64)) - mean
    # d P d^T row by row, as two einsums: 0.5 ms for 32 inputs against 2.7 for one three-way
    # einsum. Not through BLAS (d @ P, 0.1 ms): OpenBLAS's worker threads then spin on the
    # cores that decode and score, and a 256-film folder scored 17% slower (260 against 406
    # films/s on 2 cores, measured), the window's scoring alike.
    return np.sqrt(np.maximum((np.einsum("ij,jk->ik", d, precision) * d).sum(axis=1), 0.0))


@dataclass
class OODStats:
    mean: np.ndarray  # feature mean
    precision: np.ndarray  # inverse of the shrunk feature covariance
    threshold: float = float("inf")  # scores above it are flagged
    image_mean: Optional[np.ndarray] = None  # image-descriptor Gaussian (absent in old bundles)
    image_precision: Optional[np.ndarray] = None
    feature_scale: float = 1.0  # the distances are divided by these before taking the max
    image_scale: float = 1.0

    @classmethod
    def fit(cls, features: np.ndarray, shrinkage: float = 0.1, images=None, descriptors=None,
            image_shrinkage: float = 0.1) -> "OODStats":
        """Fit on training features and, when given, the training inputs (``images``, or their
        ``image_descriptor`` rows computed batch by batch to save memory)."""
        # Rounded to float32 at once, as save() stores them: the validation threshold is then set
        # with exactly the statistics a loaded bundle scores with (with float64 here and float32 in
        # the file, a near-singular covariance moved scores across the threshold).
        mean, precision = map(_stored, _fit_gaussian(features, shrinkage, diagonal_target=False))
        stats = cls(mean=mean, precision=precision)
        desc = _descriptors(images, descriptors)
        if desc is not None:
            stats.image_mean, stats.image_precision = map(
                _stored, _fit_gaussian(desc, image_shrinkage, diagonal_target=True))
        return stats

    @property
    def has_image_model(self) -> bool:
        return self.image_mean is not None and self.image_precision is not None

    def components(self, features, images=None, descriptors=None) -> dict[str, np.ndarray]:
        """Unscaled Mahalanobis distances: {"features": ..., "image": ... (when possible)}."""
        out = {"features": _distance(features, self.mean, self.precision)}
        desc = _descriptors(images, descriptors) if self.has_image_model else None
        if desc is not None:
            out["image"] = _distance(desc, self.image_mean, self.image_precision)
        return out

    def score(self, features, images=None, descriptors=None) -> np.ndarray:
        """The OOD score, flagged above ``threshold``. Without ``images`` (or for an old bundle)
        only the feature part counts."""
        return self.combine(self.components(features, images, descriptors))

    def combine(self, components: dict[str, np.ndarray]) -> np.ndarray:
        """The score from ``components()``: the larger of the scaled distances."""
        s = components["features"] / self.feature_scale
        if "image" in components:
            s = np.maximum(s, components["image"] / self.image_scale)
        return s

    def set_threshold(self, validation_features, flag_rate: float = OOD_FLAG_RATE, validation_images=None,
                      validation_descriptors=None) -> float:
        """Choose scales and threshold so that at most ``flag_rate`` of real validation X-rays
        (floor(flag_rate * n) of them) score above the threshold."""
        q = 1.0 - flag_rate
        c = self.components(validation_features, validation_images, validation_descriptors)
        if "image" in c:
            self.feature_scale = float(max(np.quantile(c["features"], q), 1e-12))
            self.image_scale = float(max(np.quantile(c["image"], q), 1e-12))
        scores = self.score(validation_features, validation_images, validation_descriptors)
        self.threshold = _threshold_flagging_at_most(scores, flag_rate)
        return self.threshold

    def save(self, path) -> None:
        arrays = dict(mean=self.mean.astype(np.float32), precision=self.precision.astype(np.float32),
                      threshold=np.float64(self.threshold))
        if self.has_image_model:
            arrays.update(image_mean=self.image_mean.astype(np.float32),
                          image_precision=self.image_precision.astype(np.float32),
                          feature_scale=np.float64(self.feature_scale),
                          image_scale=np.float64(self.image_scale))
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path) -> "OODStats":
        with np.load(path) as z:
            stats = cls(mean=z["mean"].astype(np.float64), precision=z["precision"].astype(np.float64),
                        threshold=float(z["threshold"]))
            if "image_mean" in z.files:
                stats.image_mean = z["image_mean"].astype(np.float64)
                stats.image_precision = z["image_precision"].astype(np.float64)
                stats.feature_scale = float(z["feature_scale"])
                stats.image_scale = float(z["image_scale"])
        return stats
