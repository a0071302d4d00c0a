"""Which sensitivity target should the threshold rule use? A validation-only experiment on the
shipped recipe's three patient-level validation splits, clean and under the 17 shifts of
shift_probes.py.

Why: fit() set the threshold (until this probe moved it to 0.98) to the highest one with validation sensitivity >= 0.95. On clean
validation that leaves no false alarms at all (specificity 1.000), but under the simulated
acquisition shifts nearly every error the shipped recipe makes is a miss: specificity stays >=
0.96 while sensitivity falls to 0.88-0.91 under gamma, equalisation, unsharp masking and local
contrast. The product's requirement is sensitivity >= 0.93 and specificity >= 0.85 (issue #3),
and a second reader for pneumonia should lean towards sensitivity. This measures, for a few
candidate targets, how far each model stays above both requirements on its worst image set.

    python -m benchmarks.archive.operating_point_probe /tmp/runs/default-tone-s{0,1,2}.keras \\
        --dataset ../shared/data/chest_xray [--json out.json]
    python -m benchmarks.archive.operating_point_probe --from-json benchmarks/runs/operating_point_probe.json

Archived (finished: the rule picked 0.98, now fit()'s target): results in
benchmarks/runs/operating_point_probe.json, the decision in model_weights/README.md
("Operating point: the threshold rule now targets sensitivity 0.98").

For each model, target and image set (clean plus 17 shifts): threshold chosen on clean
validation by the rule, then the margin min(sensitivity - 0.93, specificity - 0.85).

Decision rule (committed before the first run), applied to the three runs of the recipe that
`default` names when the rule is run:
- Candidates: sensitivity targets 0.95 (today's), 0.97, 0.98 and 0.99.
- A candidate is eligible only if its clean validation specificity is >= 0.97 on every split:
  the issue warns that the independent test split's normals are harder than train's, which no
  simulated shift captures, so specificity keeps a wide margin on clean films.
- Score: the mean over splits of the worst image set's margin.
- The target changes from 0.95 only to the eligible candidate with the best score, and only if
  that score beats 0.95's by at least 0.01 (one point); otherwise it stays 0.95.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from xrayviewer.model.metrics import threshold_for_sensitivity

from ..common import model_logits
from .probe_cli import run_probes
from .shift_probes import rates_row
from .tta_probe import validation_sets

TARGETS = (0.95, 0.97, 0.98, 0.99)
BAR_SENSITIVITY, BAR_SPECIFICITY = 0.93, 0.85
MIN_CLEAN_SPECIFICITY = 0.97
MIN_GAIN = 0.01


def probe(keras_path: Path, dataset: Path) -> dict:
    info, y, model, sets = validation_sets(keras_path, dataset)
    scores = {name: model_logits(model, images) for name, images in sets.items()}
    out = {"model": str(keras_path), "split_seed": int(info.meta["split"]["seed"]), "targets": {}}
    for target in TARGETS:
        t = threshold_for_sensitivity(y, scores["clean"], target)  # on log-odds: same films
        rows = {}
        for name, s in scores.items():
            row = rates_row(y, s, t)
            rows[name] = dict(row, margin=round(min(row["sensitivity"] - BAR_SENSITIVITY,
                                                    row["specificity"] - BAR_SPECIFICITY), 4))
        worst = min(rows, key=lambda n: rows[n]["margin"])
        out["targets"][str(target)] = {"threshold_logit": round(t, 4), "rows": rows, "worst_set": worst,
                                       "worst_margin": rows[worst]["margin"]}
    return out


def decide(results: list[dict]) -> float:
    """Print the table and return the sensitivity target the rule picks."""
    print("| target | clean spec (per split) | worst set's margin (per split) | mean worst margin | eligible |")
    print("|---:|---|---|---:|---|")
    score, eligible = {}, {}
    for target in TARGETS:
        rows = [r["targets"][str(target)] for r in results]
        clean_spec = [x["rows"]["clean"]["specificity"] for x in rows]
        worst = [x["worst_margin"] for x in rows]
        score[target] = float(np.mean(worst))
        eligible[target] = min(clean_spec) >= MIN_CLEAN_SPECIFICITY
        per = ", ".join(f"{w:+.3f} ({x['worst_set']})" for w, x in zip(worst, rows))
        print(f"| {target} | {', '.join(f'{c:.3f}' for c in clean_spec)} | {per} | {score[target]:+.4f} | "
              f"{'yes' if eligible[target] else 'no'} |")
    best = max((t for t in TARGETS if eligible[t]), key=lambda t: score[t])
    chosen = best if score[best] >= score[0.95] + MIN_GAIN else 0.95
    print(f"\nbest eligible: {best} ({score[best]:+.4f}); today's 0.95: {score[0.95]:+.4f}; rule picks {chosen}")
    return chosen


def main(argv=None) -> int:
    return run_probes(__doc__, lambda m, args: probe(m, args.dataset), decide, argv)


if __name__ == "__main__":
    sys.exit(main())
