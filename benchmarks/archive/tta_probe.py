"""Does test-time augmentation (averaging a few views of each film) make a model hold up better
under acquisition shift? A validation-only experiment, on each model's own patient-level
validation split, clean and under the shifts of shift_probes.py.

Why: the issue on the bundled model lists "averaging a few models or test-time augmentations if
the cost stays low" among what transfers to the independent test split. Training more models
does not fit the 30-minute recipe budget; views of one film cost only a few forward passes of a
140 k-weight network. This script decides, on validation only, whether the app should do it.

    python -m benchmarks.archive.tta_probe /tmp/runs/default-tone-s{0,1,2}.keras \\
        --dataset ../shared/data/chest_xray [--json out.json]

Archived (finished: not adopted): results in benchmarks/runs/tta_probe.json, the decision in
model_weights/README.md ("Test-time augmentation: tried on validation, not adopted").

For every model and every image set (clean plus the 17 shifts), two scorings:

- ``single``: the film as the app scores it today;
- ``tta5``: the mean log-odds of five views of the 128 x 128 input: itself, zoomed in and out
  by 6 %, and rotated by +4 and -4 degrees. All five lie well inside what the training
  augmentation draws (rotation +/-9 deg, zoom +/-12 %); no flips (the heart's side).

Each scoring gets its own threshold, chosen on the clean validation films by the shipped rule
(the highest threshold with sensitivity >= 0.95); the shifted sets are scored at that threshold.
The views and the decision rule below were committed before this script was first run.

Decision rule (adopt TTA in the app only if all hold, over the three default-tone splits):
1. mean clean AUC with TTA >= mean clean AUC without - 0.0005;
2. mean "all" AUC (clean + every shift) and mean "all" accuracy both higher with TTA;
3. mean over splits of the worst shift's sensitivity higher with TTA;
4. the app's prediction budgets still hold (benchmarks/bench.py: predict_ms_fullres <= 60).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from xrayviewer.model.metrics import threshold_for_sensitivity

from ..common import load_network, model_logits, validation_inputs
from .probe_cli import run_probes
from .shift_probes import SHIFTS, apply_shift, rates_row

SENSITIVITY_TARGET = 0.95


def _zoom(im: Image.Image, zoom: float) -> Image.Image:
    w, h = im.size
    a = 1.0 / zoom
    return im.transform((w, h), Image.AFFINE, (a, 0, w / 2 - a * w / 2, 0, a, h / 2 - a * h / 2),
                        resample=Image.BILINEAR, fillcolor=0)


VIEWS = {
    "identity": lambda im: im,
    "zoom_in_6pct": lambda im: _zoom(im, 1.06),
    "zoom_out_6pct": lambda im: _zoom(im, 1 / 1.06),
    "rotate_+4deg": lambda im: im.rotate(4, resample=Image.BILINEAR, fillcolor=0),
    "rotate_-4deg": lambda im: im.rotate(-4, resample=Image.BILINEAR, fillcolor=0),
}


def score_sets(model, grey: np.ndarray) -> dict[str, np.ndarray]:
    """Per view, the log-odds of every image."""
    return {name: model_logits(model, np.stack([np.asarray(fn(Image.fromarray(g)), dtype=np.uint8) for g in grey]))
            for name, fn in VIEWS.items()}


def validation_sets(keras_path: Path, dataset: Path):
    """A bundle's own validation split, as (metadata, labels, network, image sets): the cached
    grey inputs clean and under every shift of shift_probes, ``{"clean": ..., name: ...}``."""
    from xrayviewer.model.bundle import read_model_info

    info = read_model_info(keras_path)
    _prepared, val = validation_inputs(info, dataset)
    y, grey = val.y.astype(np.float32), val.grey
    model = load_network(info.keras_path)
    sets = {"clean": grey}
    for shifts in SHIFTS.values():
        for name, fn in shifts.items():
            sets[name] = apply_shift(fn, grey, 0)
    return info, y, model, sets


def probe(keras_path: Path, dataset: Path) -> dict:
    info, y, model, sets = validation_sets(keras_path, dataset)
    scores = {}
    for name, images in sets.items():
        views = score_sets(model, images)
        scores[name] = {"single": views["identity"], "tta5": np.mean(list(views.values()), axis=0)}
    out = {"model": str(keras_path), "split_seed": int(info.meta["split"]["seed"]), "scorings": {}}
    for scoring in ("single", "tta5"):
        # The shipped rule on log-odds (monotone in the calibrated probability: same films).
        t_logit = threshold_for_sensitivity(y, scores["clean"][scoring], SENSITIVITY_TARGET)
        rows = {name: rates_row(y, s[scoring], t_logit) for name, s in scores.items()}
        out["scorings"][scoring] = {
            "threshold_logit": round(t_logit, 4), "rows": rows,
            "all": {k: round(float(np.mean([r[k] for r in rows.values()])), 4)
                    for k in ("auc", "accuracy", "sensitivity", "specificity")},
            "worst_sensitivity": min(r["sensitivity"] for r in rows.values()),
            "worst_specificity": min(r["specificity"] for r in rows.values()),
        }
    return out


def summarise(results: list[dict]) -> None:
    names = list(results[0]["scorings"]["single"]["rows"])
    for r in results:
        print(f"\n{Path(r['model']).stem} (split {r['split_seed']}): AUC / acc / sens / spec, single | tta5")
        for n in names:
            a, b = r["scorings"]["single"]["rows"][n], r["scorings"]["tta5"]["rows"][n]
            fmt = lambda x: f"{x['auc']:.4f} / {x['accuracy']:.3f} / {x['sensitivity']:.3f} / {x['specificity']:.3f}"
            print(f"  {n:20s} {fmt(a)} | {fmt(b)}")
    print("\nMeans over splits (single -> tta5):")
    for key, pick in (("clean AUC", lambda s: s["rows"]["clean"]["auc"]), ("all AUC", lambda s: s["all"]["auc"]),
                      ("all accuracy", lambda s: s["all"]["accuracy"]),
                      ("all sensitivity", lambda s: s["all"]["sensitivity"]),
                      ("all specificity", lambda s: s["all"]["specificity"]),
                      ("worst sensitivity", lambda s: s["worst_sensitivity"]),
                      ("worst specificity", lambda s: s["worst_specificity"])):
        a = [pick(r["scorings"]["single"]) for r in results]
        b = [pick(r["scorings"]["tta5"]) for r in results]
        per = ", ".join(f"{x:.4f}->{z:.4f}" for x, z in zip(a, b))
        print(f"  {key:18s} {np.mean(a):.4f} -> {np.mean(b):.4f}   ({per})")


def main(argv=None) -> int:
    return run_probes(__doc__, lambda m, args: probe(m, args.dataset), summarise, argv)


if __name__ == "__main__":
    sys.exit(main())
