"""Help dialogs: About (with the dataset's attribution and the intended use) and the keyboard
shortcut list, generated from the window's own actions so it cannot drift from them."""

from __future__ import annotations

from typing import Iterable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QMessageBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

from .. import __version__

ABOUT_HTML = f"""
<h2>XRay Viewer {__version__}</h2>
<p><b>Intended use:</b> a second reader for pediatric chest X-rays. It shows a model's
pneumonia probability beside the image. It is <b>not a diagnosis</b> and not a medical device;
the radiologist's reading decides.</p>
<p><b>Training data:</b> "Chest X-Ray Images (Pneumonia)", Kermany, Zhang and Goldbaum,
Mendeley Data v2 (2018), doi:10.17632/rscbjbr9sj.2, licensed CC BY 4.0;
published with Kermany et al., <i>Identifying Medical Diagnoses and Treatable Diseases by
Image-Based Deep Learning</i>, Cell 172(5):1122-1131, 2018.</p>
<p>The model saw only pediatric (1-5 years) anterior-posterior chest X-rays from one
centre; images unlike those are flagged as out of distribution.</p>
"""


def show_about(parent) -> None:
    QMessageBox.about(parent, "About XRay Viewer", ABOUT_HTML)


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    rows = []
    for action in actions:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if not k.isEmpty()]
        if keys:
            rows.append((action.text().replace("&", "").rstrip(".…"), ", ".join(keys)))
    return rows


class ShortcutsDialog(QDialog):
    """Every shortcut at once, in side-by-side tables sized to their rows: a reader looks a key
    up at a glance, without scrolling (one long table needed it at 1024 x 700)."""

    ROWS_PER_TABLE = 24

    def __init__(self, rows: list[tuple[str, str]], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        outer = QVBoxLayout(self)
        columns = QHBoxLayout()
        outer.addLayout(columns)
        self.tables = []
        per = max(1, -(-len(rows) // max(1, -(-len(rows) // self.ROWS_PER_TABLE))))  # balanced split
        for start in range(0, len(rows), per):
            columns.addWidget(self._table(rows[start:start + per]))
        self.table = self.tables[0] if self.tables else None
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        outer.addWidget(buttons)

    def _table(self, rows) -> QTableWidget:
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels(["Action", "Keys"])
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
        table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (name, keys) in enumerate(rows):
            table.setItem(r, 0, QTableWidgetItem(name))
            table.setItem(r, 1, QTableWidgetItem(keys))
        table.resizeColumnsToContents()
        header = table.horizontalHeader()
        height = header.sizeHint().height() + sum(table.rowHeight(r) for r in range(len(rows))) + 2 * table.frameWidth()
        width = sum(table.columnWidth(c) for c in range(2)) + 2 * table.frameWidth() + 4
        table.setMinimumSize(width, height)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tables.append(table)
        return table

#: Mouse gestures, listed with the keyboard shortcuts.
MOUSE_ROWS = [
    ("Zoom (around the pointer)", "Mouse wheel"),
    ("Pan", "Left-drag"),
    ("Window/level: width (left/right), level (up/down)", "Right-drag"),
    ("Open files or folders", "Drag and drop onto the window"),
]
