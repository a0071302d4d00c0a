"""Disk cache of preprocessed inputs, so epochs re-read 16 KB per image instead of re-decoding.

The cache holds the uint8 stage of the shared preprocessing (``preprocess_uint8``) as one
raw file of N x 128 x 128 bytes. Batches are read with positioned reads, not a memory map,
so the process's memory stays flat however large the dataset is.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..imaging import INPUT_SIZE, PREPROCESSING_ID, ImageLoadError, load_image, preprocess_uint8
from ..paths import user_cache_dir
from ..progress import CancelCheck, Progress, ProgressCallback, check_cancel, no_progress
from .dataset import Sample

ITEM_BYTES = INPUT_SIZE * INPUT_SIZE


class CacheWriteError(Exception):
    """The input cache could not be written (disk full, no permission); no model was touched."""


def _write_message(exc: OSError, folder: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return (f"The disk holding {folder} is full, so the prepared training images could not be "
                "stored there. Free some space and start again; no model was changed.")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"XRay Viewer may not write its prepared training images to {folder}; no model was changed."
    return f"The prepared training images could not be stored in {folder} ({exc.strerror or exc}); no model was changed."


def _key(samples: Sequence[Sample]) -> str:
    h = hashlib.sha256(PREPROCESSING_ID.encode())
    for s in samples:
        st = os.stat(s.path)
        h.update(f"{os.path.abspath(s.path)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:24]


class InputCache:
    """Random access to the cached uint8 inputs of a fixed list of samples."""

    def __init__(self, data_path: Path, count: int):
        self.path = Path(data_path)
        self.count = count

    def read(self, indices) -> np.ndarray:
        """(len(indices), 128, 128) uint8, read with positioned reads (no memory map)."""
        out = np.empty((len(indices), INPUT_SIZE, INPUT_SIZE), dtype=np.uint8)
        fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            for j, i in enumerate(indices):
                buf = os.pread(fd, ITEM_BYTES, int(i) * ITEM_BYTES) if hasattr(os, "pread") else None
                if buf is None:  # Windows has no pread
                    os.lseek(fd, int(i) * ITEM_BYTES, os.SEEK_SET)
                    buf = os.read(fd, ITEM_BYTES)
                out[j] = np.frombuffer(buf, dtype=np.uint8).reshape(INPUT_SIZE, INPUT_SIZE)
        finally:
            os.close(fd)
        return out


def build_cache(samples: Sequence[Sample], cache_dir=None, on_progress: ProgressCallback = no_progress,
                should_cancel: Optional[CancelCheck] = None) -> tuple[InputCache, list[int], list[tuple[str, str]]]:
    """Decode and preprocess every sample once (reused while files are unchanged), in
    ``cache_dir`` (None: the per-user cache folder's ``inputs``, shared by every training run).

    Returns the cache, the indices of samples that decoded, and (path, reason) for those that
    did not (they are skipped, never fatal).
    """
    cache_dir = Path(cache_dir) if cache_dir else user_cache_dir() / "inputs"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheWriteError(_write_message(exc, cache_dir)) from None
    key = _key(samples)
    data_path = cache_dir / f"inputs-{key}.u8"
    index_path = cache_dir / f"inputs-{key}.json"
    if data_path.exists() and index_path.exists():
        try:
            index = json.loads(index_path.read_text())
            if os.path.getsize(data_path) == len(samples) * ITEM_BYTES:
                return InputCache(data_path, len(samples)), index["ok"], [tuple(x) for x in index["bad"]]
        except (OSError, ValueError, KeyError):
            pass
    ok, bad = [], []
    tmp = data_path.with_suffix(f".tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            for i, s in enumerate(samples):
                check_cancel(should_cancel)
                try:
                    arr = preprocess_uint8(load_image(s.path))
                    ok.append(i)
                except ImageLoadError as exc:
                    arr = np.zeros((INPUT_SIZE, INPUT_SIZE), np.uint8)
                    bad.append((s.path, str(exc)))
                fh.write(arr.tobytes())
                if i % 100 == 0 or i == len(samples) - 1:
                    on_progress(Progress("cache", i + 1, len(samples), "Preparing images"))
        os.replace(tmp, data_path)
        index_path.write_text(json.dumps({"ok": ok, "bad": bad}))
    except OSError as exc:
        # Disk full (~16 KB per image) or no permission: say so instead of a traceback. A
        # half-written index is harmless: a cache is only reused when both files check out.
        raise CacheWriteError(_write_message(exc, cache_dir)) from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return InputCache(data_path, len(samples)), ok, bad
