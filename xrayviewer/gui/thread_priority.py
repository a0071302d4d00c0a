"""Worker threads run below the GUI thread's CPU priority, so a busy worker never takes the core
the event loop needs (issue 15's ``gui_max_stall_ms``).

Why: on a 2-core machine a folder drop keeps the decoding workers and the scoring worker
runnable together, three threads for two cores, and the GUI thread, waking to paint or to
handle a report, waited its turn behind them: most of the longest event-loop stall was time
spent waiting for a core, not running (benchmarks/RESULTS.md). At a lower priority the workers
still get every cycle the window does not want; they only yield it first.

Each OS spells it differently, and none of them may break the app if it refuses:

- Linux: the thread's own nice value (per thread there), raised by :data:`LINUX_NICE_STEP`.
  Threads and processes the worker starts inherit it (LiteRT's, a training child process):
  background work stays background work.
- Windows: ``THREAD_PRIORITY_BELOW_NORMAL`` for the thread (children do not inherit it).
- macOS: the thread's quality of service lowered to "user initiated" (the main thread is "user
  interactive"); it keeps the performance cores, unlike "utility".

Plain ctypes and os calls; no Qt, so it is tested without a window.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

#: How far a worker's nice value is raised on Linux: at +10 a contended core gives the GUI
#: thread ~90% of its time (CFS weights 1024 against 110).
LINUX_NICE_STEP = 10
_WINDOWS_BELOW_NORMAL = -1
_MACOS_QOS_USER_INITIATED = 0x19


def lower_current_thread_priority() -> bool:
    """Lower the calling thread's CPU priority below the GUI thread's. True when the OS took
    it; False (logged, never raised) where it cannot be done."""
    try:
        if sys.platform.startswith("linux"):
            tid = threading.get_native_id()
            now = os.getpriority(os.PRIO_PROCESS, tid)  # on Linux, PRIO_PROCESS with a thread id is that thread
            os.setpriority(os.PRIO_PROCESS, tid, min(19, now + LINUX_NICE_STEP))
            return True
        if sys.platform == "win32":
            kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
            kernel32.GetCurrentThread.restype = ctypes.c_void_p
            kernel32.SetThreadPriority.argtypes = (ctypes.c_void_p, ctypes.c_int)
            return bool(kernel32.SetThreadPriority(kernel32.GetCurrentThread(), _WINDOWS_BELOW_NORMAL))
        if sys.platform == "darwin":
            libsystem = ctypes.CDLL("/usr/lib/libSystem.dylib")
            return libsystem.pthread_set_qos_class_self_np(_MACOS_QOS_USER_INITIATED, 0) == 0
    except (OSError, AttributeError, ValueError) as exc:
        log.info("Could not lower a worker thread's priority: %s", exc)
    return False


def current_thread_nice() -> int:
    """The calling thread's nice value (Linux; 0 elsewhere): for tests and diagnostics."""
    if sys.platform.startswith("linux"):
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    return 0
