"""The command line every validation probe shares (shift, TTA, operating point, subgroups):

    python -m benchmarks.archive.<probe> MODEL.keras ... --dataset DIR [--json OUT] [--from-json EARLIER ...]

Each model is probed on its own patient-level validation split (so ``--dataset`` is needed
with models); results of earlier runs can be reported again, alone or with new ones, from
the JSON files they wrote.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable, Optional


def run_probes(doc: str, probe: Callable[[Path, argparse.Namespace], dict], report: Callable[[list], object],
               argv=None, add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None) -> int:
    """Parse the shared arguments (plus ``add_arguments``'), probe each model, write ``--json``,
    then ``report`` every result, earlier ones first. ``doc``: the script's docstring."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("models", nargs="*", type=Path, help="model bundles (.keras with their .json)")
    ap.add_argument("--dataset", type=Path, help="the dataset folder the models were trained on")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--from-json", type=Path, action="append", default=[],
                    help="report results saved earlier with --json instead of (or as well as) running models")
    if add_arguments is not None:
        add_arguments(ap)
    args = ap.parse_args(argv)
    if args.models and args.dataset is None:
        ap.error("--dataset is needed to rebuild the models' validation splits")
    results = [r for f in args.from_json for r in json.loads(f.read_text())]
    for m in args.models:
        t0 = time.perf_counter()
        results.append(probe(m, args))
        print(f"{m}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if not results:
        ap.error("give model bundles or --from-json")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    report(results)
    return 0
