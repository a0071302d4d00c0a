"""How far does each acquisition-like change move a model's log-odds on external films?

    python -m benchmarks.nuisance_probe MODEL.keras ... --external ../shared/data/chest_xray_external

Each external film's cached 128 px model input is changed one way at a time (blur, unsharp
masking, noise, JPEG recompression, a halved resolution, small rotations, shifts and zoom,
partial histogram equalisation, gamma, lower contrast, a mirror image) and scored through
the bundle's LiteRT network. Printed per change: the mean log-odds change per class, the
mean absolute change, and the external AUC under it. A shift common to both classes leaves
the AUC alone; what costs AUC on another site's films is how much such nuisances vary from
film to film, so the largest movers are the candidates for training-time invariance.
Analysis only (issue 14); nothing trains.
"""

from __future__ import annotations

import io
import sys

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from .common import load_predictor, predictor_logits, run_external_probe

C = 64.0  # the 128 px input's centre, for rotations and zooms about it


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("L")


def _affine(im: Image.Image, coeffs) -> Image.Image:
    # Pillow maps each output pixel (x, y) to the input (a x + b y + c, d x + e y + f); black fill.
    return im.transform(im.size, Image.AFFINE, coeffs, Image.BILINEAR, fillcolor=0)


def _gamma(gamma: float):
    lut = [int(round(255 * (v / 255) ** gamma)) for v in range(256)]
    return lambda im: im.point(lut)


#: name -> per-film change of a Pillow "L" image (None: done on the whole array in ``changed``).
CHANGES = {
    "blur sigma 1": lambda im: im.filter(ImageFilter.GaussianBlur(1.0)),
    "unsharp r2 100%": lambda im: im.filter(ImageFilter.UnsharpMask(2, 100, 0)),
    "noise SD 6": None,
    "JPEG quality 30": lambda im: _jpeg(im, 30),
    "half resolution": lambda im: im.resize((64, 64), Image.BILINEAR).resize(im.size, Image.BILINEAR),
    "rotate +5 deg": lambda im: im.rotate(5, Image.BILINEAR),
    "rotate -5 deg": lambda im: im.rotate(-5, Image.BILINEAR),
    "content right 8 px": lambda im: _affine(im, (1, 0, -8, 0, 1, 0)),
    "content down 8 px": lambda im: _affine(im, (1, 0, 0, 0, 1, -8)),
    "content up 8 px": lambda im: _affine(im, (1, 0, 0, 0, 1, 8)),
    "zoom in 10%": lambda im: _affine(im, (1 / 1.1, 0, C - C / 1.1, 0, 1 / 1.1, C - C / 1.1)),
    "zoom out 10%": lambda im: _affine(im, (1.1, 0, C - C * 1.1, 0, 1.1, C - C * 1.1)),
    "equalise 50%": lambda im: Image.blend(im, ImageOps.equalize(im), 0.5),
    "gamma 0.8": _gamma(0.8),
    "gamma 1.25": _gamma(1.25),
    "contrast x0.8": None,
    "mirror (heart on the right)": ImageOps.mirror,
}


def changed(name: str, grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if name == "noise SD 6":
        return np.clip(np.rint(grey + rng.normal(0, 6, grey.shape)), 0, 255).astype(np.uint8)
    if name == "contrast x0.8":  # about each film's own mean
        mean = grey.reshape(len(grey), -1).mean(axis=1)[:, None, None]
        return np.clip(np.rint(mean + 0.8 * (grey - mean)), 0, 255).astype(np.uint8)
    return np.stack([np.asarray(CHANGES[name](Image.fromarray(g)), dtype=np.uint8) for g in grey])


def probe(predictor, ext) -> list[str]:
    from xrayviewer.model.metrics import roc_auc

    y, grey = ext.y, ext.grey
    base = predictor_logits(predictor, grey)
    lines = [f"external AUC {roc_auc(y, base):.4f}"]
    rng = np.random.default_rng(1)
    for name in CHANGES:
        shifted = predictor_logits(predictor, changed(name, grey, rng))
        d = shifted - base
        lines.append(f"  {name:28s} mean change NORMAL {d[y == 0].mean():+.2f}, PNEUMONIA {d[y == 1].mean():+.2f}; "
                     f"mean |change| {np.abs(d).mean():.2f}; AUC {roc_auc(y, shifted):.4f}")
    return lines


def main(argv=None) -> int:
    return run_external_probe(__doc__, probe, load_predictor, argv)


if __name__ == "__main__":
    sys.exit(main())
