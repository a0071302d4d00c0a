"""Helpers the GUI tests share: the tiny dataset's images and waiting for a window to settle."""

from __future__ import annotations

from pathlib import Path

TINY = Path(__file__).resolve().parent.parent / "fixtures" / "tiny_dataset"
MODEL_TIMEOUT_MS = 90_000  # TensorFlow's first import plus a load, on a busy 2-core machine


def tiny_images(n_normal=2, n_pneumonia=2) -> list[Path]:
    return sorted((TINY / "NORMAL").glob("*.jpeg"))[:n_normal] + sorted((TINY / "PNEUMONIA").glob("*.jpeg"))[:n_pneumonia]


def wait_settled(qtbot, window, timeout=MODEL_TIMEOUT_MS):
    """Until the model has loaded and every row is scored or failed (and the current image shown)."""
    c = window.controller
    qtbot.waitUntil(lambda: c.models.state in ("ready", "failed") and c.is_settled(), timeout=timeout)
