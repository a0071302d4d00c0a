"""Does this Qt binding keep Python's reference counts straight when a signal is emitted?

PySide6-Essentials 6.12.0 drops one reference to Python's ``True`` on every ``Signal.emit()``.
On Python 3.11 (the installers' interpreter) ``True`` is an ordinary object, so after some
hundreds of emits its count reaches zero and the interpreter aborts ("Fatal Python error:
bool_dealloc", exit 134): the window dies mid-session or on quitting. Python 3.12+ makes
``True`` immortal, which hides the leak. pyproject.toml excludes that release; this check
(run by the frozen app's self-test and by tests/test_qt_signal_refcount.py) catches a build
that got it, or a later release with the same fault, without crashing while it looks.
"""

from __future__ import annotations

import ctypes
import sys

#: Emits per check: several times the ~570 that killed a fresh 3.11 interpreter.
DEFAULT_EMITS = 5000


def signal_refcount_drift(emits: int = DEFAULT_EMITS) -> int:
    """How far ``sys.getrefcount(True)`` moved over ``emits`` emits of a ``Signal(object)``
    connected to a Python slot: 0 on a sound binding, ``-emits`` on PySide6 6.12.0.

    A ballast of extra references keeps ``True`` alive while the check runs, and any
    references the binding lost are given back afterwards, so a faulty binding is reported
    instead of aborting the process that asked.
    """
    from PySide6.QtCore import QObject, Signal

    class _Emitter(QObject):
        fired = Signal(object)

    received: list[int] = []
    emitter = _Emitter()
    emitter.fired.connect(lambda value: received.append(value))  # a direct (same-thread) call
    ballast = [True] * (emits + 64)
    before = sys.getrefcount(True)
    for i in range(emits):
        emitter.fired.emit(i)
    drift = sys.getrefcount(True) - before
    if drift < 0:  # repair what the binding lost before the ballast goes
        for _ in range(-drift):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    del ballast
    emitter.deleteLater()
    if len(received) != emits:
        raise RuntimeError(f"{len(received)} of {emits} signals reached their slot")
    return drift
