"""Would scoring a folder in two processes reach `predict_img_s` >= 500? One process with two
loader threads against two processes with one each.

    python -m benchmarks.process_split_probe [--rounds 5] [--trials 2]

bench.py's 256 training files of 224 px, the bundled model on LiteRT. Each process loads the
model and warms up on 32 files first; a barrier then starts every process's
``Predictor.iter_files`` on its share together, and a round's figure is the files of all
shares over the wall time until the last share is done (process start-up is left out, as
bench.py's warm-up leaves it out of `predict_img_s`). Two processes share no GIL: this
measures what the GIL costs `predict` on two cores.

What it showed on 2026-12-07 (benchmarks/RESULTS.md, seventeenth session; medians of 5
rounds, two trials): 413 and 386 files/s in one process, 454 and 452 in two (+10-17%); an
earlier draft of this probe, the same measurement, 406 and 433 against 489 and 462. Short of
500 either way, for a process pool's start-up and complexity. Not adopted.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time

from benchmarks.bench import TRAIN_DIR


def _files() -> list[str]:
    files = sorted(str(p) for p in (TRAIN_DIR / "PNEUMONIA").glob("*.jpeg"))[:200]
    return files + sorted(str(p) for p in (TRAIN_DIR / "NORMAL").glob("*.jpeg"))[:56]


def _child(share, loaders, barrier, rounds):
    from xrayviewer.model import Predictor

    predictor = Predictor.load()
    list(predictor.iter_files(share[:32], loaders=loaders))
    for _ in range(rounds):
        barrier.wait()
        list(predictor.iter_files(share, loaders=loaders))
        barrier.wait()


def files_per_second(processes: int, loaders: int, rounds: int) -> list[float]:
    files = _files()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)
    children = [ctx.Process(target=_child, args=(files[i::processes], loaders, barrier, rounds))
                for i in range(processes)]
    for child in children:
        child.start()
    out = []
    for _ in range(rounds):
        barrier.wait()
        t = time.perf_counter()
        barrier.wait()
        out.append(len(files) / (time.perf_counter() - t))
    for child in children:
        child.join()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=2)
    args = parser.parse_args(argv)
    for trial in range(args.trials):
        one = files_per_second(1, 2, args.rounds)
        two = files_per_second(2, 1, args.rounds)
        print(f"trial {trial}: 1 process x 2 loaders {statistics.median(one):.0f} files/s "
              f"{[round(x) for x in one]}; 2 processes x 1 loader {statistics.median(two):.0f} files/s "
              f"{[round(x) for x in two]}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
