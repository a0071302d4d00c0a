"""The Grad-CAM colour bar: what the overlay's colours mean, or why there is no overlay.

The overlay is on a fixed scale (``model.gradcam.RED_AT``), the same for every film, so one
legend holds for all of them: clear where there is no evidence, red where a place holds as
much as the hottest spot of a film the model scores at its threshold.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from ..model.gradcam import LEGEND_HIGH, LEGEND_LOW, overlay
from .qimage import rgb_to_qimage

BAR_WIDTH, BAR_HEIGHT = 120, 12
_BACKDROP_GREY = 128  # the bar is drawn over mid-grey, as the overlay is over the film


def colour_bar(width: int = BAR_WIDTH, height: int = BAR_HEIGHT, opacity: float = 1.0) -> np.ndarray:
    """(height, width, 3) uint8: heat 0 -> 1, left to right, blended over mid-grey at the
    overlay's opacity, by the same ``overlay`` as the film (so the bar shows what the film does)."""
    ramp = np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, 1))
    return overlay(np.full((height, width), _BACKDROP_GREY, np.uint8), ramp, opacity)


class HeatLegend(QWidget):
    """``show_scale()``: the colour bar with its two ends named; ``show_note(text)``: a plain
    sentence instead (no overlay for this film); ``clear()``: nothing."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(6)
        self.title = QLabel("Grad-CAM:")
        self.low_label = QLabel(LEGEND_LOW)
        self.bar = QLabel()
        self.bar.setFixedSize(BAR_WIDTH, BAR_HEIGHT)
        self.high_label = QLabel(f"red: {LEGEND_HIGH}")
        self.note = QLabel()
        for w in (self.title, self.low_label, self.bar, self.high_label, self.note):
            layout.addWidget(w)
        self.setToolTip("The overlay uses one scale for every film this model scores, so colours compare "
                        "across films. Red: " + LEGEND_HIGH + ".")
        self.set_opacity(1.0)
        self.clear()

    def set_opacity(self, opacity: float) -> None:
        self._bar_image = rgb_to_qimage(colour_bar(opacity=opacity))  # kept: the pixmap copies it
        self.bar.setPixmap(QPixmap.fromImage(self._bar_image))

    def show_scale(self) -> None:
        self._set_visible(scale=True, note="")

    def show_note(self, text: str) -> None:
        self._set_visible(scale=False, note=text)

    def clear(self) -> None:
        self._set_visible(scale=False, note="")

    @property
    def showing_scale(self) -> bool:
        return not self.bar.isHidden()

    def _set_visible(self, scale: bool, note: str) -> None:
        for w in (self.low_label, self.bar, self.high_label):
            w.setVisible(scale)
        self.note.setText(note)
        self.note.setVisible(bool(note))
        self.title.setVisible(scale or bool(note))
        self.setVisible(scale or bool(note))
