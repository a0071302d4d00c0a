"""GUI test fixtures: a real main window on the session's tiny model, the same window on the
fake model service, small image folders. Helpers that tests import live in modules, not
here: ``fakes`` (strict doubles of the view and the model service) and ``helpers``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from .fakes import FakeModels  # noqa: E402
from .helpers import MODEL_TIMEOUT_MS, tiny_images  # noqa: E402


@pytest.fixture
def bad_file(tmp_path) -> Path:
    p = tmp_path / "broken.jpeg"
    p.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    return p


@pytest.fixture
def image_dir(tmp_path) -> Path:
    """A folder with four tiny-dataset images (two per class)."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    for p in tiny_images():
        shutil.copy(p, folder / p.name)
    return folder


@pytest.fixture
def window_factory(qtbot, tiny_model):
    """Build, show and register a real main window on the tiny model; waits for the model."""
    from xrayviewer.gui.app import create_main_window

    def make(files=(), model_path=tiny_model, wait_model=True):
        window = create_main_window(files, model_path)
        qtbot.addWidget(window)
        window.show()
        if wait_model:
            qtbot.waitUntil(lambda: window.controller.models.state != "loading"
                            and window.controller.models.info is not None, timeout=MODEL_TIMEOUT_MS)
        return window

    return make


@pytest.fixture
def fake_window(qtbot):
    """The real main window and controller on the fake model service (no TensorFlow)."""
    from xrayviewer.gui.controller import Controller
    from xrayviewer.gui.main_window import MainWindow
    from xrayviewer.gui.settings import Settings

    settings = Settings()
    window = MainWindow(settings)
    models = FakeModels()
    window.attach(Controller(window, models, settings, parent=window))
    window.set_start_callback(lambda: window.controller.start(None))
    qtbot.addWidget(window)
    yield window
    window.controller.shutdown()
