"""fit() (and the LiteRT conversion of an old bundle) in a child process, with the same
progress/cancel protocol, for the GUI: whatever needs TensorFlow runs here, never in the window.

Why: Keras keeps per-process state (traced functions, name counters, allocator pools) that
a finished fit() does not give back; in one GUI session memory grew ~35 MB per training run
and never levelled off. A child process returns everything to the OS when it exits, so the
tenth training costs what the first did. It also keeps TensorFlow's GIL-holding work out of
the window's process.
"""

from __future__ import annotations

import multiprocessing
from typing import Optional

from ..progress import CancelCheck, ProgressCallback, no_progress


class TrainingProcessError(RuntimeError):
    """The training process died without a result (crash, killed, out of memory)."""


def _child(conn, cancel_event, fn, args) -> None:
    try:
        result = fn(*args, on_progress=lambda p: conn.send(("progress", p)), should_cancel=cancel_event.is_set)
        conn.send(("done", result))
    except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the parent
        try:
            conn.send(("error", exc))
        except Exception:  # an exception that does not pickle: send its words
            conn.send(("error", TrainingProcessError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def _fit(config, scan, on_progress, should_cancel):
    from .fit import fit

    return fit(config, on_progress=on_progress, should_cancel=should_cancel, scan=scan)


def fit_in_child_process(config, on_progress: ProgressCallback = no_progress,
                         should_cancel: Optional[CancelCheck] = None, scan=None):
    """Same contract as training.fit: returns FitResult, raises Cancelled, DatasetError,
    ModelSaveError, or TrainingProcessError if the child dies."""
    return call_in_child_process(_fit, config, scan, on_progress=on_progress, should_cancel=should_cancel,
                                 what="training")


def _add_litert(keras_path, on_progress, should_cancel):
    from ..model.add_litert import add_litert

    return add_litert(keras_path)


def add_litert_in_child_process(keras_path, should_cancel: Optional[CancelCheck] = None):
    """Give a bundle made before LiteRT its .tflite, with TensorFlow kept out of this process
    (the window's). Raises ModelLoadError, or TrainingProcessError if the child dies."""
    return call_in_child_process(_add_litert, str(keras_path), should_cancel=should_cancel,
                                 what="model conversion")


def call_in_child_process(fn, *args, on_progress: ProgressCallback = no_progress,
                          should_cancel: Optional[CancelCheck] = None, what: str = "training"):
    """``fn(*args, on_progress=..., should_cancel=...)`` (a module-level function) in a spawned
    child: progress streams back, cancel reaches it within one ``should_cancel`` check, its
    exceptions are raised here, and a crash becomes one TrainingProcessError sentence."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    cancel = ctx.Event()
    proc = ctx.Process(target=_child, args=(sender, cancel, fn, args), name=f"xrayviewer-{what.replace(' ', '-')}",
                       daemon=True)
    proc.start()
    sender.close()
    try:
        while True:
            if should_cancel is not None and should_cancel():
                cancel.set()  # the child stops at its next check and reports Cancelled
            if receiver.poll(0.1):
                try:
                    kind, value = receiver.recv()
                except (EOFError, OSError):
                    raise TrainingProcessError(
                        f"The {what} process stopped unexpectedly (exit code {proc.exitcode}).") from None
                if kind == "progress":
                    on_progress(value)
                elif kind == "done":
                    return value
                else:
                    raise value
            elif not proc.is_alive() and not receiver.poll():
                raise TrainingProcessError(
                    f"The {what} process stopped unexpectedly (exit code {proc.exitcode}).")
    finally:
        cancel.set()
        receiver.close()
        proc.join(timeout=60)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)
