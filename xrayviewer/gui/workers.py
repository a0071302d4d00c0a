"""The one way the GUI runs long work: a plain function on its own QThread.

Every long job in the core (scan_dataset, fit, the decoding tasks in :mod:`.tasks`) is a
plain function taking ``on_progress`` and ``should_cancel``. :class:`Job` runs one on a
QThread and turns the protocol into Qt signals, which Qt queues to the GUI thread because
the receivers live there. The GUI never blocks; the function never knows Qt exists.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..progress import Cancelled, CancelFlag

log = logging.getLogger(__name__)


class _Runner(QThread):
    def __init__(self, job: "Job"):
        super().__init__()
        self._job = job

    def run(self) -> None:
        self._job._execute()


class Job(QObject):
    """``fn(*args, on_progress=..., should_cancel=..., **kwargs)`` on a worker thread.

    Exactly one of ``finished(result)``, ``failed(exception)`` or ``cancelled()`` is emitted,
    after every ``progress(Progress)``. ``stopped`` follows when the thread has ended; only
    then may the Job be dropped (a QThread destroyed while running aborts the process), which
    is why jobs are started through a :class:`JobGroup` that holds them until then.
    """

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    stopped = Signal()

    def __init__(self, fn: Callable[..., Any], *args, name: str = "", **kwargs):
        super().__init__()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self.name = name or getattr(fn, "__name__", "job")
        self._flag = CancelFlag()
        self._runner = _Runner(self)
        self._runner.setObjectName(f"job:{self.name}")
        self._runner.finished.connect(self.stopped)

    def start(self) -> "Job":
        self._runner.start()
        return self

    def cancel(self) -> None:
        """Ask the function to stop at its next ``should_cancel()`` check."""
        self._flag.set()

    @property
    def cancel_requested(self) -> bool:
        return self._flag.is_set()

    def is_running(self) -> bool:
        return self._runner.isRunning()

    def wait(self, msecs: int = -1) -> bool:
        return self._runner.wait() if msecs < 0 else self._runner.wait(msecs)

    def _execute(self) -> None:
        try:
            result = self._fn(*self._args, on_progress=self.progress.emit, should_cancel=self._flag,
                              **self._kwargs)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # reported to the GUI, which shows and logs it
            log.exception("Job %s failed", self.name)
            self.failed.emit(exc)
        else:
            self.finished.emit(result)


class JobGroup(QObject):
    """Holds running jobs until their threads end; cancels and joins them all at shutdown."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._jobs: set[Job] = set()

    def start(self, job: Job) -> Job:
        self._jobs.add(job)
        # A bound slot of this QObject (not a lambda) so that Qt queues the call to the GUI
        # thread; the set is only ever touched there.
        job.stopped.connect(self._forget)
        return job.start()

    @Slot()
    def _forget(self) -> None:
        self._jobs.discard(self.sender())

    def running(self) -> list[Job]:
        return [j for j in self._jobs if j.is_running()]

    def cancel_all(self) -> None:
        for job in list(self._jobs):
            job.cancel()

    def shutdown(self, msecs: int = 30000) -> bool:
        """Cancel every job and wait for its thread; True when all ended in time."""
        self.cancel_all()
        ok = all(job.wait(msecs) for job in list(self._jobs))
        self._jobs.clear()
        return ok
