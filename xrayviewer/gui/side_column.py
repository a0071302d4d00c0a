"""The right-hand column's scroll area, whose text keeps one width whether it scrolls or not.

The opinion panel and the image facts sit in a scroll area: on a short screen, or with a long
out-of-distribution warning and DICOM facts, they need more height than there is. A plain
QScrollArea narrows its content by the scroll bar's width when the bar appears, so every
sentence in the column re-wrapped (the threshold caption went from one line to two) and the
facts below jumped as a reader stepped from an in-scope film to an out-of-scope one and back.
Here the bar's width is always reserved: as a right viewport margin while the bar is hidden,
by the bar itself while it shows, so the content is laid out at one width.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QFrame, QScrollArea


class SideColumn(QScrollArea):
    """A vertical scroll area whose content width does not depend on the scroll bar."""

    def __init__(self, content, minimum_width: int, parent=None):
        """``minimum_width``: the column's narrowest, scroll bar included: the content is laid
        out at that less the bar's width."""
        super().__init__(parent)
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(minimum_width)
        self.verticalScrollBar().installEventFilter(self)
        self._reserve_bar_width()

    def eventFilter(self, watched, event) -> bool:
        if watched is self.verticalScrollBar() and event.type() in (QEvent.Type.Show, QEvent.Type.Hide,
                                                                     QEvent.Type.Resize):
            self._reserve_bar_width()
        return False

    def _reserve_bar_width(self) -> None:
        bar = self.verticalScrollBar()
        # isVisibleTo: the bar's own state, even while the window itself is not yet shown.
        margin = 0 if bar.isVisibleTo(self) else bar.sizeHint().width()
        if self.viewportMargins().right() != margin:
            self.setViewportMargins(0, 0, margin, 0)
