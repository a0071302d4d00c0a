"""Files that appear whole or not at all (framework-free, shared by every layer that writes).

A full disk or a lost network share midway used to leave a truncated file in place of the one
the user chose to overwrite. Everything is written to a temporary file beside the target, then
``os.replace``d over it (atomic on one filesystem). OSError still reaches the caller.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", prefix: str = ".xrayviewer-", **open_kwargs) -> Iterator[IO]:
    """``with atomic_open(path, "w", newline="", encoding="utf-8") as fh:`` -- ``path`` is replaced
    only when the block ends without an exception; the temporary file is removed otherwise."""
    folder = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(str(path))[1] + ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    try:
        # mkstemp makes the file private (0600); a replaced file keeps its own mode, a new
        # one gets the usual 0644, as if it had been opened with open().
        try:
            permissions = os.stat(path).st_mode & 0o7777
        except OSError:
            permissions = 0o644
        os.chmod(tmp, permissions)
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
