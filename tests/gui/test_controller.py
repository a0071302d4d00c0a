"""The controller's flow against a fake view and a fake model service (no TensorFlow)."""

from __future__ import annotations

import pytest

from xrayviewer.gui.controller import Controller
from xrayviewer.gui.settings import Settings
from xrayviewer.gui.worklist import DONE, ERROR, NO_MODEL, QUEUED, SCORING

from .fakes import FakeModels, FakeView, fake_info
from .helpers import tiny_images


@pytest.fixture
def parts(qtbot):
    view, models = FakeView(), FakeModels()
    controller = Controller(view, models, Settings())
    yield view, models, controller
    controller.shutdown()


def wait_decoded(qtbot, controller, n):
    qtbot.waitUntil(lambda: len(controller.worklist.items()) == n and controller._decoding == 0, timeout=20_000)


def test_images_opened_while_the_model_loads_are_queued_then_scored(qtbot, parts, bad_file):
    view, models, controller = parts
    controller.start(None)
    assert models.loads == [None] and models.state == models.LOADING
    paths = [str(p) for p in tiny_images(1, 1)] + [str(bad_file)]
    controller.open_paths(paths)
    wait_decoded(qtbot, controller, 3)
    qtbot.waitUntil(lambda: sum(len(b) for b in models.score_requests) == 2)  # the good ones, queued
    items = {i.name: i for i in controller.worklist.items()}
    assert items["broken.jpeg"].status == ERROR and "broken.jpeg" in items["broken.jpeg"].error
    assert {i.status for n, i in items.items() if n != "broken.jpeg"} == {QUEUED}
    assert not controller.is_settled()
    # The first opened file is shown, decoded once by the worklist job.
    qtbot.waitUntil(lambda: view.image is not None)
    assert view.image.path == paths[0]
    assert "Loading model" in view.called("show_pending")[0][0]

    models.finish_load(fake_info())
    # Already in the model service's queue behind the load: scored once, not twice.
    assert sum(len(b) for b in models.score_requests) == 2
    assert {i.status for n, i in items.items() if n != "broken.jpeg"} == {SCORING}
    models.answer_all(lambda key: 0.25 + 0.5 * (key % 2))
    assert {i.status for n, i in items.items() if n != "broken.jpeg"} == {DONE}
    assert view.prediction is controller.worklist.item(controller.current_key).prediction
    assert controller.is_settled()


def test_results_of_a_replaced_model_are_ignored_and_everything_is_rescored(qtbot, parts):
    view, models, controller = parts
    controller.start(None)
    models.finish_load(fake_info("first"))
    controller.open_paths([str(tiny_images(1, 0)[0])])
    wait_decoded(qtbot, controller, 1)
    qtbot.waitUntil(lambda: bool(models.score_requests))
    stale = models.score_requests
    controller.switch_model("/models/second.keras")
    models.finish_load(fake_info("second"))  # generation 2: rescoring requested
    qtbot.waitUntil(lambda: len(models.score_requests) == 2)
    key = stale[0][0][0]
    from xrayviewer.model import Prediction

    models.scored.emit([(key, Prediction(0.99, 0.99, 0.5))], 1)  # late answer from the first model
    assert controller.worklist.item(key).status == SCORING
    models.score_requests = models.score_requests[1:]
    models.answer_all(lambda k: 0.1)
    assert controller.worklist.item(key).prediction.probability == 0.1


def test_no_model_leaves_images_viewable_and_rows_marked(qtbot, parts):
    view, models, controller = parts
    controller.start(None)
    models.fail_load("Model file default.keras does not exist.")
    assert view.called("show_no_model")
    controller.open_paths([str(tiny_images(1, 0)[0])])
    wait_decoded(qtbot, controller, 1)
    qtbot.waitUntil(controller.is_settled)
    assert controller.worklist.items()[0].status == NO_MODEL
    assert view.image is not None and "no model" in view.pending.lower()
    assert models.score_requests == []


def test_selecting_rows_loads_full_images_off_the_gui_thread(qtbot, parts):
    view, models, controller = parts
    controller.start(None)
    models.finish_load(fake_info())
    paths = [str(p) for p in tiny_images(2, 2)]
    controller.open_paths(paths)
    wait_decoded(qtbot, controller, 4)
    last = controller.worklist.items()[-1]
    controller.select(last.key)
    assert view.image is None  # loading in a job, not on this thread
    assert view.called("show_loading")[-1] == (last.path,)  # said as loading, not as a problem
    qtbot.waitUntil(lambda: view.image is not None and view.image.path == last.path, timeout=10_000)
    # Each film loaded for the view arrives with its screen form, made by the loader.
    from xrayviewer.gui.screen_image import matches

    shown = view.called("show_image")
    assert len(shown) == 2 and all(matches(screen, image) for image, screen in shown)
    # Shown again from the cache (screen forms are not kept): the view makes it.
    controller.select(next(i.key for i in controller.worklist.items() if i.path == shown[0][0].path))
    assert view.called("show_image")[-1] == (controller.current_image, None)


def test_recent_files_are_remembered_in_the_per_user_ini(qtbot, parts, user_home):
    view, models, controller = parts
    path = str(tiny_images(1, 0)[0])
    controller.open_paths([path])
    assert Settings().recent_files()[0] == path
    assert (user_home / "data" / "settings.ini").is_file()
    assert view.called("set_recent")[-1][0][0] == path
    wait_decoded(qtbot, controller, 1)


def test_what_a_dicom_header_says_about_scope_reaches_the_model(qtbot, parts, tmp_path):
    """An adult's film goes to the model with its age as a reason to distrust the score."""
    import numpy as np
    from imaging_factories import write_dicom
    from PIL import Image

    view, models, controller = parts
    controller.start(None)
    models.finish_load(fake_info())
    pixels = np.asarray(Image.open(tiny_images(1, 0)[0]).convert("L"))
    adult = write_dicom(tmp_path / "adult.dcm", pixels, tags={"PatientAge": "062Y"})
    child = write_dicom(tmp_path / "child.dcm", pixels, tags={"PatientAge": "004Y"})
    controller.open_paths([str(adult), str(child)])
    wait_decoded(qtbot, controller, 2)
    qtbot.waitUntil(lambda: sum(len(b) for b in models.score_requests) == 2)
    names = {i.key: i.name for i in controller.worklist.items()}
    reasons = {names[key]: r for batch in models.score_requests for key, _, r in batch}
    assert len(reasons["adult.dcm"]) == 1 and reasons["adult.dcm"][0].text.startswith("patient aged 62 years")
    assert reasons["child.dcm"] == ()


def test_the_riskiest_film_is_selected_even_when_an_unreadable_file_is_the_last_to_settle(qtbot, parts, tmp_path,
                                                                                          monkeypatch):
    """A folder whose last file fails to decode after the others were scored (a big damaged
    DICOM at the end of the list) left the reader on the first file opened, not on the riskiest
    film: the pick waited for a score that never came."""
    import shutil
    import threading

    from xrayviewer.gui import tasks
    from xrayviewer.imaging import ImageLoadError

    view, models, controller = parts
    controller.start(None)
    models.finish_load(fake_info())
    for p in tiny_images(2, 0):
        shutil.copyfile(p, tmp_path / p.name)
    (tmp_path / "zz_damaged.jpeg").write_bytes(b"\xff\xd8\xff damaged")
    gate = threading.Event()
    real_load = tasks.load_image

    def slow_for_the_damaged_one(path):
        if str(path).endswith("zz_damaged.jpeg"):
            gate.wait(20)  # still being read when the others' scores arrive
            raise ImageLoadError("zz_damaged.jpeg could not be read: the file is damaged.", str(path))
        return real_load(path)

    monkeypatch.setattr(tasks, "load_image", slow_for_the_damaged_one)
    controller.open_paths([str(tmp_path)])
    qtbot.waitUntil(lambda: sum(len(b) for b in models.score_requests) == 2, timeout=20_000)
    first_opened = controller.current_key
    riskiest = max((i for i in controller.worklist.items() if i.status != QUEUED), key=lambda i: i.key).key
    models.answer_all(lambda key: 0.9 if key == riskiest else 0.1)
    assert not view.called("select_top")  # the damaged file is not settled yet
    assert controller.current_key == first_opened and first_opened != riskiest
    gate.set()
    qtbot.waitUntil(lambda: controller.is_settled(), timeout=20_000)
    assert view.called("select_top")  # the reader is moved to the top of the list (the riskiest film)
