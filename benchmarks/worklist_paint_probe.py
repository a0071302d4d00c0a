"""How long the worklist takes to repaint while other threads contend for the GIL.

    python -m benchmarks.worklist_paint_probe [--rows 500] [--threads 2] [--rounds 8] [--theme]

Fills a `WorklistModel` with scored rows (thumbnails, bold names, colours) and times
`viewport().repaint()` of a `WorklistView` on it (median of 15 a round; wall and GUI-thread
CPU), beside two views of the same cells answered from Python, as the worklist was until
2026-12-07: a `QAbstractTableModel` overriding `index()` and either `multiData()` (every role
of a cell in one call) or `data()` (one call a role, as Qt's own `multiData` asks). The forms
are taken turn by turn. Meanwhile ``--threads`` Python threads loop as the window's loaders
do: Python glue between calls that release the GIL (hashing, numpy). ``--theme``: the window's
dark theme (its style sheet) applied, as in the app. Also prints what writing the cells of all
rows to Qt costs the GUI thread.

What it showed on 2026-12-07 (benchmarks/RESULTS.md, seventeenth session) is there.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import threading
import time


def python_forms(model):
    """Two Python models answering ``model``'s cells (its rows' role tables) as the worklist
    did before its cells moved to Qt: (multiData form, role-by-role form)."""
    from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

    from xrayviewer.gui.worklist import COLUMNS

    class PythonCells(QAbstractTableModel):
        def rowCount(self, parent=QModelIndex()):
            return 0 if parent.isValid() else model.rowCount()

        def columnCount(self, parent=QModelIndex()):
            return 0 if parent.isValid() else len(COLUMNS)

        def index(self, row, column, parent=QModelIndex()):
            if parent.isValid() or not (0 <= row < model.rowCount() and 0 <= column < len(COLUMNS)):
                return QModelIndex()
            return self.createIndex(row, column)

        def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
            return model.headerData(section, orientation, role)

        def data(self, index, role=Qt.ItemDataRole.DisplayRole):
            if not index.isValid():
                return None
            return model._cells[model.item_at(index.row()).key][index.column()].get(role)

    class MultiData(PythonCells):
        def multiData(self, index, span):
            if not index.isValid():
                return
            cell = model._cells[model.item_at(index.row()).key][index.column()]
            for role_data in span:
                role_data.setData(cell.get(role_data.role()))

    return MultiData(), PythonCells()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2, help="threads contending for the GIL (0: none)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--theme", action="store_true", help="the window's dark theme (its style sheet) applied")
    args = parser.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    if args.theme:
        from xrayviewer.gui.theme import apply_dark_theme

        apply_dark_theme(app)
    from xrayviewer.gui.worklist import DONE, WorklistModel, WorklistView
    from xrayviewer.model import Prediction

    model = WorklistModel()
    new, _ = model.add_paths([f"/x/person{1000 + i}_bacteria_{2000 + i}.jpeg" for i in range(args.rows)])
    rng = np.random.default_rng(0)
    changes = [(item.key, {"status": DONE, "prediction": Prediction(p, p, 0.5),
                           "thumbnail_array": rng.integers(0, 255, (72, 60), dtype=np.uint8)})
               for item, p in zip(new, rng.random(args.rows))]
    t = time.perf_counter()
    model.update_many(changes)
    print(f"writing {args.rows} rows' scores and thumbnails to Qt (one update_many, no view): "
          f"{(time.perf_counter() - t) * 1e3:.1f} ms")
    views = {}
    for name, form in (("cells in Qt", model), *zip(("Python, multiData", "Python, role by role"),
                                                      python_forms(model))):
        view = WorklistView(model)
        if form is not model:  # the same view on a Python model; setModel() reset the widths
            widths = [view.columnWidth(col) for col in range(model.columnCount())]
            view.setModel(form)
            for col, width in enumerate(widths):
                view.setColumnWidth(col, width)
        view.resize(470, 800)
        view.show()
        views[name] = (view, form)
    app.processEvents()

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
            for name, (view, _form) in order:
                wall, cpu = [], []
                for _ in range(15):
                    t0, c0 = time.perf_counter(), time.thread_time()
                    view.viewport().repaint()
                    wall.append((time.perf_counter() - t0) * 1e3)
                    cpu.append((time.thread_time() - c0) * 1e3)
                medians[name].append(statistics.median(wall))
                print(f"round {r}  {name:21s}  wall {statistics.median(wall):6.2f} ms  "
                      f"cpu {statistics.median(cpu):6.2f} ms")
    finally:
        stop.set()
        for t in threads:
            t.join()
    for name, values in medians.items():
        print(f"{name:21s}  median of rounds {statistics.median(values):.1f} ms wall "
              f"({min(values):.1f}-{max(values):.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
