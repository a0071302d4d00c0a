"""Live loss and validation-AUC curves for the training panel.

matplotlib's Qt canvas is imported when the first plot is built (the training panel is
itself built on first use), so it costs nothing at start-up.
"""

from __future__ import annotations

import math
import time

from PySide6.QtWidgets import QVBoxLayout, QWidget


class TrainingPlot(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(6, 3), facecolor="#1e1f22", layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.canvas)
        self.loss_ax = self.figure.add_subplot(1, 2, 1)
        self.auc_ax = self.figure.add_subplot(1, 2, 2)
        self.batch_x: list[float] = []
        self.batch_loss: list[float] = []
        self.epochs: list[int] = []
        self.loss: list[float] = []
        self.val_loss: list[float] = []
        self.val_auc: list[float] = []
        self._last_draw = 0.0
        self.clear()

    def clear(self) -> None:
        for values in (self.batch_x, self.batch_loss, self.epochs, self.loss, self.val_loss, self.val_auc):
            values.clear()
        self._redraw()

    def add_batch(self, epoch_position: float, loss: float) -> None:
        """Training loss per batch; ``epoch_position`` is e.g. 2.5 for half-way through epoch 3."""
        if math.isfinite(loss):
            self.batch_x.append(epoch_position)
            self.batch_loss.append(loss)
            # Batches can come many times a second; replotting each one would starve the GUI.
            if time.monotonic() - self._last_draw > 0.5:
                self._redraw()

    def add_epoch(self, epoch: int, values: dict) -> None:
        self.epochs.append(epoch)
        self.loss.append(float(values.get("loss", math.nan)))
        self.val_loss.append(float(values.get("val_loss", math.nan)))
        self.val_auc.append(float(values.get("val_auc", math.nan)))
        self._redraw()

    def _style(self, ax, title: str) -> None:
        ax.set_facecolor("#17181a")
        ax.set_title(title, color="#d0d0d0", fontsize=9)
        ax.set_xlabel("epoch", color="#a0a0a0", fontsize=8)
        ax.tick_params(colors="#a0a0a0", labelsize=8)
        for spine in ax.spines.values():
            spine.set_color("#444444")
        ax.grid(True, color="#333333", linewidth=0.5)
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no "2.5" ticks

    def _redraw(self) -> None:
        self._last_draw = time.monotonic()
        ax = self.loss_ax
        ax.clear()
        self._style(ax, "Loss")
        if self.batch_x:
            ax.plot(self.batch_x, self.batch_loss, color="#5b8fd6", linewidth=0.8, alpha=0.6, label="batch")
        if self.epochs:
            ax.plot(self.epochs, self.loss, "o-", color="#8fbcff", markersize=3, label="train")
            ax.plot(self.epochs, self.val_loss, "o-", color="#ffb86b", markersize=3, label="validation")
        if self.batch_x or self.epochs:
            ax.legend(fontsize=7, facecolor="#222", labelcolor="#ccc", edgecolor="#444")
        ax = self.auc_ax
        ax.clear()
        self._style(ax, "Validation AUC")
        ax.set_ylim(0.4, 1.0)
        if self.epochs:
            ax.plot(self.epochs, self.val_auc, "o-", color="#6fdc8c", markersize=3)
        self.canvas.draw_idle()
