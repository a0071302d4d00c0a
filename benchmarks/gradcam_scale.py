"""Measure ``model.gradcam.RED_AT`` for a bundle: the hottest Grad-CAM cell (logit per cell of
the explained layer) of the films the bundle scores closest to its threshold.

RED_AT is the overlay's full red, fixed across films so that maps compare; it is defined as
"as strong as the hottest spot of a film the bundled model scores at its threshold". A
retrained network scales its activations differently, so RED_AT is measured again whenever
a new model ships:

    python -m benchmarks.gradcam_scale model_weights/default.keras --dataset ../shared/data/chest_xray

Films: every 5th of the training folder (sorted), as when RED_AT was first set. LiteRT or
Keras, whichever the Predictor picks; the bundle must have a linear head (the shipped recipes).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from xrayviewer.imaging import ImageLoadError, find_images, load_image, preprocess
from xrayviewer.model.gradcam import RED_AT, linear_grad_cam
from xrayviewer.model.predictor import Predictor


def hottest_cells(predictor: Predictor, paths: list[str], batch_size: int = 64):
    """(probability, hottest raw Grad-CAM cell) per readable film."""
    head = predictor.info.linear_head
    if head is None:
        raise SystemExit("this bundle's head is not linear; RED_AT does not apply to it")
    out = []
    for start in range(0, len(paths), batch_size):
        batch = []
        for p in paths[start:start + batch_size]:
            try:
                batch.append(preprocess(load_image(p)))
            except ImageLoadError:
                continue
        if not batch:
            continue
        batch = np.stack(batch).astype(np.float32)
        # One forward pass gives both the score and the activations Grad-CAM needs.
        raw, conv = predictor._forward(batch)
        preds = predictor._predictions(batch, raw, conv, None)
        cams = linear_grad_cam(conv, head["weights"])
        out += [(p.probability, float(c.max())) for p, c in zip(preds, cams)]
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--dataset", required=True, help="the training folder (its train/ part is used)")
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--nearest", type=int, default=30)
    args = ap.parse_args(argv)
    predictor = Predictor.load(args.model)
    root = Path(args.dataset)
    paths = find_images([root / "train" if (root / "train").is_dir() else root])[::args.every]  # sorted
    rows = hottest_cells(predictor, paths)
    t = predictor.threshold
    near = sorted(rows, key=lambda r: abs(r[0] - t))[:args.nearest]
    level = statistics.median(h for _, h in near)
    print(f"{args.model}: {len(rows)} films (every {args.every}th), threshold {t:.4f}; the {len(near)} "
          f"closest to it (probabilities {min(p for p, _ in near):.3f}-{max(p for p, _ in near):.3f}):")
    print(f"  median hottest cell {level:.3f} logit per cell (RED_AT today: {RED_AT})")


if __name__ == "__main__":
    main()
