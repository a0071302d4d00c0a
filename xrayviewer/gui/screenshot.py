"""``--screenshot OUT.png``: save the window once its images are scored and shown, then quit."""

from __future__ import annotations

import logging
import os

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)


class ScreenshotTaker(QObject):
    """Waits for the controller's ``settled`` signal (every row final, first image shown),
    lets the layout and the deferred renders catch up, grabs the window and exits."""

    def __init__(self, window, out_path: str, timeout_s: float = 300.0):
        super().__init__(window)
        self.window, self.out_path = window, os.path.abspath(out_path)
        self.exit_code = 1
        self._done = False
        window.controller.settled.connect(self._on_settled)
        QTimer.singleShot(int(timeout_s * 1000), self._on_timeout)

    @Slot()
    def _on_settled(self) -> None:
        if not self._done:
            # Paint, sort and deferred window/level renders happen on the next turns.
            QTimer.singleShot(300, self._grab)

    @Slot()
    def _on_timeout(self) -> None:
        if not self._done:
            log.error("Screenshot: the images were not all scored in time; saving what is shown")
            self._grab(ok=False)

    def _grab(self, ok: bool = True) -> None:
        if self._done:
            return
        self._done = True
        self.window.image_view.flush_render()
        QApplication.processEvents()
        pixmap = self.window.grab()
        os.makedirs(os.path.dirname(self.out_path) or ".", exist_ok=True)
        saved = pixmap.save(self.out_path)
        if not saved:
            log.error("Screenshot: could not write %s", self.out_path)
        self.exit_code = 0 if ok and saved else 1
        print(f"Screenshot {'saved to' if saved else 'NOT saved to'} {self.out_path}")
        self.window.close()
        QApplication.instance().exit(self.exit_code)
