"""Worklist habits in the real window on the fake model service: the riskiest scored film is
selected once an open is scored (unless the reader moved), rows are removed but files never,
and the last session's worklist comes back until it is cleared."""

from __future__ import annotations

import os

from xrayviewer.gui.controller import Controller
from xrayviewer.gui.settings import Settings

from .fakes import FakeModels, FakeView, fake_info


def open_and_decode(qtbot, window, folder, n):
    c = window.controller
    c.open_paths([str(folder)])
    qtbot.waitUntil(lambda: len(c.worklist.items()) == n and c._decoding == 0, timeout=20_000)
    qtbot.waitUntil(lambda: sum(len(b) for b in c.models.score_requests) == n)


def riskiest_last_alphabetically(controller):
    """Scores that put the alphabetically last file on top of the list."""
    names = sorted(i.name for i in controller.worklist.items())
    rank = {name: r for r, name in enumerate(names)}
    by_key = {i.key: i.name for i in controller.worklist.items()}
    return lambda key: 0.1 + 0.2 * rank[by_key[key]]


def test_after_an_open_is_scored_the_riskiest_film_is_selected_and_the_list_is_at_the_top(qtbot, fake_window,
                                                                                           image_dir):
    window, c = fake_window, fake_window.controller
    window._started = True
    window.resize(1024, 700)
    window.show()
    c.start(None)
    c.models.finish_load(fake_info())
    open_and_decode(qtbot, window, image_dir, 4)
    first = c.current_key
    assert c.worklist.item(first).name == sorted(os.listdir(image_dir))[0]  # the open shows a film at once
    c.models.answer_all(riskiest_last_alphabetically(c))
    top = window.worklist_view.keys_in_order()[0]
    assert c.current_key == top != first
    assert c.worklist.item(top).name == sorted(os.listdir(image_dir))[-1]
    assert window.worklist_view.verticalScrollBar().value() == 0


def test_a_reader_who_moved_is_not_moved_again(qtbot, fake_window, image_dir):
    window, c = fake_window, fake_window.controller
    window._started = True
    c.start(None)
    c.models.finish_load(fake_info())
    open_and_decode(qtbot, window, image_dir, 4)
    window.worklist_view.select_row(2)
    chosen = c.current_key
    c.models.answer_all(riskiest_last_alphabetically(c))
    assert c.current_key == chosen


def test_remove_takes_rows_off_never_files_and_moves_on(qtbot, fake_window, image_dir):
    window, c = fake_window, fake_window.controller
    window._started = True
    c.start(None)
    c.models.finish_load(fake_info())
    open_and_decode(qtbot, window, image_dir, 4)
    c.models.answer_all(riskiest_last_alphabetically(c))
    current = c.current_key
    path = c.worklist.item(current).path
    window.act["remove"].trigger()  # Delete
    assert c.worklist.item(current) is None and os.path.exists(path)
    assert c.current_key is not None and c.current_key != current  # the next film is shown
    assert len(c.worklist.items()) == 3
    assert path not in c.settings.session_paths
    assert [s.toString() for s in window.act["remove"].shortcuts()] == ["Del"]
    assert [s.toString() for s in window.act["first"].shortcuts()] == ["Home"]
    assert [s.toString() for s in window.act["last"].shortcuts()] == ["End"]


def test_the_last_sessions_worklist_is_restored_until_cleared(qtbot, image_dir):
    settings = Settings()
    view, models = FakeView(), FakeModels()
    first = Controller(view, models, settings)
    first.open_paths([str(image_dir)])
    qtbot.waitUntil(lambda: len(first.worklist.items()) == 4 and first._decoding == 0, timeout=20_000)
    assert len(settings.session_paths) == 4  # saved at once, not only on a clean quit
    first.shutdown()

    again = Controller(FakeView(), FakeModels(), Settings())  # the next start reads the same file
    again.start(None, restore_session=True)
    qtbot.waitUntil(lambda: len(again.worklist.items()) == 4 and again._decoding == 0, timeout=20_000)
    assert sorted(i.path for i in again.worklist.items()) == sorted(settings.session_paths)
    again.clear_worklist()
    assert Settings().session_paths == []
    again.shutdown()

    fresh = Controller(FakeView(), FakeModels(), Settings())
    fresh.start(None, restore_session=True)
    assert fresh.worklist.items() == []
    fresh.shutdown()
