"""The window's model service: typed requests in order on one worker thread, stale explains
cancelled, and the real LiteRT path without TensorFlow."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest

from xrayviewer.gui.model_service import ExplainImage, ModelService
from xrayviewer.model import ModelLoadError, Prediction


class FakePredictor:
    threads = set()
    explain_gate = None  # a threading.Event the first explain waits on, when set by a test

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
        assert x.shape[1:] == (128, 128, 1) and x.dtype == np.float32  # the grey channel, once
        return [Prediction(float(v.mean()), float(v.mean()), 0.5) for v in x]

    def explain(self, image):
        gate, FakePredictor.explain_gate = FakePredictor.explain_gate, None
        if gate is not None:
            gate.wait(10)
        return np.full((4, 4), image, np.float32)


@pytest.fixture
def service(monkeypatch):
    FakePredictor.threads = set()
    FakePredictor.explain_gate = None
    svc = ModelService(predictor_factory=FakePredictor.load)
    yield svc
    svc.stop()


def test_requests_wait_for_the_load_and_run_off_the_gui_thread(qtbot, service):
    got = []
    service.scored.connect(lambda results, gen: got.append((results, gen)))
    service.load("first.keras")
    service.score([(7, np.full((128, 128), 255, np.uint8), ())])  # posted before the load finished
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
    service.score([(1, np.zeros((128, 128), np.uint8), ())])
    qtbot.waitUntil(lambda: bool(unscored))
    assert unscored == [[1]] and service.state == "failed"


def test_a_new_explain_cancels_the_stale_one(qtbot, service):
    """The user steps through films faster than maps are drawn: only the film now shown gets
    its map; the older requests (running or queued) say nothing."""
    maps, failures = [], []
    service.explained.connect(lambda key, heat, gen: maps.append((key, float(heat.heat[0, 0]))))
    service.explain_failed.connect(lambda key, msg: failures.append(key))
    with qtbot.waitSignal(service.loaded):
        service.load("good.keras")
    gate = FakePredictor.explain_gate = threading.Event()
    service.explain("a", 1.0)  # runs, and waits on the gate
    service.explain("b", 2.0)  # queued
    service.explain("c", 3.0)  # queued: a and b are now stale
    gate.set()
    qtbot.waitUntil(lambda: bool(maps))
    qtbot.wait(50)
    assert maps == [("c", 3.0)] and failures == []
    assert service._requests.current(ExplainImage) is None  # c's map delivered: nothing left waiting


def test_stop_ends_the_worker_and_drops_later_requests(qtbot, service):
    with qtbot.waitSignal(service.loaded):
        service.load("good.keras")
    service.stop()
    got = []
    service.scored.connect(lambda *a: got.append(a))
    service.score([(1, np.zeros((128, 128), np.uint8), ())])
    qtbot.wait(50)
    assert got == [] and service._requests._executor is None and service._predictor is None


def test_the_real_bundle_scores_on_litert_in_this_process(qtbot):
    """The default factory: the bundled model on LiteRT, on the worker thread (that no
    TensorFlow comes with it is checked in a fresh process: test_no_tensorflow.py)."""
    svc = ModelService()
    try:
        got = []
        svc.scored.connect(lambda results, gen: got.append(results))
        with qtbot.waitSignal(svc.loaded, timeout=30000):
            svc.load(None)
        svc.score([(1, np.full((128, 128), 90, np.uint8), ())])
        qtbot.waitUntil(lambda: bool(got), timeout=30000)
        assert 0.0 <= got[0][0][1].probability <= 1.0
        assert svc.runtime == "litert" == svc._predictor.runtime
    finally:
        svc.stop()


def test_a_bundle_without_tflite_is_converted_in_a_child_process_then_scored_here(qtbot, tiny_model, tmp_path):
    """A bundle made before LiteRT: the window converts it once (TensorFlow in a child
    process, never here) and scores it on LiteRT."""
    import json
    import shutil
    import sys

    from xrayviewer.model.bundle import litert_path, metadata_path

    folder = tmp_path / "old"
    folder.mkdir()
    for suffix in (".keras", ".ood.npz", ".json"):
        shutil.copy(tiny_model.with_suffix(suffix), folder / f"old{suffix}")
    path = folder / "old.keras"
    meta = json.loads(metadata_path(path).read_text())
    meta.pop("litert"), meta.pop("gradcam")
    metadata_path(path).write_text(json.dumps(meta))
    had_tf = "tensorflow" in sys.modules
    svc = ModelService()
    try:
        with qtbot.waitSignal(svc.loaded, timeout=180_000):
            svc.load(str(path))
        assert svc.runtime == "litert" and litert_path(path).is_file()
        assert "litert" in json.loads(metadata_path(path).read_text())
    finally:
        svc.stop()
    assert had_tf or "tensorflow" not in sys.modules
