"""A dark theme: reading rooms are dim, and a bright frame around a radiograph changes how
its greys are perceived. Fusion style so it looks the same on every platform."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

STYLE_SHEET = """
QLabel#sectionTitle { color: #9aa4ad; font-weight: bold; text-transform: uppercase; letter-spacing: 1px; }
QLabel#smallText { color: #a8a8a8; }
QLabel#disclaimer { color: #8c8c8c; font-style: italic; }
QLabel#hiddenValue { color: #777777; font-style: italic; }
QLabel#oodWarning { background: #3d2f10; border: 1px solid #8a6a1f; border-radius: 4px; padding: 6px; }
QFrame#probabilityPanel { background: #202124; border-radius: 6px; }
QTableView { gridline-color: #333; selection-background-color: #2f4f73; }
QHeaderView::section { background: #26282b; color: #c0c0c0; border: 0; padding: 4px; }
QToolBar { border: 0; spacing: 4px; }
QStatusBar { color: #bdbdbd; }
"""


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    p = QPalette()
    base, window, text = QColor(24, 24, 26), QColor(34, 35, 38), QColor(225, 225, 225)
    for role, colour in (
        (QPalette.ColorRole.Window, window), (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base), (QPalette.ColorRole.AlternateBase, QColor(30, 31, 34)),
        (QPalette.ColorRole.ToolTipBase, QColor(45, 45, 48)), (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, QColor(44, 45, 48)),
        (QPalette.ColorRole.ButtonText, text), (QPalette.ColorRole.BrightText, QColor(255, 90, 90)),
        (QPalette.ColorRole.Highlight, QColor(47, 79, 115)), (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.Link, QColor(110, 170, 255)), (QPalette.ColorRole.PlaceholderText, QColor(130, 130, 130)),
    ):
        p.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 120))
    app.setPalette(p)
    app.setStyleSheet(STYLE_SHEET)
