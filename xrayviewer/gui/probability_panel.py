"""The model's opinion beside the image: probability, verdict, caveats, model, disclaimer.

All wording comes from :mod:`.wording`; this module only lays it out so that the number
and the verdict read at a glance and the caveats cannot be missed.
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from . import wording

POSITIVE_COLOUR = QColor(255, 112, 77)
NEGATIVE_COLOUR = QColor(80, 200, 140)
NEUTRAL_COLOUR = QColor(150, 150, 150)
WARNING_COLOUR = "#ffc145"


class ProbabilityBar(QWidget):
    """A horizontal bar filled to the probability, with a tick at the model's threshold."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.probability: Optional[float] = None
        self.threshold: Optional[float] = None
        self.colour = NEUTRAL_COLOUR
        self.setMinimumHeight(26)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_values(self, probability: Optional[float], threshold: Optional[float], colour: QColor) -> None:
        self.probability, self.threshold, self.colour = probability, threshold, colour
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        track = QRectF(1, 6, self.width() - 2, 14)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(55, 55, 58))
        p.drawRoundedRect(track, 4, 4)
        if self.probability is not None:
            fill = QRectF(track.left(), track.top(), track.width() * max(0.0, min(1.0, self.probability)),
                          track.height())
            p.setBrush(self.colour)
            p.drawRoundedRect(fill, 4, 4)
        if self.threshold is not None:
            x = track.left() + track.width() * self.threshold
            p.setPen(QPen(QColor(235, 235, 235), 2))
            p.drawLine(int(x), 1, int(x), self.height() - 1)
        p.end()


class ProbabilityPanel(QFrame):
    predictionShown = Signal(object)  # after a prediction is on screen (timing probe, tests)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("probabilityPanel")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(14, 10, 14, 10)
        lay.setSpacing(6)
        title = QLabel("Pneumonia probability")
        title.setObjectName("sectionTitle")
        title.setWordWrap(True)  # two lines in a narrow panel (small windows) rather than clipped
        lay.addWidget(title)

        self.percent_label = QLabel("–")
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 3.8)  # ">99%" fits a 200 px panel
        big.setBold(True)
        self.percent_label.setFont(big)
        lay.addWidget(self.percent_label)

        self.bar = ProbabilityBar()
        lay.addWidget(self.bar)
        self.threshold_label = QLabel("")
        self.threshold_label.setObjectName("smallText")
        self.threshold_label.setWordWrap(True)  # narrow panels (small windows) wrap, not clip
        lay.addWidget(self.threshold_label)

        self.verdict_label = QLabel("")
        verdict_font = QFont(self.font())
        verdict_font.setPointSizeF(verdict_font.pointSizeF() * 1.6)
        verdict_font.setBold(True)
        self.verdict_label.setFont(verdict_font)
        self.verdict_label.setWordWrap(True)
        lay.addWidget(self.verdict_label)

        self.near_label = self._note(lay)
        self.ood_label = self._note(lay)
        self.ood_label.setObjectName("oodWarning")

        self.operating_label = self._small(lay)
        self.model_label = self._small(lay)
        self.disclaimer_label = self._small(lay)
        self.disclaimer_label.setText(wording.DISCLAIMER)
        self.disclaimer_label.setObjectName("disclaimer")
        self.prediction = None
        self.info = None
        self.model_problem = ""
        self.show_message("Open an image to see the model's opinion.")

    @staticmethod
    def _note(lay) -> QLabel:
        label = QLabel("")
        label.setWordWrap(True)
        label.setStyleSheet(f"color: {WARNING_COLOUR}; font-weight: bold;")
        label.hide()
        lay.addWidget(label)
        return label

    @staticmethod
    def _small(lay) -> QLabel:
        label = QLabel("")
        label.setWordWrap(True)
        label.setObjectName("smallText")
        lay.addWidget(label)
        return label

    # ---- states ----------------------------------------------------------------------
    def set_model(self, info, problem: str = "") -> None:
        """The active model, or None with ``problem`` saying why there is none."""
        self.info = info
        self.model_problem = "" if info is not None else problem
        self.model_label.setText(wording.model_text(info) + (f": {problem}" if self.model_problem else ""))
        self.model_label.setStyleSheet(f"color: {WARNING_COLOUR};" if self.model_problem else "")
        self.operating_label.setText(wording.operating_point_text(info))
        self.operating_label.setVisible(info is not None)

    def show_message(self, message: str, headline: Optional[str] = None) -> None:
        """No probability to show: loading, scoring, no model, unreadable file."""
        self.prediction = None
        if headline is None:
            headline = "No model" if self.model_problem else "–"
        self._set_percent(headline, NEUTRAL_COLOUR)
        threshold = self.info.threshold if self.info else None
        self.bar.set_values(None, threshold, NEUTRAL_COLOUR)
        # The white mark is drawn whenever there is a model, so its caption is too: the panel
        # keeps its height between "Scoring…" and the opinion instead of gaining a line.
        self.threshold_label.setText(wording.threshold_caption(threshold))
        self.verdict_label.setText(message)
        _set_text_colour(self.verdict_label, QColor("#c8c8c8"))
        self.near_label.hide()
        self.ood_label.hide()

    def show_prediction(self, prediction, info=None) -> None:
        if info is not None and info is not self.info:
            self.set_model(info)
        self.prediction = prediction
        positive = wording.is_positive(prediction)
        colour = POSITIVE_COLOUR if positive else NEGATIVE_COLOUR
        # An out-of-distribution number is shown, but greyed: it must not be read as usual.
        shown = NEUTRAL_COLOUR if prediction.out_of_distribution else colour
        self._set_percent(wording.percent(prediction.probability), shown)
        self.percent_label.setToolTip(f"Calibrated probability {prediction.probability:.4f} "
                                      f"(network output {prediction.raw_probability:.4f})")
        self.bar.set_values(prediction.probability, prediction.threshold, shown)
        self.threshold_label.setText(wording.threshold_caption(prediction.threshold))
        self.verdict_label.setText(wording.panel_verdict(prediction))
        _set_text_colour(self.verdict_label, shown)
        for label, text in ((self.near_label, wording.near_threshold_note(prediction)),
                            (self.ood_label, wording.ood_warning(prediction))):
            label.setText(text)
            label.setVisible(bool(text))
        self.predictionShown.emit(prediction)

    def _set_percent(self, text: str, colour: QColor) -> None:
        self.percent_label.setText(text)
        _set_text_colour(self.percent_label, colour)


def _set_text_colour(label: QLabel, colour: QColor) -> None:
    """Colour a label's text through its palette. A style sheet per label made Qt re-polish it
    and re-lay out the panel on every film shown (7-11 ms of the GUI thread, issue 15); the
    application's style sheet sets no colour for these labels, so the palette is what shows."""
    palette = label.palette()
    if palette.color(QPalette.ColorRole.WindowText) != colour:
        palette.setColor(QPalette.ColorRole.WindowText, colour)
        label.setPalette(palette)
