"""Help dialogs: About (with the dataset's attribution and the intended use) and the keyboard
shortcut list, generated from the window's own actions so it cannot drift from them."""

from __future__ import annotations

from typing import Iterable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QMessageBox, QTableWidget, QTableWidgetItem, QVBoxLayout

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
    def __init__(self, rows: list[tuple[str, str]], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(480, 560)
        lay = QVBoxLayout(self)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Action", "Keys"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        for r, (name, keys) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(name))
            self.table.setItem(r, 1, QTableWidgetItem(keys))
        lay.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

#: Mouse gestures, listed with the keyboard shortcuts.
MOUSE_ROWS = [
    ("Zoom (around the pointer)", "Mouse wheel"),
    ("Pan", "Left-drag"),
    ("Window/level: width (left/right), level (up/down)", "Right-drag"),
    ("Open files or folders", "Drag and drop onto the window"),
]
