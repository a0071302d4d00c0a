"""GUI test helpers: a fake model service for controller tests, a recording fake view, and a
real main window on the session's tiny model."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QObject, Signal  # noqa: E402

TINY = Path(__file__).resolve().parent.parent / "fixtures" / "tiny_dataset"
MODEL_TIMEOUT_MS = 90_000  # TensorFlow's first import plus a load, on a busy 2-core machine


def tiny_images(n_normal=2, n_pneumonia=2) -> list[Path]:
    return sorted((TINY / "NORMAL").glob("*.jpeg"))[:n_normal] + sorted((TINY / "PNEUMONIA").glob("*.jpeg"))[:n_pneumonia]


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


class FakeModels(QObject):
    """Stands in for ModelService: records requests, answers when the test says so."""

    loading = Signal(str)
    loaded = Signal(object, int)
    load_failed = Signal(str, bool)
    scored = Signal(object, int)
    unscored = Signal(object)
    score_failed = Signal(object, str)
    explained = Signal(object, object, int)
    explain_failed = Signal(object, str)
    LOADING, READY, FAILED, IDLE = "loading", "ready", "failed", "idle"

    def __init__(self):
        super().__init__()
        self.state, self.info, self.generation = self.IDLE, None, 0
        self.loads, self.score_requests, self.explain_requests = [], [], []
        self.stopped = False

    def load(self, path=None):
        self.state = self.LOADING
        self.loads.append(path)

    def score(self, batch):
        self.score_requests.append(list(batch))

    def explain(self, key, image):
        self.explain_requests.append((key, image))

    def stop(self):
        self.stopped = True

    # test controls
    def finish_load(self, info):
        self.state, self.info = self.READY, info
        self.generation += 1
        self.loaded.emit(info, self.generation)

    def fail_load(self, message="Model file default.keras does not exist."):
        self.state = self.FAILED
        self.load_failed.emit(message, False)

    def answer_all(self, probability_of, threshold=0.5):
        from xrayviewer.model import Prediction

        requests, self.score_requests = self.score_requests, []
        for batch in requests:
            results = [(key, Prediction(probability_of(key), probability_of(key), threshold)) for key, _, _ in batch]
            self.scored.emit(results, self.generation)


def fake_info(name="fake", threshold=0.5):
    return SimpleNamespace(name=name, threshold=threshold, meta={"validation": {}}, display_name=f"{name} (test)",
                           keras_path=Path(f"/nowhere/{name}.keras"), is_bundled=False,
                           operating_point=lambda t=None: (0.9, 0.8))


class FakeView:
    """Records every call the controller makes (Mu-style view double)."""

    def __init__(self):
        self.calls = []
        self.image = None
        self.prediction = None
        self.pending = ""
        self.no_image = None
        self.errors = []

    def __getattr__(self, name):
        def record(*args):
            self.calls.append((name, args))
        return record

    def show_image(self, image):
        self.calls.append(("show_image", (image,)))
        self.image = image

    def show_prediction(self, prediction, info):
        self.calls.append(("show_prediction", (prediction, info)))
        self.prediction = prediction

    def show_pending(self, message):
        self.calls.append(("show_pending", (message,)))
        self.pending, self.prediction = message, None

    def show_no_image(self, path, message):
        self.calls.append(("show_no_image", (path, message)))
        self.image, self.no_image = None, (path, message)

    def show_error(self, title, message):
        self.errors.append((title, message))

    def called(self, name):
        return [args for n, args in self.calls if n == name]


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


def wait_settled(qtbot, window, timeout=MODEL_TIMEOUT_MS):
    """Until the model has loaded and every row is scored or failed (and the current image shown)."""
    c = window.controller
    qtbot.waitUntil(lambda: c.models.state in ("ready", "failed") and c.is_settled(), timeout=timeout)


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
