"""How much does a model's pneumonia log-odds move when only the film's illumination changes?

    python -m benchmarks.illumination_probe MODEL.keras ... --external ../shared/data/chest_xray_external

Every external film (its cached 128 px model input) is multiplied by a smooth random gain
field: a 3 x 3 grid of log-gains drawn with SD 0.08 and 0.15, bicubic-interpolated over the film
(four draws each, generator seed 0, so every model sees the same fields); then by a Gaussian
bump (SD 30 px) that brightens or darkens the centre by 10%; then by a uniform gain of 0.9 and
1.1. Printed per model: the external AUC, the mean absolute (fields) or mean (bump, uniform)
log-odds change per class, and the AUC under each change. A model that reads the lungs rather
than broad brightness moves little. Scores through the bundle's LiteRT network, as the app
does. Analysis only (issue 14, rule 29); nothing trains.
"""

from __future__ import annotations

import sys

import numpy as np

from xrayviewer.training.augment import smooth_gain
from xrayviewer.training.augment import times_gain as apply_gain

from .common import load_predictor, predictor_logits, run_external_probe

FIELD_SDS = (0.08, 0.15)
DRAWS = 4


def gain_fields(rng: np.random.Generator, n: int, sd: float, size: int = 128) -> np.ndarray:
    """(n, size, size) smooth gains, the fields the illumination augmentation draws."""
    return np.stack([smooth_gain(rng, sd, (size, size)) for _ in range(n)])


def centre_bump(size: int = 128, sd: float = 30.0) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    c = (size - 1) / 2 + 0.5  # pixel 64 of 128, as first measured
    return np.exp(-((yy - c) ** 2 + (xx - c) ** 2) / (2 * sd ** 2)).astype(np.float32)


def probe(predictor, ext) -> list[str]:
    from xrayviewer.model.metrics import roc_auc

    y, grey = ext.y, ext.grey
    base = predictor_logits(predictor, grey)
    lines = [f"external AUC {roc_auc(y, base):.4f} (n={len(y)}, {int((y == 0).sum())} normal)"]
    rng = np.random.default_rng(0)
    for sd in FIELD_SDS:
        changes, aucs = [], []
        for _ in range(DRAWS):
            shifted = predictor_logits(predictor, apply_gain(grey, gain_fields(rng, len(grey), sd)))
            changes.append(shifted - base)
            aucs.append(roc_auc(y, shifted))
        d = np.abs(np.stack(changes))
        lines.append(f"  fields SD {sd}: mean |change| NORMAL {d[:, y == 0].mean():.2f}, PNEUMONIA "
                     f"{d[:, y == 1].mean():.2f}; AUC per draw {', '.join(f'{a:.4f}' for a in aucs)} "
                     f"(mean {np.mean(aucs):.4f})")
    for label, gain in (("centre -10%", 1 - 0.1 * centre_bump()), ("centre +10%", 1 + 0.1 * centre_bump()),
                        ("uniform x0.9", np.float32(0.9)), ("uniform x1.1", np.float32(1.1))):
        shifted = predictor_logits(predictor, apply_gain(grey, gain))
        d = shifted - base
        lines.append(f"  {label}: mean change NORMAL {d[y == 0].mean():+.2f}, PNEUMONIA {d[y == 1].mean():+.2f}; "
                     f"AUC {roc_auc(y, shifted):.4f}")
    return lines


def main(argv=None) -> int:
    return run_external_probe(__doc__, probe, load_predictor, argv)


if __name__ == "__main__":
    sys.exit(main())
