"""Lazy, quiet import of Keras/TensorFlow. Nothing at module level imports them, on purpose:
the CLI's --help, the GUI's first paint and the imaging layer must not pay 2-3 s for TF."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading

# What TensorFlow's native code prints on every start on a machine without a GPU. Since TF
# 2.18 these go through absl *before* TF_CPP_MIN_LOG_LEVEL is read, so the variable cannot
# silence them (tensorflow/tensorflow#100442): the banner line, INFO/WARNING lines in absl's
# format ("I0000 00:00:1795676459.823186    4077 port.cc:153] ..."), and the failed CUDA probe
# that CUDA_VISIBLE_DEVICES=-1 provokes.
_STARTUP_CHATTER = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\]"
    r"|E\d{4} \d\d:\d\d:\d+\.\d+ +\d+ cuda_\w+\.cc:\d+\] failed call to cuInit"
    # LiteRT's interpreter, on creation.
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.")


def is_startup_chatter(line: str) -> bool:
    return bool(_STARTUP_CHATTER.match(line))


# File descriptor 2 belongs to the process, not to a thread: two threads redirecting it at once
# (``predict``'s two loader threads each opening their LiteRT interpreter) would each save the
# other's temporary file as "the real stderr" and leave the process writing into a deleted
# file for good. One redirect at a time; a thread already inside may nest.
_FD2_REDIRECT = threading.RLock()


@contextlib.contextmanager
def startup_chatter_filtered(drop_all: bool = False):
    """See :func:`_filtered`; one thread at a time (fd 2 is shared by the whole process)."""
    with _FD2_REDIRECT, _filtered(drop_all):
        yield


@contextlib.contextmanager
def _filtered(drop_all: bool = False):
    """Capture what native code writes to stderr (file descriptor 2) inside the block, then
    write back everything except TensorFlow's start-up chatter (``drop_all``: nothing, for the
    LiteRT converter's pages of MLIR notes; its failures arrive as exceptions). Errors,
    tracebacks and any other thread's output come through, only later. Without a usable fd 2
    (a windowed frozen app), nothing is redirected."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):
        saved = None
    if saved is None:  # yielded outside the handler, so errors in the block carry no false context
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = "" if drop_all else "".join(
                line for line in text.splitlines(keepends=True) if not is_startup_chatter(line))
            if kept:
                os.write(2, kept.encode("utf-8"))


def set_tensorflow_environment() -> None:
    """The environment every TensorFlow import of the app starts from: Keras on the TensorFlow
    backend, TensorFlow's C++ log quiet below warnings, and its BFC CPU allocator. Call before
    importing TensorFlow; a value the user's environment already holds wins.

    Why BFC: TensorFlow's default CPU allocator hands a training step's large activations (67 MB
    for the stem of a batch of 32) to malloc, which maps fresh pages for each and unmaps them
    after: the kernel then zeroes every page again, every step. Measured on the 2-core
    development machine (default-frame-xy, 1,017 training films, 2026-12-07): 456 k page faults
    a step, as much system time as user time, 51 s an epoch; with the BFC allocator, which
    keeps the memory it has grown to, 28 s an epoch and bit-identical weights.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")


def import_keras():
    """Import Keras 3 on the TensorFlow backend, with TF's start-up chatter silenced."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    set_tensorflow_environment()
    # The app never uses a GPU here; probing CUDA only costs start-up time and log noise.
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
    with startup_chatter_filtered():
        import keras  # noqa: PLC0415
        import tensorflow as tf  # noqa: PLC0415

        tf.config.list_physical_devices()  # the device probe prints too; get it over with here
    return keras


def import_tensorflow():
    import_keras()
    import tensorflow as tf  # noqa: PLC0415

    return tf


def versions() -> dict[str, str]:
    keras = import_keras()
    tf = import_tensorflow()
    return {"keras": keras.__version__, "tensorflow": tf.__version__}
