"""Strict test doubles for the controller's two collaborators, checked against the real
interfaces (``xrayviewer.gui.interfaces``) by ``test_interfaces.py``.

Neither accepts a call it does not define: a controller that calls a view method the
protocol lacks fails with AttributeError here, as it would on the real window. Members that
are only for tests are named in each fake's ``TEST_CONTROLS``; every other public member
must be in the protocol.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from xrayviewer.gui.model_service import ModelServiceSignals


class FakeModels(ModelServiceSignals):
    """Stands in for ModelService (its signals and state names inherited, not copied):
    records requests, answers when the test says so."""

    TEST_CONTROLS = frozenset({"loads", "score_requests", "explain_requests", "stopped", "finish_load", "fail_load",
                               "answer_all"})

    def __init__(self):
        super().__init__()
        self.state, self.info, self.generation, self.runtime = self.IDLE, None, 0, "fake"
        self.loads, self.score_requests, self.explain_requests = [], [], []
        self.stopped = False

    def load(self, path=None):
        self.state = self.LOADING
        self.loads.append(path)

    def score(self, batch):
        self.score_requests.append(list(batch))

    def explain(self, key, image):
        self.explain_requests.append((key, image))

    def stop(self, msecs=60000):
        self.stopped = True

    # ---- test controls ----------------------------------------------------------------
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
    """Records every call the controller makes (a Mu-style view double), and keeps what a
    reader would see: the image, the prediction or pending message, the errors."""

    TEST_CONTROLS = frozenset({"calls", "called", "image", "prediction", "pending", "no_image", "errors"})

    def __init__(self):
        self.calls = []
        self.image = None
        self.prediction = None
        self.pending = ""
        self.no_image = None
        self.errors = []

    def _record(self, name, *args):
        self.calls.append((name, args))

    def called(self, name):
        return [args for n, args in self.calls if n == name]

    def show_model_loading(self, what):
        self._record("show_model_loading", what)

    def show_model_ready(self, info):
        self._record("show_model_ready", info)

    def show_no_model(self, message):
        self._record("show_no_model", message)

    def show_image(self, image, screen=None):
        self._record("show_image", image, screen)
        self.image = image

    def show_no_image(self, path, message):
        self._record("show_no_image", path, message)
        self.image, self.no_image = None, (path, message)

    def show_loading(self, path):
        self._record("show_loading", path)
        self.image, self.no_image = None, (path, "Loading…")

    def show_prediction(self, prediction, info):
        self._record("show_prediction", prediction, info)
        self.prediction = prediction

    def show_pending(self, message):
        self._record("show_pending", message)
        self.pending, self.prediction = message, None

    def show_heatmap(self, heat):
        self._record("show_heatmap", heat)

    def show_heatmap_note(self, message):
        self._record("show_heatmap_note", message)

    def select_key(self, key):
        self._record("select_key", key)

    def select_top(self):
        self._record("select_top")

    def show_status(self, message):
        self._record("show_status", message)

    def show_error(self, title, message):
        self._record("show_error", title, message)
        self.errors.append((title, message))

    def set_recent(self, paths):
        self._record("set_recent", paths)
