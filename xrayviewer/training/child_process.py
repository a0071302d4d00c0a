"""The one Qt-free helper for work that needs TensorFlow, run in a child process:
call a function, stream its progress, cancel it, and turn a crash into a one-line error.

The window runs these calls as background tasks (``gui.background``); the function runs in
a spawned child with the same progress/cancel protocol as everywhere else.

Why: Keras keeps per-process state (traced functions, name counters, allocator pools) that
a finished fit() does not give back; in one GUI session memory grew ~35 MB per training run
and never levelled off. A child process returns everything to the OS when it exits, so the
tenth training costs what the first did. It also keeps TensorFlow out of the window's process
(which never imports it): the window's local-cases check and site calibration run here too.
"""

from __future__ import annotations

import multiprocessing
from typing import Optional

from ..progress import CancelCheck, ProgressCallback, no_progress


class ChildProcessFailed(RuntimeError):
    """The child process died without a result (crash, killed, out of memory), or its error
    could not be sent back; the message is one line."""


def _child(conn, cancel_event, fn, args, kwargs) -> None:
    try:
        result = fn(*args, on_progress=lambda p: conn.send(("progress", p)), should_cancel=cancel_event.is_set,
                    **kwargs)
        conn.send(("done", result))
    except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the parent
        try:
            conn.send(("error", exc))
        except Exception:  # noqa: BLE001 - an exception that does not pickle: send its words
            first_line = (str(exc).strip().splitlines() or [""])[0]
            conn.send(("error", ChildProcessFailed(f"{type(exc).__name__}: {first_line}")))
    finally:
        conn.close()


def run_in_child_process(fn, *args, on_progress: ProgressCallback = no_progress,
                         should_cancel: Optional[CancelCheck] = None, what: str = "background", **kwargs):
    """``fn(*args, on_progress=, should_cancel=, **kwargs)`` in a spawned child (``fn`` must be
    a module-level function, its arguments and result picklable). Returns its result, raises
    its exception (Cancelled included), or ChildProcessFailed if the child dies."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    cancel = ctx.Event()
    proc = ctx.Process(target=_child, args=(sender, cancel, fn, args, kwargs), name=f"xrayviewer-{what}",
                       daemon=True)
    proc.start()
    sender.close()

    def died() -> ChildProcessFailed:
        proc.join(timeout=5)  # the pipe can close before the child is reaped: wait for its exit code
        return ChildProcessFailed(f"The {what} process stopped unexpectedly (exit code {proc.exitcode}).")

    try:
        while True:
            if should_cancel is not None and should_cancel():
                cancel.set()  # the child stops at its next check and reports Cancelled
            if receiver.poll(0.1):
                try:
                    kind, value = receiver.recv()
                except (EOFError, OSError):
                    raise died() from None
                if kind == "progress":
                    on_progress(value)
                elif kind == "done":
                    return value
                else:
                    raise value
            elif not proc.is_alive() and not receiver.poll():
                raise died()
    finally:
        cancel.set()
        receiver.close()
        proc.join(timeout=60)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)


def _fit(config, scan, on_progress, should_cancel):
    from .fit import fit

    return fit(config, on_progress=on_progress, should_cancel=should_cancel, scan=scan)


def fit_in_child_process(config, on_progress: ProgressCallback = no_progress,
                         should_cancel: Optional[CancelCheck] = None, scan=None):
    """Same contract as training.fit: returns FitResult, raises Cancelled, DatasetError,
    ModelSaveError, or ChildProcessFailed if the child dies."""
    return run_in_child_process(_fit, config, scan, on_progress=on_progress, should_cancel=should_cancel,
                                what="training")


def _add_litert(keras_path, on_progress, should_cancel):
    from ..model.add_litert import add_litert

    return add_litert(keras_path)


def add_litert_in_child_process(keras_path, should_cancel: Optional[CancelCheck] = None):
    """Give a bundle made before LiteRT its .tflite with TensorFlow kept out of this process
    (the window's). Raises ModelLoadError, or ChildProcessFailed if the child dies."""
    return run_in_child_process(_add_litert, str(keras_path), should_cancel=should_cancel, what="model conversion")
