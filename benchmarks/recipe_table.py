"""Summarise trained bundles (their .json metadata) as the recipe comparison table.

    python benchmarks/recipe_table.py RUN_DIR_OR_JSON...

Groups by recipe and epochs budget; prints mean +/- SD over seeds of validation AUC,
accuracy, sensitivity and specificity (at each model's own threshold), and the train time.
All figures come from the metadata that `xrayviewer train` wrote; nothing is typed in.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def _fmt(values: list[float], digits: int = 3) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main(argv: list[str]) -> int:
    files: list[Path] = []
    for a in argv:
        p = Path(a)
        files += sorted(p.glob("*.json")) if p.is_dir() else [p]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for f in files:
        meta = json.loads(f.read_text())
        if "recipe" not in meta or "validation" not in meta:
            continue
        groups[(meta["recipe"], meta["training"]["epochs_max"])].append(meta)
    print("| recipe | input | params | epochs (max / run) | seeds | train time (min) | val AUC | val accuracy | val sensitivity | val specificity |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for (recipe, epochs), metas in sorted(groups.items()):
        v = [m["validation"] for m in metas]
        runs = "/".join(str(m["training"]["epochs_run"]) for m in metas)
        print(f"| {recipe} | {metas[0]['preprocessing']} | {metas[0]['training']['params']:,} | {epochs} / {runs} | "
              f"{len(metas)} | {_fmt([m['training']['seconds'] / 60 for m in metas], 1)} | "
              f"{_fmt([x['auc'] for x in v])} | {_fmt([x['accuracy'] for x in v])} | "
              f"{_fmt([x['sensitivity'] for x in v])} | {_fmt([x['specificity'] for x in v])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
