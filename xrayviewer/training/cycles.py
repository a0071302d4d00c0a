"""A cyclic learning-rate schedule whose cycle ends are averaged (issue 14's "cyclic schedule").

Why: the weight mean that the shipped recipe keeps helps on external films, but widening it to
epochs trained at a higher learning rate hurt (model_weights/README.md, rule 24): each averaged
point should itself be an annealed model. Restarting the cosine schedule a few times and
averaging the weights at the end of each cycle gives annealed points that differ more than
consecutive epochs do (stochastic weight averaging with a cyclic rate, Izmailov et al. 2018).

Plain arithmetic only, so it is tested without TensorFlow; fit() applies it batch by batch.
"""

from __future__ import annotations

import itertools
import math
from typing import Sequence


def cycle_plan(cycles: Sequence[int], epochs: int) -> tuple[int, ...]:
    """The cycle lengths for a run of ``epochs``: the recipe's own when they add up to it; a run
    of another length (an ``--epochs`` override for a short look or a test) anneals once."""
    cycles = tuple(int(c) for c in cycles)
    if cycles and sum(cycles) == epochs and all(c > 0 for c in cycles):
        return cycles
    return (int(epochs),)


def cycle_ends(cycles: Sequence[int]) -> tuple[int, ...]:
    """The 1-based epochs at which each cycle ends (the weights averaged)."""
    return tuple(itertools.accumulate(cycles))


def cyclic_rate(step: int, steps_per_epoch: int, cycles: Sequence[int], peak: float,
                restart_peak: float) -> float:
    """The learning rate at training step ``step`` (0-based): a cosine from the cycle's peak
    towards zero within each cycle; the first cycle starts at ``peak``, later ones at
    ``peak * restart_peak``. Past the last cycle the rate stays at its end."""
    start = 0
    for k, c in enumerate(cycles):
        length = c * steps_per_epoch
        if step < start + length or k == len(cycles) - 1:
            t = min(step - start, length) / max(1, length)
            top = peak if k == 0 else peak * restart_peak
            return top * 0.5 * (1.0 + math.cos(math.pi * t))
        start += length
    return 0.0
