"""Lazy, quiet import of Keras/TensorFlow. Nothing at module level imports them, on purpose:
the CLI's --help, the GUI's first paint and the imaging layer must not pay 2-3 s for TF."""

from __future__ import annotations

import os


def import_keras():
    """Import Keras 3 on the TensorFlow backend, with TF's start-up chatter silenced."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # The app never uses a GPU here; probing CUDA only costs start-up time and log noise.
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
    import keras  # noqa: PLC0415

    return keras


def import_tensorflow():
    import_keras()
    import tensorflow as tf  # noqa: PLC0415

    return tf


def versions() -> dict[str, str]:
    keras = import_keras()
    tf = import_tensorflow()
    return {"keras": keras.__version__, "tensorflow": tf.__version__}
