"""``xrayviewer-gui``: the QApplication, command-line flags, logging and the wiring.

Importing this module imports Qt and the headless core, never TensorFlow: the model service
loads the model on LiteRT after the window is on screen (TensorFlow only ever runs in the
training and conversion child processes).
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from typing import Optional, Sequence

from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from .. import __version__
from ..paths import resources_dir
from .assembly import create_main_window  # noqa: F401 - the window's public entry point

log = logging.getLogger("xrayviewer.gui.app")  # not __name__: "__main__" under python -m


class XRayApplication(QApplication):
    """Adds macOS "open with" (QFileOpenEvent); files arriving before the window exists are
    kept until :meth:`take_pending_files`."""

    fileOpenRequested = Signal(str)

    def __init__(self, argv):
        super().__init__(argv)
        self.pending_files: list[str] = []
        self.window_ready = False

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.FileOpen:
            path = event.file() or event.url().toLocalFile()
            if path:
                if self.window_ready:
                    self.fileOpenRequested.emit(path)
                else:
                    self.pending_files.append(path)
            return True
        return super().event(event)

    def take_pending_files(self) -> list[str]:
        files, self.pending_files = self.pending_files, []
        return files


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="xrayviewer-gui", description="XRay Viewer: chest X-rays with a pneumonia "
                                "probability from a bundled model (a second reader, not a diagnosis).")
    p.add_argument("files", nargs="*", help="images or folders to open as a worklist")
    p.add_argument("--model", metavar="MODEL", help="start with this model: a bundle (.keras) or the name of a "
                   "model in your models folder")
    p.add_argument("--screenshot", metavar="OUT.png", help="save the window once the images are scored, then exit")
    p.add_argument("--training-panel", action="store_true", help="open the (hidden) training panel")
    p.add_argument("--no-single-instance", action="store_true", help="always open a new window")
    # xrayviewer.launcher runs the self-test before this parser (no window); listed here so
    # that --help shows them.
    p.add_argument("--self-test", action="store_true",
                   help="check that this installation works (model, TensorFlow, training, the window; no "
                        "screen needed) and exit: 0 when every step passed")
    p.add_argument("--report", metavar="FILE",
                   help="with --self-test: also write its report to FILE (it always goes to the log folder)")
    p.add_argument("--version", action="version", version=f"XRay Viewer {__version__}")
    return p.parse_args(list(argv))


def freeze_startup_objects() -> None:
    """Put what start-up made (modules, classes, the window and its widgets: ~47,000 objects)
    out of the cyclic garbage collector's reach.

    A full collection walks every tracked object while holding the GIL: ~10 ms here, during
    which the window cannot run, whichever thread's allocation set it off (the model's and the
    loaders' threads wait as well). These objects live as long as the window; reference counting
    still frees any that go, and only a reference cycle among them would now outlive its use
    (``gc.freeze``'s documented cost). Measured: a full collection with the window up took
    8.5-12 ms before, under 0.1 ms after. On the bench's window (`bench --compare`, 80 rounds
    each, both orders) ``gui_max_stall_ms`` went 17.5 -> 16.0 ms at the median, within its
    noise (permutation p = 0.23): kept for the pauses it removes, not for that figure."""
    gc.freeze()


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.self_test:  # reached only past the launcher (python -m xrayviewer.gui.app): no window
        print("The self-test runs from the launcher: xrayviewer-gui --self-test (or python -m xrayviewer gui "
              "--self-test).", file=sys.stderr)
        return 2

    from .errors import ErrorReporter, setup_logging
    from .theme import apply_dark_theme

    log_path = setup_logging()
    log.info("XRay Viewer %s starting: %s", __version__, argv)
    app = QApplication.instance() or XRayApplication([sys.argv[0] if sys.argv else "xrayviewer-gui"])
    app.setApplicationName("XRay Viewer")
    app.setOrganizationName("XRayViewer")
    app.setApplicationVersion(__version__)

    server = None
    if not args.screenshot and not args.no_single_instance:
        from . import single_instance

        if single_instance.enabled():
            if single_instance.send_to_running(args.files):
                print("Handed over to the XRay Viewer window already open.")
                return 0
            server = single_instance.InstanceServer()
            if not server.listen():
                server = None

    apply_dark_theme(app)
    icon = resources_dir() / "icon.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    reporter = ErrorReporter(log_path)
    reporter.install()
    # A screenshot shows only what its command line names, never the last session's films.
    window = create_main_window(args.files, args.model, restore_session=not args.screenshot)
    if isinstance(app, XRayApplication):
        app.fileOpenRequested.connect(lambda p: window.controller.open_paths([p]))
        pending = app.take_pending_files()
        if pending:
            QTimer.singleShot(0, lambda: window.controller.open_paths(pending))
        app.window_ready = True
    if server is not None:
        server.filesReceived.connect(lambda paths: (window.controller.open_paths(paths), window.raise_(),
                                                    window.activateWindow()))
    taker = None
    if args.screenshot:
        from .screenshot import ScreenshotTaker

        from .main_window import DEFAULT_SIZE

        window.resize(*DEFAULT_SIZE)
        taker = ScreenshotTaker(window, args.screenshot)
    from .timing import probe_from_environment

    probe = probe_from_environment(window)  # benchmarks only (XRAYVIEWER_TIMING_FILE)
    window.show()  # the model service starts on the next event-loop turn, after the first paint
    if probe is not None:
        probe.window_shown()
    if args.training_panel:
        QTimer.singleShot(0, window.open_training_panel)
    freeze_startup_objects()
    try:
        rc = app.exec()
    finally:
        if server is not None:
            server.close()
        reporter.uninstall()
    if taker is not None:
        rc = taker.exit_code
    log.info("XRay Viewer exiting (%s)", rc)
    return int(rc)


if __name__ == "__main__":
    sys.exit(main())
