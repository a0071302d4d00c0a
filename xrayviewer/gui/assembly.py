"""Window assembly: the main window, its controller and model service, wired together.

Its own module so that ``gui.app`` (the launcher: flags, logging, the QApplication) and the
self-test both build the window the same way without importing each other.
"""

from __future__ import annotations

import logging
import os
from typing import Optional, Sequence

log = logging.getLogger(__name__)


def create_main_window(argv_files: Sequence[str] = (), model_path=None, settings=None, restore_session=False):
    """Build the main window with its controller and model service, without showing it.

    Nothing heavy happens yet: showing the window (or calling ``window.start()``) starts the
    model service, which loads ``model_path`` (else the model chosen in the Model menu, else
    the bundled one); ``argv_files`` are opened then, queued behind the model load, after the
    last session's worklist when ``restore_session``.
    ``window.controller`` is the :class:`~.controller.Controller` (``settled`` signal,
    ``worklist``, ``is_settled()``). Closing the window stops every thread.
    """
    from .controller import Controller
    from .main_window import MainWindow
    from .model_service import ModelService
    from .settings import Settings

    settings = settings or Settings()
    window = MainWindow(settings)
    models = ModelService(window)
    controller = Controller(window, models, settings, parent=window)
    window.attach(controller)
    chosen = _named_model(model_path) or _remembered_model(settings)
    files = [os.fspath(f) for f in argv_files]

    def start():
        controller.start(chosen, restore_session=restore_session)
        if files:
            controller.open_paths(files)

    window.set_start_callback(start)
    return window


def _named_model(spec) -> Optional[str]:
    """--model's bundle path, or the per-user model of that name. A name that matches nothing is
    passed on as it is, so the model service reports it where the panel shows model problems."""
    if not spec:
        return None
    from ..model.bundle import ModelLoadError, resolve_model

    try:
        return str(resolve_model(spec))
    except ModelLoadError:
        return os.fspath(spec)


def _remembered_model(settings) -> Optional[str]:
    """The model last chosen in the Model menu, if it is still a readable bundle; otherwise
    None (the bundled model), so a deleted or damaged user model never blocks start-up."""
    path = settings.model_path
    if not path:
        return None
    from ..model import ModelLoadError, read_model_info

    try:
        read_model_info(path, verify_checksum=False)
    except ModelLoadError as exc:
        log.warning("Ignoring the remembered model: %s", exc)
        return None
    return path
