"""The model thread's contract, with a fake Predictor (no TensorFlow needed)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest

from xrayviewer.gui.model_worker import ModelService
from xrayviewer.model import ModelLoadError, Prediction


class FakePredictor:
    threads = set()

    def __init__(self, path):
        self.info = SimpleNamespace(name=str(path), keras_path=path)

    @classmethod
    def load(cls, path=None):
        cls.threads.add(threading.get_ident())
        if path and "broken" in path:
            raise ModelLoadError(f"Model {path} is damaged.")
        return cls(path)

    def predict_batch(self, x, file_reasons):
        FakePredictor.threads.add(threading.get_ident())
        assert x.shape[1:] == (128, 128, 3) and x.dtype == np.float32
        return [Prediction(float(v.mean()), float(v.mean()), 0.5) for v in x]


@pytest.fixture
def service(monkeypatch):
    FakePredictor.threads = set()
    svc = ModelService(predictor_factory=FakePredictor.load)
    yield svc
    svc.stop()


def test_requests_wait_for_the_load_and_run_off_the_gui_thread(qtbot, service):
    got = []
    service.scored.connect(lambda results, gen: got.append((results, gen)))
    service.load("first.keras")
    service.score([(7, np.full((128, 128), 255, np.uint8), 0.0)])  # posted before the load finished
    qtbot.waitUntil(lambda: bool(got))
    (key, prediction), = got[0][0]
    assert key == 7 and prediction.probability == pytest.approx(1.0) and got[0][1] == 1
    assert service.state == "ready" and service.info.name == "first.keras"
    assert threading.get_ident() not in FakePredictor.threads and len(FakePredictor.threads) == 1


def test_a_broken_model_keeps_the_previous_one(qtbot, service):
    failures = []
    service.load_failed.connect(lambda msg, still: failures.append((msg, still)))
    with qtbot.waitSignal(service.loaded):
        service.load("good.keras")
    service.load("broken.keras")
    qtbot.waitUntil(lambda: bool(failures))
    assert failures == [("Model broken.keras is damaged.", True)]
    assert service.state == "ready" and service.info.name == "good.keras"


def test_without_a_model_scores_are_returned_unscored(qtbot, service):
    unscored = []
    service.unscored.connect(unscored.append)
    service.load("broken.keras")
    service.score([(1, np.zeros((128, 128), np.uint8), 0.0)])
    qtbot.waitUntil(lambda: bool(unscored))
    assert unscored == [[1]] and service.state == "failed"


def test_model_thread_keeps_one_python_thread_state(qtbot, service):
    """TensorFlow keeps its graph context in threading.local: it must survive between requests
    (it does not across slot calls of a QThread event loop, which crashed TF)."""
    local, seen = threading.local(), []
    worker = service._thread._worker
    worker.remember = lambda: setattr(local, "value", "kept")
    worker.recall = lambda: seen.append(getattr(local, "value", "lost"))
    service._post("remember")
    service._post("recall")
    qtbot.waitUntil(lambda: bool(seen))
    assert seen == ["kept"]
