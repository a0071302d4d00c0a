"""How much does a model's pneumonia log-odds move when only the film's framing changes?

    python -m benchmarks.framing_probe MODEL.keras ... --external ../shared/data/chest_xray_external

Every external film is stretched or squeezed horizontally about its centre (width x0.8, x0.9,
x1.1, x1.25; black where no film is left), and the mean change of the network's log-odds is
printed per class, with the Spearman correlation between the dark fraction of the outer 12 px
columns and the log-odds within each class. A model that reads lungs, not framing, moves little.
Analysis only (issue 14); nothing trains.
"""

from __future__ import annotations

import sys

import numpy as np
from PIL import Image

from .common import load_network, model_logits, run_external_probe

WIDTHS = (0.8, 0.9, 1.1, 1.25)


def side_dark_fraction(batch: np.ndarray) -> np.ndarray:
    sides = np.concatenate([batch[:, :, :12], batch[:, :, -12:]], axis=2)
    return (sides < 15).mean(axis=(1, 2))


def zoom_width(batch: np.ndarray, sx: float) -> np.ndarray:
    c = batch.shape[2] / 2
    return np.stack([np.asarray(Image.fromarray(g).transform(g.shape[::-1], Image.AFFINE, (1 / sx, 0, c - c / sx, 0, 1, 0),
                                                             resample=Image.BILINEAR, fillcolor=0)) for g in batch])


def spearman(a, b) -> float:
    return float(np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1])


def probe(model, ext) -> list[str]:
    y, grey = ext.y, ext.grey
    base = model_logits(model, grey)
    lines = [f"Spearman(side dark fraction, log-odds) NORMAL {spearman(side_dark_fraction(grey[y == 0]), base[y == 0]):+.2f}"
             f", PNEUMONIA {spearman(side_dark_fraction(grey[y == 1]), base[y == 1]):+.2f}"]
    for sx in WIDTHS:
        d = model_logits(model, zoom_width(grey, sx)) - base
        lines.append(f"  width x{sx}: mean log-odds change NORMAL {d[y == 0].mean():+.2f}, PNEUMONIA {d[y == 1].mean():+.2f}")
    return lines


def main(argv=None) -> int:
    return run_external_probe(__doc__, probe, load_network, argv)


if __name__ == "__main__":
    sys.exit(main())
