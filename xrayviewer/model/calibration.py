"""Temperature scaling (Guo et al., 2017): one scalar T fitted on validation logits.

p_calibrated = sigmoid(logit(p) / T + shift). T > 1 softens an over-confident network. Both
maps are increasing, so the ranking (AUC) is unchanged and a threshold chosen on calibrated
validation scores stays valid.

``shift`` is not fitted: it is the prior correction for class-weighted training. A network
trained with class weights n/(2 n_c) learns posteriors for a balanced 50/50 prior, so its
logit is off by the training set's log prior odds log(n_pos / n_neg) (Saerens et al., 2002).
Temperature alone cannot move an intercept: asked to fit a biased model it distorts T instead
(on a 200-image smoke model it chose T = 0.06, squeezing every output onto the base rate).
Models trained without class weights, and bundles made before this correction, use 0.
"""

from __future__ import annotations

import math

import numpy as np

_EPS = 1e-7


def logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def scalar_logit(p: float) -> float:
    """:func:`logit` of one number, in plain floats: the worklist asks it of every row it
    draws, where numpy's per-call cost (~10 us for two arrays of one) added up."""
    p = min(max(float(p), _EPS), 1 - _EPS)
    return math.log(p) - math.log1p(-p)


def apply_temperature(probs, temperature: float, shift: float = 0.0) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(logit(probs) / float(temperature) + float(shift))))


def prior_shift(n_positive: float, n_negative: float) -> float:
    """log(n_pos / n_neg): the logit correction for a model trained with balancing class weights."""
    return float(np.log(max(n_positive, 1.0) / max(n_negative, 1.0)))


def _nll(targets, logits, temperature: float, shift: float) -> float:
    z = logits / temperature + shift
    # log(1 + e^z) - t z, written with logaddexp: stable for large |z|.
    return float(np.mean(np.logaddexp(0, z) - targets * z))


def fit_temperature(labels, probs, shift: float = 0.0, low: float = 0.05, high: float = 20.0) -> float:
    """The T minimising validation negative log-likelihood (golden-section on log T).

    Targets are Platt's (1999) prior-corrected ones, (n+ + 1)/(n+ + 2) for positives and
    1/(n- + 2) for negatives, instead of 1 and 0: on a few hundred images they differ from 0/1
    by < 0.01 (T barely moves), but on a small, perfectly separable validation set the plain
    likelihood has no minimum and T would run to its lower bound, turning every output into
    0 or 1.
    """
    y = np.asarray(labels, dtype=np.float64).astype(bool)
    z = logit(probs)
    if y.size == 0:
        return 1.0
    n_pos, n_neg = float(y.sum()), float((~y).sum())
    t = np.where(y, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    a, b = np.log(low), np.log(high)
    golden = (np.sqrt(5) - 1) / 2
    c, d = b - golden * (b - a), a + golden * (b - a)
    for _ in range(80):
        if _nll(t, z, np.exp(c), shift) < _nll(t, z, np.exp(d), shift):
            b = d
        else:
            a = c
        c, d = b - golden * (b - a), a + golden * (b - a)
    return float(np.exp((a + b) / 2))


def fit_platt(labels, probs, iterations: int = 100) -> tuple[float, float]:
    """(temperature, shift) minimising the negative log-likelihood of
    ``sigmoid(logit(p) / temperature + shift)``: Platt scaling on the network's logit.

    Unlike fit_temperature, the intercept is fitted too. A site whose films the network
    scores systematically higher or lower (another scanner, another case mix) needs its
    intercept moved; temperature alone cannot move it. Same Platt targets as fit_temperature,
    so a small, separable set does not drive the slope to infinity. The result plugs into
    apply_temperature unchanged (a bundle stores temperature and shift). Newton's method on
    the two parameters (a convex problem); a negative slope (a model worse than chance on
    these cases) is refused with ValueError rather than inverting every verdict.
    """
    y = np.asarray(labels, dtype=np.float64).astype(bool)
    z = logit(probs)
    if y.all() or not y.any():
        raise ValueError("Platt scaling needs cases of both classes.")
    n_pos, n_neg = float(y.sum()), float((~y).sum())
    t = np.where(y, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    a, b = 1.0, 0.0  # slope on the logit (1 / temperature) and intercept
    loss = _nll(t, z, 1.0 / a, b)
    for _ in range(iterations):
        q = 1.0 / (1.0 + np.exp(-np.clip(a * z + b, -500, 500)))
        w = np.maximum(q * (1 - q), 1e-12)
        g = np.array([np.sum((q - t) * z), np.sum(q - t)])
        h = np.array([[np.sum(w * z * z), np.sum(w * z)], [np.sum(w * z), np.sum(w)]]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(h, g)
        # Damped: halve the step until the likelihood improves (plain Newton overshoots from
        # a start far from the optimum, where the network's logits reach +-16).
        scale = 1.0
        while scale > 1e-6:
            na, nb = a - scale * step[0], b - scale * step[1]
            if na > 0 and _nll(t, z, 1.0 / na, nb) <= loss:
                break
            scale /= 2
        else:
            break
        a, b, previous = na, nb, loss
        loss = _nll(t, z, 1.0 / a, b)
        if previous - loss < 1e-12:
            break
    if not np.isfinite(a) or a <= 0:
        raise ValueError("These cases rank pneumonia no better than chance; the model cannot be calibrated on them.")
    return float(1.0 / a), float(b)
