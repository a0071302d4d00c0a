"""One LiteRT interpreter over a ``.tflite`` held in memory, and the indices of its two outputs.

Kept apart from ``networks`` (which reads bundles) so that the conversion check in
``convert`` (called by ``bundle.save_bundle``) can run a model without importing ``bundle``.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np


class LiteRTRunner:
    """One LiteRT interpreter (not thread-safe) and the indices of its two outputs."""

    def __init__(self, model_bytes: bytes, threads: Optional[int] = None):
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415 - 0.01 s, only when scoring

        from .runtime import startup_chatter_filtered

        # The XNNPACK delegate announces itself on stderr at creation: not for users.
        with startup_chatter_filtered():
            self.interpreter = Interpreter(model_content=model_bytes, num_threads=threads or _threads())
            self.interpreter.allocate_tensors()
        details = self.interpreter.get_input_details()[0]
        self.input = details["index"]
        self.channels = int(details["shape"][-1])  # 1 for bundles converted since 2026-12-07
        outputs = self.interpreter.get_output_details()
        # The converter orders outputs its own way: the score is the 2-D one.
        self.prob = next(o["index"] for o in outputs if len(o["shape"]) == 2)
        self.conv = next(o["index"] for o in outputs if len(o["shape"]) == 4)
        self.batch = 1

    def forward(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``batch``: model inputs (n, 128, 128, 3), or their grey channel (n, 128, 128, 1)."""
        batch = np.ascontiguousarray(fit_channels(batch, self.channels))
        it = self.interpreter
        if len(batch) != self.batch:  # resizing re-plans memory (~45 ms at 32): only on change
            it.resize_tensor_input(self.input, batch.shape, strict=False)
            it.allocate_tensors()
            self.batch = len(batch)
        it.set_tensor(self.input, batch)
        it.invoke()
        # get_tensor copies: the interpreter reuses its buffers on the next call.
        prob = it.get_tensor(self.prob).astype(np.float64).reshape(-1)
        return prob, it.get_tensor(self.conv)


def fit_channels(batch: np.ndarray, channels: int) -> np.ndarray:
    """Model inputs in the channels a network takes: the shared preprocessing's three equal
    copies of the grey film (``imaging.to_model_input``), or that film once, for a network
    whose first convolution was folded to one channel (``convert.grey_input_network``).

    Raises ValueError for a three-channel input whose channels differ: a folded network
    would score it as something other than what Keras scores, and no preprocessing of ours
    makes one.
    """
    batch = np.asarray(batch, dtype=np.float32)
    have = batch.shape[-1]
    if have == channels:
        return batch
    if channels == 1 and have == 3:
        if not (np.array_equal(batch[..., 0], batch[..., 1]) and np.array_equal(batch[..., 1], batch[..., 2])):
            raise ValueError("The network takes a grey film, copied into three equal channels by the shared "
                             "preprocessing; this input's channels differ.")
        return batch[..., :1]
    if channels == 3 and have == 1:
        return np.repeat(batch, 3, axis=-1)
    raise ValueError(f"The network takes {channels} channel(s); the input has {have}.")


def _threads() -> int:
    """Two threads: measured on the 2-core reference machine, 1.7 ms an image at a batch of 32
    against 3.3 ms with one (and no gain from more on 2 cores)."""
    return max(1, min(2, os.cpu_count() or 1))


def run_tflite(model_bytes: bytes, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One forward pass of a .tflite held in memory (the conversion check)."""
    return LiteRTRunner(model_bytes).forward(batch)

