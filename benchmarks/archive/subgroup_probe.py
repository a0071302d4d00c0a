"""Where on its own validation split does a model err? Errors by the dataset's subgroups.

The file names of the Kermany training split mark two batches of normal films (`IM-xxxx` and
`NORMAL2-IM-xxxx`) and two kinds of pneumonia (`personN_bacteria_M`, `personN_virus_M`). A model
card should say whether errors concentrate in one of them: the independent test split's
normals are known to be harder, and a subgroup that is already harder on validation hints at
which films will cost specificity there. Analysis only: nothing here chooses anything.

    python -m benchmarks.archive.subgroup_probe /tmp/runs/default-tone-s{0,1,2}.keras \\
        --dataset ../shared/data/chest_xray [--target 0.98] [--json out.json]

Archived (finished analysis): results in benchmarks/runs/subgroup_probe.json, the table in
model_weights/README.md ("Errors by subgroup").

For each model: its own patient-level validation split (recorded in its metadata), the
threshold the current rule picks on it (highest with validation sensitivity >= --target), and
per subgroup the number of films, errors at that threshold and the 90th percentile of the
calibrated probability (how close the subgroup's tail comes to the threshold).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from xrayviewer.defaults import SENSITIVITY_TARGET

from .probe_cli import run_probes

SUBGROUPS = {  # name -> (label, test on the file name)
    "normal IM-": (0, lambda name: name.startswith("IM-")),
    "normal NORMAL2-IM-": (0, lambda name: name.startswith("NORMAL2-")),
    "pneumonia bacterial": (1, lambda name: "_bacteria_" in name),
    "pneumonia viral": (1, lambda name: "_virus_" in name),
}


def probe(keras_path: Path, dataset: Path, target: float) -> dict:
    from xrayviewer.model import Predictor
    from xrayviewer.training import scan_dataset
    from xrayviewer.training.evaluate import model_split

    predictor = Predictor.load(keras_path)
    _, val, warnings = model_split(scan_dataset(dataset), predictor.info.meta)
    if warnings:
        raise SystemExit(f"{keras_path}: its split cannot be reproduced: {warnings}")
    threshold = predictor.info.threshold_for_sensitivity(target)
    probs = np.array([r.prediction.probability for r in predictor.predict_files([s.path for s in val])])
    names = [Path(s.path).name for s in val]
    labels = np.array([s.label for s in val])
    groups = {}
    for group, (label, member) in SUBGROUPS.items():
        mask = np.array([member(n) for n in names]) & (labels == label)
        p = probs[mask]
        wrong = (p >= threshold) if label == 0 else (p < threshold)
        groups[group] = {"films": int(mask.sum()), "errors": int(wrong.sum()),
                         "p90": round(float(np.quantile(p, 0.9)), 3) if len(p) else None}
    return {"model": keras_path.name, "target": target, "threshold": round(float(threshold), 4), "groups": groups}


def print_table(results: list[dict]) -> None:
    print("| subgroup | " + " | ".join(r["model"] for r in results) + " | all |")
    print("|---|" + "---:|" * (len(results) + 1))
    for group in SUBGROUPS:
        cells = [r["groups"][group] for r in results]
        errors, films = sum(c["errors"] for c in cells), sum(c["films"] for c in cells)
        row = [f"{c['errors']} / {c['films']} (p90 {c['p90']})" for c in cells]
        print(f"| {group} | " + " | ".join(row) + f" | {errors} / {films} ({errors / max(1, films):.1%}) |")


def main(argv=None) -> int:
    def target(ap):
        ap.add_argument("--target", type=float, default=SENSITIVITY_TARGET, help="the threshold rule's sensitivity target")

    return run_probes(__doc__, lambda m, args: probe(m, args.dataset, args.target), print_table, argv, target)


if __name__ == "__main__":
    sys.exit(main())
