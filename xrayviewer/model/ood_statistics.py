"""Which image statistics put a flagged film outside the training films, in a reader's words.

The image part of the out-of-distribution score (``ood.image_descriptor``: an 8 x 8 thumbnail,
a 16-bin grey histogram, a 4 x 4 grid of edge strength) is one Mahalanobis distance: it says
*that* a film is unusual, not *how*. Here a few named measures are read off the same
descriptor (overall brightness for exposure, the grey-level spread for contrast, the vertical
bright band of the mediastinum for rotation and inversion, the edges against the centre for cropping, the
edge strength for noise) and each is compared with the training films through the Gaussian
the bundle already stores: for a measure f, its training mean is f(mean) and its spread
sqrt(g' S g), with g the gradient of f at the mean and S the stored covariance (exact for the
linear measures, a first-order approximation for the contrast). No new statistics are fitted,
so every bundle with an image model can explain its flags.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from . import reasons
from .ood import BINS, GRID, THUMB, OODStats
from .reasons import Reason, ReasonKind

#: A measure this many training standard deviations from the training mean is named. About 1
#: in 80 training films passes 2.5 on one given measure; flagged films pass it far more often.
Z_NAMED = 2.5
#: At most this many measures are named, the most deviant first: more reads as noise.
MAX_NAMED = 2

_N_THUMB, _N_HIST = THUMB * THUMB, BINS
_CENTRES = (np.arange(BINS) + 0.5) / BINS


def _thumb(d):
    return d[:_N_THUMB].reshape(THUMB, THUMB)


def _hist(d):
    return d[_N_THUMB:_N_THUMB + _N_HIST]


def _edges(d):
    return d[_N_THUMB + _N_HIST:_N_THUMB + _N_HIST + GRID * GRID]


def _exposure(d):
    return _thumb(d).mean()


def _contrast(d):
    h = _hist(d)
    total = max(h.sum(), 1e-9)
    m = (h * _CENTRES).sum() / total
    return np.sqrt(max((h * _CENTRES ** 2).sum() / total - m * m, 0.0))


_MID, _SIDES = [3, 4], [1, 2, 5, 6]


def _bands(d):
    """How much brighter the middle band is than either side of it, down the film (the
    mediastinum, bone white, between the dark lungs) and across it, in units of the film's
    grey-level spread: a low-contrast film keeps its layout and is not called turned."""
    t = _thumb(d)
    spread = max(_contrast(d), 1e-3)
    vertical = t[1:7, _MID].mean() - t[1:7][:, _SIDES].mean()
    horizontal = t[_MID, 1:7].mean() - t[_SIDES][:, 1:7].mean()
    return vertical / spread, horizontal / spread


def _upright(d):
    """Down minus across: large on an upright frontal film, low when it is turned by 90 degrees."""
    vertical, horizontal = _bands(d)
    return vertical - horizontal


def _polarity(d):
    """Down plus across: a turned film keeps a bright band one way; a negative has none."""
    vertical, horizontal = _bands(d)
    return vertical + horizontal


def _border(d):
    t = _thumb(d)
    ring = np.ones((THUMB, THUMB), bool)
    ring[1:-1, 1:-1] = False
    return t[ring].mean() - t[2:-2, 2:-2].mean()


def _detail(d):
    return _edges(d).mean()


#: Measures named only when their value itself says so, not merely an unusual one: a turned
#: film has its bright band across (down minus across < 0), a negative has none (sum < 0).
_ONLY_IF_NEGATIVE = {ReasonKind.ROTATION, ReasonKind.INVERTED}

#: kind -> (measure, which directions are worth naming: +1 above the training films, -1 below)
MEASURES: dict[ReasonKind, tuple[Callable[[np.ndarray], float], tuple[int, ...]]] = {
    ReasonKind.EXPOSURE: (_exposure, (1, -1)),
    ReasonKind.CONTRAST: (_contrast, (1, -1)),
    ReasonKind.INVERTED: (_polarity, (-1,)),
    ReasonKind.ROTATION: (_upright, (-1,)),
    ReasonKind.CROPPING: (_border, (1, -1)),
    ReasonKind.NOISE: (_detail, (1, -1)),
}


def _gradient(f, at: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    g = np.zeros_like(at)
    for j in range(at.size):
        step = np.zeros_like(at)
        step[j] = eps
        g[j] = (f(at + step) - f(at - step)) / (2 * eps)
    return g


class StatisticExplainer:
    """Z-scores of the named measures against one bundle's training films."""

    def __init__(self, stats: OODStats):
        if not stats.has_image_model:
            raise ValueError("these OOD statistics have no image model")
        self.mean = np.asarray(stats.image_mean, dtype=np.float64)
        cov = np.linalg.inv(np.asarray(stats.image_precision, dtype=np.float64))
        self._centre, self._spread = {}, {}
        for kind, (f, _signs) in MEASURES.items():
            g = _gradient(f, self.mean)
            self._centre[kind] = float(f(self.mean))
            self._spread[kind] = float(np.sqrt(max(g @ cov @ g, 1e-18)))

    def z_scores(self, descriptor: np.ndarray) -> dict[ReasonKind, float]:
        d = np.asarray(descriptor, dtype=np.float64).reshape(-1)
        return {kind: (float(f(d)) - self._centre[kind]) / self._spread[kind] for kind, (f, _) in MEASURES.items()}

    def reasons(self, descriptor: np.ndarray) -> tuple[Reason, ...]:
        """The measures that stand out (|z| >= Z_NAMED in a direction worth naming), worst first."""
        d = np.asarray(descriptor, dtype=np.float64).reshape(-1)
        named = []
        for kind, z in self.z_scores(d).items():
            sign = 1 if z > 0 else -1
            if kind in _ONLY_IF_NEGATIVE and MEASURES[kind][0](d) >= 0:
                continue
            if abs(z) >= Z_NAMED and sign in MEASURES[kind][1]:
                named.append((abs(z), reasons.statistic(kind, sign)))
        named.sort(key=lambda pair: -pair[0])
        if any(r.kind is ReasonKind.INVERTED for _, r in named):
            # A negative film also lacks an upright bright mediastinum and has bright edges:
            # name the cause, not its consequences.
            named = [(z, r) for z, r in named if r.kind not in (ReasonKind.ROTATION, ReasonKind.CROPPING)]
        return tuple(r for _, r in named[:MAX_NAMED])


def pixel_reasons(stats: OODStats, parts: dict, i: int, explainer: Optional[StatisticExplainer],
                  descriptor: Optional[np.ndarray]) -> tuple[Reason, ...]:
    """Why input ``i`` was flagged by the pixel score: the named measures that stand out,
    else which part of the score flagged it (``parts``: ``OODStats.components``)."""
    if explainer is not None and descriptor is not None:
        named = explainer.reasons(descriptor)
        if named:
            return named
    image = parts.get("image")
    if image is not None and image[i] / stats.image_scale >= parts["features"][i] / stats.feature_scale:
        return (reasons.layout(),)
    # "exposure, contrast... look typical" only where they were measured.
    return (reasons.appearance() if explainer is not None and descriptor is not None else reasons.general(),)
