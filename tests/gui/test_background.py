"""The GUI's one background mechanism: plain functions on worker threads, reports on the GUI
thread in order, stale tasks of a kind replaced, cancel and shutdown."""

from __future__ import annotations

import threading
from functools import partial

import pytest

from xrayviewer.gui.background import BackgroundTasks
from xrayviewer.progress import Progress, check_cancel


def counts(n, on_progress, should_cancel, gate=None):
    if gate is not None:
        gate.wait(10)
    for i in range(n):
        check_cancel(should_cancel)
        on_progress(Progress("count", i + 1, n, values={"thread": threading.get_ident()}))
    return n


def waits_for_cancel(on_progress, should_cancel):
    on_progress(Progress("started"))
    while not should_cancel():
        threading.Event().wait(0.01)
    check_cancel(should_cancel)


def fails(on_progress, should_cancel):
    raise OSError("disk full")


@pytest.fixture
def background(qtbot):
    tasks = BackgroundTasks(max_workers=2)
    yield tasks
    tasks.shutdown()


def test_progress_then_one_outcome_on_the_gui_thread(qtbot, background):
    seen = []
    background.start(partial(counts, 3), progress=lambda p: seen.append(("progress", p.done, p.values["thread"])),
                     done=lambda n: seen.append(("done", n, threading.get_ident())))
    qtbot.waitUntil(lambda: len(seen) == 4)
    assert [s[:2] for s in seen] == [("progress", 1), ("progress", 2), ("progress", 3), ("done", 3)]
    assert seen[0][2] != threading.get_ident()  # the work ran off the GUI thread...
    assert seen[-1][2] == threading.get_ident()  # ...and its reports arrive on it


def test_a_new_task_of_a_kind_replaces_the_stale_one(qtbot, background):
    gate = threading.Event()
    got = []
    stale = background.start(partial(counts, 2, gate=gate), kind="film", progress=got.append,
                             done=lambda n: got.append(("stale done", n)))
    fresh = background.start(partial(counts, 1), kind="film", done=lambda n: got.append(("fresh done", n)))
    gate.set()
    qtbot.waitUntil(lambda: not stale.is_running() and background.current("film") is None)
    qtbot.wait(20)
    assert got == [("fresh done", 1)] and stale.cancel_requested and not fresh.cancel_requested


def test_cancel_reports_cancelled_and_failure_reports_the_exception(qtbot, background):
    got = []
    task = background.start(waits_for_cancel, kind="run", progress=lambda p: got.append(p.stage),
                            done=lambda r: got.append("done"), cancelled=lambda: got.append("cancelled"))
    qtbot.waitUntil(lambda: got == ["started"])
    assert background.current("run") is task and task.is_running()
    task.cancel()
    qtbot.waitUntil(lambda: got == ["started", "cancelled"])
    assert background.current("run") is None
    background.start(fails, failed=lambda exc: got.append(str(exc)))
    qtbot.waitUntil(lambda: got[-1] == "disk full")


def test_finish_delivers_the_outcome_now_and_shutdown_silences_the_rest(qtbot, background):
    got = []
    background.start(waits_for_cancel, kind="run", cancelled=lambda: got.append("cancelled"))
    assert background.finish("run", 10_000) and got == ["cancelled"]  # no event-loop turn needed
    gate = threading.Event()
    late = background.start(partial(counts, 1, gate=gate), done=got.append)
    other = background.start(partial(counts, 1), done=got.append)  # done at once, not yet delivered
    threading.Timer(0.1, gate.set).start()
    assert background.shutdown(10_000) and not late.is_running()
    qtbot.wait(50)
    assert got == ["cancelled"] and not other.is_running()
    assert background.start(partial(counts, 1), done=got.append).cancel_requested  # nothing starts after shutdown


def test_shutdown_does_not_wait_for_queued_tasks_it_skips(qtbot):
    """The window closing with requests still queued behind a running one: they never run, and
    shutdown returns as soon as the running one stops."""
    import time

    background = BackgroundTasks(max_workers=1)
    gate = threading.Event()
    got = []
    running = background.start(partial(counts, 1, gate=gate), done=got.append)
    queued = [background.start(partial(counts, 1), done=got.append) for _ in range(3)]
    threading.Timer(0.05, gate.set).start()
    started = time.monotonic()
    assert background.shutdown(5_000)
    assert time.monotonic() - started < 2.5 and not running.is_running()
    assert not any(task.is_running() for task in queued)
    qtbot.wait(20)
    assert got == []


def test_a_burst_of_reports_leaves_the_window_room_to_breathe(qtbot, background):
    """A worker that reports 30 results at once (a folder's films decoded together), each
    taking the GUI thread 2 ms to handle: they arrive in order, but in slices, so a 5 ms
    timer (standing in for paints and input) keeps ticking in between instead of waiting ~60 ms."""
    import time

    from PySide6.QtCore import QTimer

    gate, handled, ticks = threading.Event(), [], []

    def slow_handler(p):
        end = time.perf_counter() + 0.002
        while time.perf_counter() < end:
            pass
        handled.append((p.done, time.perf_counter()))

    ticker = QTimer()
    ticker.setInterval(5)
    ticker.timeout.connect(lambda: ticks.append(time.perf_counter()))
    background.start(partial(counts, 30, gate=gate), progress=slow_handler)
    ticker.start()
    time.sleep(0.05)
    gate.set()  # all 30 reports are queued before the GUI thread looks at the first
    time.sleep(0.05)
    qtbot.waitUntil(lambda: len(handled) == 30)
    ticker.stop()
    assert [n for n, _ in handled] == list(range(1, 31))
    first, last = handled[0][1], handled[-1][1]
    between = [t for t in ticks if first < t < last]
    marks = [first, *between, last]
    assert len(between) >= 3  # handled all in one turn, there would be none
    assert max(b - a for a, b in zip(marks, marks[1:])) < 0.045  # in one turn: ~60 ms
