"""What training works on and gives back: the prepared split and the result of fit().

Kept apart from fit.py so that the distributed path (training.distribute), which fit() calls,
can build and return the same objects without importing fit().
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional


@dataclass
class FitResult:
    model_path: Optional[Path]  # None on a distributed run's non-chief worker (it writes nothing)
    metadata: dict
    history: list[dict] = field(default_factory=list)
    weights_sha256: str = ""  # distributed runs: every worker ends with the same weights


@dataclass
class PreparedSplit:
    """The samples fit() used, their input cache, and the patient-level split."""

    samples: list
    cache: object
    bad: list
    train: list
    val: list
    train_idx: list
    val_idx: list
