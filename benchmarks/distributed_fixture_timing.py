"""Wall time of `train --distribute multiworker` with 1 and 2 workers on this machine.

    python -m benchmarks.distributed_fixture_timing [--dataset DIR] [--epochs N] [--repeats R]

Every worker is a separate process on 127.0.0.1 (tests/cluster_helpers.py), each with its own
per-user home and so its own input cache, cold, as separate machines would start. On one
machine the workers share its cores, so this measures the cost of the machinery (start-up,
cluster formation, per-step collectives), not a speed-up. Prints one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

# The tests' helper (a namespace package from the repository root, where `python -m` runs).
from tests.cluster_helpers import start_workers, stop_all

from .common import REPO


def run_once(n: int, dataset: Path, epochs: int) -> float:
    with tempfile.TemporaryDirectory(prefix=f"xrv-dist{n}-") as tmp:
        t0 = time.perf_counter()
        workers = start_workers(n, dataset, Path(tmp), ["--epochs", str(epochs), "--name", "timing",
                                                       "--val-fraction", "0.35"])
        try:
            for proc, _out, log in workers:
                if proc.wait(timeout=1800) != 0:
                    raise SystemExit(f"a worker failed:\n{log.read_text()[-2000:]}")
        finally:
            stop_all(workers)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default=str(REPO / "tests" / "fixtures" / "tiny_dataset"))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    result = {"dataset": args.dataset, "epochs": args.epochs}
    for n in (1, 2):
        times = [run_once(n, Path(args.dataset), args.epochs) for _ in range(args.repeats)]
        print(f"{n} worker(s): " + ", ".join(f"{t:.1f} s" for t in times), flush=True)
        result[f"workers_{n}_wall_s"] = [round(t, 1) for t in times]
        result[f"workers_{n}_median_s"] = round(statistics.median(times), 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
