"""The one way the GUI runs work off its thread: :class:`BackgroundTasks`.

Every long piece of work is a plain function taking ``on_progress`` and ``should_cancel``
(``xrayviewer.progress``): decoding and hashing files, walking folders, scanning a dataset,
scoring, and the child-process calls of ``training.child_process`` (training, site checks,
model conversion: whatever needs TensorFlow). The function never knows Qt exists.

How it works (after Orange3's ConcurrentMixin and napari's thread_worker):

- ``start(work, kind=..., progress=, done=, failed=, cancelled=)`` queues ``work`` (a
  function of ``on_progress``/``should_cancel`` only: bind its arguments with
  ``functools.partial``) on a worker executor and returns its :class:`Task`;
- a task with a ``kind`` replaces the stale one of that kind: the old one is asked to stop and
  nothing more it reports reaches the GUI (the user moved on to another film, another map);
- every report (progress, partial results, the outcome) crosses to the GUI thread through one
  queued Qt signal, in the order it was made, and the callbacks run there, a few milliseconds'
  worth per event-loop turn (:data:`DELIVERY_SLICE_S`); exactly one of ``done(result)``,
  ``failed(exception)`` or ``cancelled()`` comes after a task's progress;
- ``task.cancel()`` asks the function to stop at its next ``should_cancel()``; unlike a
  replaced task, a cancelled one still reports how it ended (usually ``cancelled()``).

An owner with ``max_workers=1`` runs its requests in the order they were made (the model
service relies on that: a score asked for after a load is answered by that model).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Hashable, Optional

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal, Slot

from ..progress import Cancelled, CancelFlag

log = logging.getLogger(__name__)

PROGRESS, DONE, FAILED, CANCELLED = "progress", "done", "failed", "cancelled"
#: Reports are handled for at most this long per event-loop turn; the rest wait for the next
#: turn. Workers report in bursts (a folder's films decoded and scored together), and a burst
#: handled in one turn held the window 30-40 ms on the 2-core reference machine (issue 15);
#: in slices, painting, input and timers get their turn in between. Order is kept.
DELIVERY_SLICE_S = 0.006


def _name_of(work) -> str:
    return getattr(getattr(work, "func", work), "__name__", "task")  # through functools.partial


class Task:
    """One piece of work on a :class:`BackgroundTasks`: cancel it, ask whether it still runs."""

    def __init__(self, work: Callable[..., Any], kind: Optional[Hashable], callbacks: dict[str, Optional[Callable]]):
        self.work, self.kind = work, kind
        self._callbacks = callbacks
        self._cancel = CancelFlag()
        self._dropped = threading.Event()  # replaced or shut down: its reports are not delivered
        self._future: Optional[concurrent.futures.Future] = None

    def cancel(self) -> None:
        """Ask the function to stop at its next ``should_cancel()``; its outcome is still reported."""
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def is_running(self) -> bool:
        """Queued or running on the worker thread."""
        return self._future is not None and not self._future.done()

    def wait(self, msecs: int = -1) -> bool:
        """Until the function has returned (``msecs`` < 0: no limit); True when it has."""
        if self._future is None or self._future.cancelled():
            # A queued task cancelled by shutdown never runs: futures.wait() would not count it
            # as done and would sit out the whole timeout.
            return True
        done, _ = concurrent.futures.wait([self._future], timeout=None if msecs < 0 else msecs / 1000)
        return bool(done)

    def _drop(self) -> None:
        self._dropped.set()
        self._cancel.set()


class BackgroundTasks(QObject):
    """Runs plain functions on worker threads and reports back on the GUI thread."""

    _report = Signal(object)  # (task, what, value), emitted on a worker, queued to the GUI thread

    def __init__(self, parent: Optional[QObject] = None, max_workers: int = 1, name: str = "background"):
        super().__init__(parent)
        self._max_workers, self._name = max_workers, name
        self._executor: Optional[ThreadPoolExecutor] = None
        self._live: set[Task] = set()  # started, outcome not yet delivered
        self._latest: dict[Hashable, Task] = {}  # the one task of each kind that still reports
        self._stopped = False
        self._inbox: deque = deque()  # reports arrived on the GUI thread, not yet handled
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setInterval(0)
        self._drain_timer.timeout.connect(self._drain)
        self._report.connect(self._receive)

    # ---- the GUI thread ---------------------------------------------------------------------
    def start(self, work: Callable[..., Any], *, kind: Optional[Hashable] = None,
              progress: Optional[Callable[[Any], None]] = None, done: Optional[Callable[[Any], None]] = None,
              failed: Optional[Callable[[BaseException], None]] = None,
              cancelled: Optional[Callable[[], None]] = None) -> Task:
        """Run ``work(on_progress=, should_cancel=)`` off the GUI thread; a ``kind`` replaces
        the stale task of that kind. After :meth:`shutdown` nothing starts (the task is dropped)."""
        task = Task(work, kind, {PROGRESS: progress, DONE: done, FAILED: failed, CANCELLED: cancelled})
        if self._stopped:
            task._drop()
            return task
        if kind is not None:
            self.drop(kind)
            self._latest[kind] = task
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix=self._name)
        self._live.add(task)
        task._future = self._executor.submit(self._run, task)
        return task

    def current(self, kind: Hashable) -> Optional[Task]:
        """The task of ``kind`` whose outcome has not been delivered yet (None: none)."""
        return self._latest.get(kind)

    def drop(self, kind: Hashable) -> None:
        """Stop the task of ``kind`` and deliver nothing more from it (it is stale)."""
        stale = self._latest.pop(kind, None)
        if stale is not None:
            stale._drop()
            self._live.discard(stale)

    def cancel_all(self) -> None:
        """Ask every task to stop; each still reports how it ended."""
        for task in list(self._live):
            task.cancel()

    def finish(self, kind: Hashable, msecs: int = -1) -> bool:
        """Cancel the task of ``kind``, wait for it and deliver its last reports now (a window
        that is closing still records how the run ended). True when it ended in time."""
        task = self._latest.get(kind)
        if task is None:
            return True
        task.cancel()
        ended = task.wait(msecs)
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)
        self._drain(None)
        return ended

    def shutdown(self, msecs: int = 30000) -> bool:
        """Skip queued tasks, stop running ones and wait for them; nothing more is reported and
        nothing more starts. True when every worker ended in time."""
        self._stopped = True
        tasks = list(self._live)
        for task in tasks:
            task._drop()
        self._live.clear()
        self._latest.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        return all(task.wait(msecs) for task in tasks)

    @Slot(object)
    def _receive(self, report) -> None:
        self._inbox.append(report)
        if not self._drain_timer.isActive():
            self._drain_timer.start()

    @Slot()
    def _drain(self, budget: Optional[float] = DELIVERY_SLICE_S) -> None:
        """Handle waiting reports in order, for about ``budget`` seconds (None: all of them)."""
        deadline = None if budget is None else time.perf_counter() + budget
        while self._inbox:
            self._deliver(self._inbox.popleft())
            if deadline is not None and self._inbox and time.perf_counter() > deadline:
                self._drain_timer.start()  # the rest on the next turn, after paints and input
                return

    def _deliver(self, report) -> None:
        task, what, value = report
        if task._dropped.is_set():
            return  # replaced, or shut down after it reported
        if what != PROGRESS:
            self._live.discard(task)
            if self._latest.get(task.kind) is task:
                del self._latest[task.kind]
        callback = task._callbacks[what]
        if callback is None:
            return
        if what == CANCELLED:
            callback()
        else:
            callback(value)

    # ---- the worker thread ------------------------------------------------------------------
    def _run(self, task: Task) -> None:
        if task._dropped.is_set():
            return
        try:
            result = task.work(on_progress=lambda value: self._send(task, PROGRESS, value),
                               should_cancel=task._cancel)
        except Cancelled:
            self._send(task, CANCELLED, None)
        except Exception as exc:  # reported to the GUI, which says it in a sentence
            log.exception("Background task %s failed", _name_of(task.work))
            self._send(task, FAILED, exc)
        else:
            self._send(task, DONE, result)

    def _send(self, task: Task, what: str, value) -> None:
        if task._dropped.is_set():
            return
        try:
            self._report.emit((task, what, value))
        except RuntimeError:  # the owner (and this object) was deleted: nobody is listening
            task._drop()
