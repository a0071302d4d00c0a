"""Checkpoint rules compared within one training run, from its per-epoch weight snapshots
(``xrayviewer train --keep-snapshots`` writes <name>.epochs.npz beside the bundle):

    python -m benchmarks.snapshot_eval RUN.keras ... --dataset ../shared/data/chest_xray \\
        --external ../shared/data/chest_xray_external [--last K] [--json out.json]

For every epoch: internal validation AUC and external AUC of that epoch's weights. Then, per
run, the checkpoint rules of model_weights/README.md (issue 14, rule 4):

- ``best-val``: the epoch with the best internal validation AUC, as fit() chose it (its
  metadata's ``best_epoch``);
- ``best-ext``: the epoch with the best external AUC (optimistic on external by construction);
- ``swa-last5``: the mean of the last 5 epochs' weights (BatchNorm statistics averaged too);
- ``ens-last5``: the mean log-odds of the last 5 epochs' networks (5x the prediction cost; for
  reference only).

``--last K`` widens both to the last K epochs (rule 24: K = 10); ``--epochs 12,15,18,21`` names
the epochs instead (rule 28: a cyclic schedule's cycle ends).

Each gets AUC with a patient bootstrap interval on both sets and the rates at the ``val95``
threshold (fitted on internal validation) and the ``ext-oracle`` point, as external_eval does.
Scores are the network's raw log-odds: calibration is monotone, so AUC and thresholds fitted on
internal validation pick the same films as on calibrated probabilities. Nothing here trains.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from xrayviewer.model.metrics import roc_auc, threshold_for_sensitivity
from xrayviewer.training.averaging import mean_weights

from .common import external_inputs, model_logits, validation_inputs
from .external_eval import set_figures

LAST = 5


def load_snapshots(path: Path) -> list[list[np.ndarray]]:
    """Every epoch's weight list, epoch 1 first."""
    z = np.load(path)
    epochs = sorted({int(k.split("_")[0][1:]) for k in z.files})
    count = len({k for k in z.files if k.startswith("e1_")})
    return [[z[f"e{e}_{i}"] for i in range(count)] for e in epochs]


def figures(name: str, val_logits, ext_logits, val, ext) -> dict:
    t = threshold_for_sensitivity(val["y"], val_logits, 0.95)
    return {"rule": name,
            "internal": set_figures(val["y"], val_logits, val["groups"], {"val95": t}),
            "external": set_figures(ext["y"], ext_logits, ext["groups"], {"val95": t}, oracle=True)}


def probe(keras_path: Path, dataset: Path, external: Path, last: int = LAST, epochs=None) -> dict:
    from xrayviewer.model.architectures import build_model
    from xrayviewer.model.bundle import read_model_info
    from xrayviewer.training.recipes import get_recipe, recipe_of

    info = read_model_info(keras_path)
    _prepared, v = validation_inputs(info, dataset)
    val = {"y": v.y, "groups": v.groups, "grey": v.grey}
    e = external_inputs(external)
    ext = {"y": e.y, "groups": e.groups, "grey": e.grey}
    snaps = load_snapshots(keras_path.with_name(keras_path.name[:-len(".keras")] + ".epochs.npz"))
    model = build_model(get_recipe(recipe_of(info.meta)).network)

    def logits(weights):
        model.set_weights(weights)
        return model_logits(model, val["grey"]), model_logits(model, ext["grey"])

    per_epoch = [logits(w) for w in snaps]
    curve = [{"epoch": e, "val_auc": round(roc_auc(val["y"], v), 5), "ext_auc": round(roc_auc(ext["y"], x), 5)}
             for e, (v, x) in enumerate(per_epoch, start=1)]
    # The epoch fit() kept by its own (Keras, streaming) validation AUC, which can differ from
    # the exact AUC's choice here by a hair (seed 2 of default-frame: epoch 15 against 21).
    best_val = int(info.meta["training"]["best_epoch"])
    best_ext = max(curve, key=lambda c: (c["ext_auc"], -c["epoch"]))["epoch"]
    if epochs:  # named epochs (1-based), e.g. a cyclic schedule's cycle ends
        chosen = [int(e) for e in epochs]
        label = "epochs " + ",".join(map(str, chosen))
        tag = f"{len(chosen)}"
    else:
        chosen = list(range(max(1, len(snaps) - last + 1), len(snaps) + 1))
        label, tag = f"epochs {chosen[0]}-{chosen[-1]}", f"last{last}"
    recent = [per_epoch[e - 1] for e in chosen]
    swa = mean_weights([snaps[e - 1] for e in chosen])  # what fit() keeps (average_last, or cycle ends)
    rules = [figures(f"best-val (epoch {best_val})", *per_epoch[best_val - 1], val, ext),
             figures(f"best-ext (epoch {best_ext})", *per_epoch[best_ext - 1], val, ext),
             figures(f"last epoch ({len(snaps)})", *per_epoch[-1], val, ext),
             figures(f"swa-{tag} ({label})", *logits(swa), val, ext),
             figures(f"ens-{tag} ({label})", np.mean([v for v, _ in recent], axis=0),
                     np.mean([x for _, x in recent], axis=0), val, ext)]
    return {"model": str(keras_path), "recipe": recipe_of(info.meta), "seed": info.meta["split"]["seed"],
            "bundle_best_epoch": info.meta["training"]["best_epoch"], "curve": curve, "rules": rules}


def report(res: dict) -> str:
    lines = [f"{Path(res['model']).name} ({res['recipe']}, split {res['seed']}; bundle kept epoch "
             f"{res['bundle_best_epoch']})",
             "  epoch  val AUC  ext AUC"]
    lines += [f"  {c['epoch']:>5}  {c['val_auc']:.4f}   {c['ext_auc']:.4f}" for c in res["curve"]]
    for r in res["rules"]:
        i, e = r["internal"], r["external"]
        v95, orc = e["at"]["val95"], e["at"]["ext-oracle"]
        lines.append(f"  {r['rule']:<40} val AUC {i['auc']:.4f}  ext AUC {e['auc']:.4f} "
                     f"({e['auc_ci95'][0]:.3f}-{e['auc_ci95'][1]:.3f})  val95: ext acc {v95['accuracy']:.3f} "
                     f"sens {v95['sensitivity']:.3f} spec {v95['specificity']:.3f}  oracle(sens>=0.93): "
                     f"acc {orc['accuracy']:.3f} spec {orc['specificity']:.3f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--external", type=Path, required=True)
    ap.add_argument("--last", type=int, default=LAST, help="epochs in the weight mean and snapshot ensemble")
    ap.add_argument("--epochs", type=lambda t: [int(e) for e in t.split(",")],
                    help="average these epochs (comma-separated, 1-based) instead of the last K")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    out = []
    for m in args.models:
        res = probe(m, args.dataset, args.external, args.last, args.epochs)
        out.append(res)
        print(report(res), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
