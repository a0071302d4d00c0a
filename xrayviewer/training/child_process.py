"""Long work in a child process, with the same progress/cancel protocol, for the GUI.

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


class TrainingProcessError(RuntimeError):
    """The child process died without a result (crash, killed, out of memory)."""


def _child(conn, cancel_event, fn, args, kwargs) -> None:
    try:
        result = fn(*args, on_progress=lambda p: conn.send(("progress", p)), should_cancel=cancel_event.is_set,
                    **kwargs)
        conn.send(("done", result))
    except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the parent
        try:
            conn.send(("error", exc))
        except Exception:  # an exception that does not pickle: send its words
            conn.send(("error", TrainingProcessError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def run_in_child_process(fn, *args, on_progress: ProgressCallback = no_progress,
                         should_cancel: Optional[CancelCheck] = None, what: str = "background", **kwargs):
    """``fn(*args, on_progress=, should_cancel=, **kwargs)`` in a spawned child (``fn`` must be
    a module-level function, its arguments and result picklable). Returns its result, raises
    its exception (Cancelled included), or TrainingProcessError if the child dies."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    cancel = ctx.Event()
    proc = ctx.Process(target=_child, args=(sender, cancel, fn, args, kwargs), name=f"xrayviewer-{what}",
                       daemon=True)
    proc.start()
    sender.close()
    died = f"The {what} process stopped unexpectedly (exit code {{}})."
    try:
        while True:
            if should_cancel is not None and should_cancel():
                cancel.set()  # the child stops at its next check and reports Cancelled
            if receiver.poll(0.1):
                try:
                    kind, value = receiver.recv()
                except (EOFError, OSError):
                    raise TrainingProcessError(died.format(proc.exitcode)) from None
                if kind == "progress":
                    on_progress(value)
                elif kind == "done":
                    return value
                else:
                    raise value
            elif not proc.is_alive() and not receiver.poll():
                raise TrainingProcessError(died.format(proc.exitcode))
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
    ModelSaveError, or TrainingProcessError if the child dies."""
    return run_in_child_process(_fit, config, scan, on_progress=on_progress, should_cancel=should_cancel,
                                what="training")


def _add_litert(keras_path, on_progress, should_cancel):
    from ..model.add_litert import add_litert

    return add_litert(keras_path)


def add_litert_in_child_process(keras_path, should_cancel: Optional[CancelCheck] = None):
    """Give a bundle made before LiteRT its .tflite with TensorFlow kept out of this process
    (the window's). Raises ModelLoadError, or TrainingProcessError if the child dies."""
    return run_in_child_process(_add_litert, str(keras_path), should_cancel=should_cancel, what="model conversion")
