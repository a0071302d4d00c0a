"""How long the worklist takes to repaint while other threads contend for the GIL.

    python -m benchmarks.worklist_paint_probe [--rows 500] [--threads 2] [--rounds 8]

Fills a `WorklistModel` with scored rows and times `viewport().repaint()` of its view (median
of 15 a round; wall and GUI-thread CPU), in two forms taken turn by turn: the model as it
is (answering Qt 6's `multiData`, every role of a cell in one Python call) and the same model
answering role by role through `data()`, as Qt's own `multiData` asks. Meanwhile ``--threads``
Python threads loop as the window's loaders do: Python glue between calls that release the
GIL (hashing, numpy). CPU is about the same either way; what differs is how often the paint
waits for the GIL (~100 calls into Python against ~730).

What it showed on 2026-12-07 (benchmarks/RESULTS.md, seventeenth session; medians of 8
rounds): with two such threads 11.9 ms of wall time against 22.8, with one 11.9 against 15.9;
with none 6.5 against 6.1 (answering in one call costs ~0.4 ms more CPU).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import threading
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2, help="threads contending for the GIL (0: none)")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    from PySide6.QtCore import QAbstractTableModel
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from xrayviewer.gui.worklist import DONE, WorklistModel, WorklistView
    from xrayviewer.model import Prediction

    class RoleByRole(WorklistModel):
        multiData = QAbstractTableModel.multiData  # Qt's own: one data() call a role

    def make(cls):
        model = cls()
        view = WorklistView(model)
        new, _ = model.add_paths([f"/x/person{1000 + i}_bacteria_{2000 + i}.jpeg" for i in range(args.rows)])
        rng = np.random.default_rng(0)
        model.update_many([(item.key, {"status": DONE, "prediction": Prediction(p, p, 0.5),
                                       "thumbnail_array": rng.integers(0, 255, (72, 60), dtype=np.uint8)})
                           for item, p in zip(new, rng.random(args.rows))])
        view.resize(470, 800)
        view.show()
        app.processEvents()
        return view

    views = {"multiData": make(WorklistModel), "role by role": make(RoleByRole)}
    stop = threading.Event()

    def loader_like():
        data = os.urandom(1 << 16)
        while not stop.is_set():
            x = 0
            for i in range(2000):  # Python glue, holding the GIL
                x += i
            hashlib.sha256(data).digest()  # releases it
            np.frombuffer(data[:4096], dtype=np.uint8).sum()

    threads = [threading.Thread(target=loader_like, daemon=True) for _ in range(args.threads)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    medians = {name: [] for name in views}
    try:
        for r in range(args.rounds):
            order = list(views.items()) if r % 2 == 0 else list(views.items())[::-1]
            for name, view in order:
                wall, cpu = [], []
                for _ in range(15):
                    t0, c0 = time.perf_counter(), time.thread_time()
                    view.viewport().repaint()
                    wall.append((time.perf_counter() - t0) * 1e3)
                    cpu.append((time.thread_time() - c0) * 1e3)
                medians[name].append(statistics.median(wall))
                print(f"round {r}  {name:12s}  wall {statistics.median(wall):6.2f} ms  "
                      f"cpu {statistics.median(cpu):6.2f} ms")
    finally:
        stop.set()
        for t in threads:
            t.join()
    for name, values in medians.items():
        print(f"{name:12s}  median of rounds {statistics.median(values):.1f} ms wall "
              f"({min(values):.1f}-{max(values):.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
