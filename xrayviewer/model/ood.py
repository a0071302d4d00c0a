"""Out-of-distribution score: how unlike the training radiographs an input is.

Mahalanobis distance of the network's pooled last-convolution features (Lee et al., 2018)
to the training set's mean, with a shrunk covariance so 256 dimensions fit on a few thousand
images. Colour pictures are flagged too: the model sees grey, so a colour photo can look
normal to the features while being nothing like a radiograph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Hasler-Suesstrunk colourfulness above which a picture is not a radiograph (greyscale
#: X-rays saved as RGB JPEG score < 2; a faint sepia tint scores ~10; photos 30-100).
COLOURFULNESS_LIMIT = 8.0


@dataclass
class OODStats:
    mean: np.ndarray
    precision: np.ndarray  # inverse of the shrunk covariance
    threshold: float = float("inf")  # distances above it are flagged

    @classmethod
    def fit(cls, features: np.ndarray, shrinkage: float = 0.1) -> "OODStats":
        f = np.asarray(features, dtype=np.float64)
        mean = f.mean(axis=0)
        cov = np.cov(f - mean, rowvar=False)
        cov = np.atleast_2d(cov)
        # Ledoit-Wolf-style shrink toward the average variance keeps the inverse stable.
        target = np.eye(cov.shape[0]) * np.trace(cov) / cov.shape[0]
        cov = (1 - shrinkage) * cov + shrinkage * target
        return cls(mean=mean, precision=np.linalg.inv(cov))

    def score(self, features: np.ndarray) -> np.ndarray:
        d = np.atleast_2d(np.asarray(features, dtype=np.float64)) - self.mean
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", d, self.precision, d), 0.0))

    def set_threshold(self, validation_features: np.ndarray, flag_rate: float = 0.05) -> float:
        """Choose the distance that flags ``flag_rate`` of real validation X-rays."""
        self.threshold = float(np.quantile(self.score(validation_features), 1.0 - flag_rate))
        return self.threshold

    def save(self, path) -> None:
        np.savez_compressed(path, mean=self.mean.astype(np.float32),
                            precision=self.precision.astype(np.float32),
                            threshold=np.float64(self.threshold))

    @classmethod
    def load(cls, path) -> "OODStats":
        with np.load(path) as z:
            return cls(mean=z["mean"].astype(np.float64), precision=z["precision"].astype(np.float64),
                       threshold=float(z["threshold"]))
