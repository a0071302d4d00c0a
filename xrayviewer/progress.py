"""The one progress/cancel protocol every long job speaks.

Long work (training, scoring a folder, scanning a dataset) is a plain function that accepts
``on_progress`` and ``should_cancel`` callables. The CLI passes a text progress bar and a
Ctrl-C flag, the GUI passes callables that emit Qt signals and read a flag set by the Cancel
button, tests pass lists and lambdas. The function itself never knows who is watching.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Optional


class Cancelled(Exception):
    """Raised inside a job when ``should_cancel()`` turned true; callers treat it as a clean stop."""


@dataclass(frozen=True)
class Progress:
    """One progress report.

    ``stage`` names what is happening ("scan", "cache", "batch", "epoch", "evaluate", ...);
    ``done``/``total`` count units of that stage (total 0 means unknown); ``values`` carries
    stage-specific numbers such as loss or validation AUC; ``message`` is for people.
    """

    stage: str
    done: int = 0
    total: int = 0
    message: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]


def no_progress(_: Progress) -> None:
    """Default ``on_progress``: ignore reports."""


def never_cancel() -> bool:
    """Default ``should_cancel``: run to the end."""
    return False


class CancelFlag:
    """A thread-safe flag whose bound ``is_set`` serves as ``should_cancel``."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    __call__ = is_set


def check_cancel(should_cancel: Optional[CancelCheck]) -> None:
    """Raise :class:`Cancelled` if the caller asked to stop."""
    if should_cancel is not None and should_cancel():
        raise Cancelled("Cancelled by the user.")


@contextmanager
def ctrl_c_cancels(flag: CancelFlag, message: str = "Stopping (Ctrl-C again to abort)..."):
    """For a command line job: the first Ctrl-C sets ``flag`` (the job stops cleanly at its
    next check and writes nothing half-done); a second one raises KeyboardInterrupt."""
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(_sig, _frame):
        if flag.is_set():
            raise KeyboardInterrupt
        print("\n" + message, file=sys.stderr)
        flag.set()

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
