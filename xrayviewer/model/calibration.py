"""Temperature scaling (Guo et al., 2017): one scalar T fitted on validation logits.

p_calibrated = sigmoid(logit(p) / T). T > 1 softens an over-confident network. It keeps the
ranking (AUC) unchanged, so a threshold chosen on calibrated validation scores stays valid.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-7


def logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def apply_temperature(probs, temperature: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logit(probs) / float(temperature)))


def _nll(labels, logits, temperature: float) -> float:
    z = logits / temperature
    # log(1 + e^-|z|) form: stable for large |z|.
    return float(np.mean(np.logaddexp(0, z) - labels * z))


def fit_temperature(labels, probs, low: float = 0.05, high: float = 20.0) -> float:
    """The T minimising validation negative log-likelihood (golden-section on log T)."""
    y = np.asarray(labels, dtype=np.float64)
    z = logit(probs)
    a, b = np.log(low), np.log(high)
    golden = (np.sqrt(5) - 1) / 2
    c, d = b - golden * (b - a), a + golden * (b - a)
    for _ in range(80):
        if _nll(y, z, np.exp(c)) < _nll(y, z, np.exp(d)):
            b = d
        else:
            a = c
        c, d = b - golden * (b - a), a + golden * (b - a)
    return float(np.exp((a + b) / 2))
