"""Log file and last-resort error reporting.

Every failure the user sees is also in a rotating log under the per-user log folder, so a
bug report can carry it. An uncaught exception (GUI thread or any other) is logged and shown
in a dialog naming that log instead of killing the app and the radiologist's worklist.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox

from ..paths import user_log_dir

LOG_NAME = "xrayviewer-gui.log"
log = logging.getLogger("xrayviewer")


def setup_logging(log_dir: Optional[Path] = None) -> Path:
    """Send the app's log records to a rotating file (1 MB x 3); idempotent. Returns its path."""
    folder = Path(log_dir) if log_dir is not None else user_log_dir()
    path = folder / LOG_NAME
    for handler in log.handlers:
        if isinstance(handler, RotatingFileHandler) and Path(handler.baseFilename) == path.resolve():
            return path
    folder.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return path


class ErrorReporter(QObject):
    """Installs sys.excepthook and threading.excepthook; shows one dialog per error.

    The hooks may run on any thread; the dialog is shown through a queued signal on the GUI
    thread. ``uninstall`` puts the previous hooks back (tests).
    """

    _report = Signal(str)

    def __init__(self, log_path: Path, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.log_path = Path(log_path)
        self.shown: list[str] = []
        self._showing = False
        self._previous = None
        self._report.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous
            self._previous = None

    def _excepthook(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("Uncaught exception:\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
        self._report.emit(f"{exc_type.__name__}: {exc}")

    def _thread_excepthook(self, args) -> None:
        if args.exc_type is SystemExit:
            return
        log.error("Uncaught exception in thread %s:\n%s", getattr(args.thread, "name", "?"),
                  "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)))
        self._report.emit(f"{args.exc_type.__name__}: {args.exc_value}")

    @Slot(str)
    def _show(self, summary: str) -> None:
        self.shown.append(summary)
        if self._showing or QApplication.instance() is None:
            return  # one dialog at a time; the rest are in the log
        self._showing = True
        try:
            QMessageBox.critical(
                QApplication.activeWindow(), "XRay Viewer: unexpected error",
                f"Something went wrong, but your work is still open.\n\n{summary}\n\n"
                f"Details were written to:\n{self.log_path}")
        finally:
            self._showing = False
