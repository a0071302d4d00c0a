"""Summarise trained bundles (their .json metadata) as the recipe comparison table.

    python -m benchmarks.recipe_table RUN_DIR_OR_JSON...

Groups by recipe and epochs budget; prints mean +/- SD over seeds of validation AUC,
accuracy, sensitivity and specificity (at each model's own threshold), and the train time.
All figures come from the metadata that `xrayviewer train` wrote; nothing is typed in.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from xrayviewer.training.recipes import recipe_of  # old runs recorded "default" for default-v1


def _fmt(values: list[float], digits: int = 3) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run folders (every .json in them) or bundle .json files")
    files: list[Path] = []
    for p in ap.parse_args(argv).runs:
        files += sorted(p.glob("*.json")) if p.is_dir() else [p]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for f in files:
        meta = json.loads(f.read_text())
        if "recipe" not in meta or "validation" not in meta:
            continue
        groups[(recipe_of(meta), meta["training"]["epochs_max"])].append(meta)
    print("| recipe | input | params | epochs (max / run) | seeds | train time (min) | val AUC | val accuracy | val sensitivity | val specificity |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for (recipe, epochs), metas in sorted(groups.items()):
        v = [m["validation"] for m in metas]
        runs = "/".join(str(m["training"]["epochs_run"]) for m in metas)
        print(f"| {recipe} | {metas[0]['preprocessing']} | {metas[0]['training']['params']:,} | {epochs} / {runs} | "
              f"{len(metas)} | {_fmt([m['training']['seconds'] / 60 for m in metas], 1)} | "
              f"{_fmt([x['auc'] for x in v], 4)} | {_fmt([x['accuracy'] for x in v])} | "
              f"{_fmt([x['sensitivity'] for x in v])} | {_fmt([x['specificity'] for x in v])} |")
    _print_paired(groups)
    return 0


def _print_paired(groups: dict[tuple, list[dict]]) -> None:
    """Recipe differences on the same patient split (the seed draws the split), run by run.

    The splits differ in how hard their patients are, so a paired difference removes that part
    of the spread from the comparison; each row is one split, and the last the mean +/- SD.
    """
    by_recipe = {key: {m["split"]["seed"]: m for m in metas} for key, metas in groups.items()}
    keys = sorted(by_recipe)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            shared = sorted(set(by_recipe[a]) & set(by_recipe[b]))
            if len(shared) < 2:
                continue
            print(f"\nPaired on the same split: {a[0]} ({a[1]} epochs max) minus {b[0]} ({b[1]} epochs max)\n")
            print("| split seed | validation images | delta AUC | delta accuracy | delta specificity | false alarms (of normals) |")
            print("|---:|---:|---:|---:|---:|---|")
            deltas: dict[str, list[float]] = defaultdict(list)
            for seed in shared:
                va, vb = by_recipe[a][seed]["validation"], by_recipe[b][seed]["validation"]
                row = {k: va[k] - vb[k] for k in ("auc", "accuracy", "specificity")}
                for k, d in row.items():
                    deltas[k].append(d)
                print(f"| {seed} | {va['n']} | {row['auc']:+.4f} | {row['accuracy']:+.4f} | {row['specificity']:+.4f} | "
                      f"{va['fp']} vs {vb['fp']} of {va['fp'] + va['tn']} |")
            print(f"| mean ± SD | | {_fmt(deltas['auc'], 4)} | {_fmt(deltas['accuracy'], 4)} | "
                  f"{_fmt(deltas['specificity'], 4)} | |")


if __name__ == "__main__":
    sys.exit(main())
