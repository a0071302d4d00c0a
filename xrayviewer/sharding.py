"""Which part of a list of files belongs to machine I of N (framework-free).

Two jobs split work across machines and each needs a rule every machine computes alike, with
nothing exchanged between them:

* ``predict --shard I/N`` scores part I of an archive. A file's part is fixed by a hash of its
  path relative to the folder it was found in, so the parts do not depend on where each
  machine mounts the archive, nor on which other files exist (adding a file moves no other
  file to another part). Within a run, rows come in "archive order": by that hash, then by
  relative path. Each part is a contiguous range of the hash, so parts 1..N, concatenated,
  are row for row the archive-ordered result of one machine (``--shard 1/1``).
* ``train --distribute`` gives worker K of N every N-th training file by sorted path
  (round robin keeps both classes and every patient group spread over the workers).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Sequence, TypeVar

T = TypeVar("T")

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_HASH_BITS = 64


@dataclass(frozen=True)
class ShardSpec:
    """Part ``index`` (1-based, as people count) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> "ShardSpec":
        """'I/N' with 1 <= I <= N; ValueError with a message for people otherwise."""
        m = _SPEC.match(text or "")
        if not m:
            raise ValueError(f"--shard takes I/N, e.g. 2/4 for the second of four parts, not {text!r}.")
        index, count = int(m.group(1)), int(m.group(2))
        if count < 1 or not 1 <= index <= count:
            raise ValueError(f"--shard {text}: I must be between 1 and N (N at least 1).")
        return cls(index, count)


def archive_key(relative_path: str) -> int:
    """A 64-bit hash of a relative path written with '/' (the same on every operating system)."""
    norm = relative_path.replace(os.sep, "/").replace("\\", "/")
    return int.from_bytes(hashlib.sha256(norm.encode("utf-8")).digest()[:8], "big")


def part_of(key: int, count: int) -> int:
    """The 1-based part of ``count`` a key falls in: equal contiguous ranges of the hash space."""
    return (key * count >> _HASH_BITS) + 1


def relative_to_argument(path: str, arguments: Sequence[str]) -> str:
    """``path`` relative to the command-line folder it was found under; a file named directly
    is keyed by its own name (it has no folder to be relative to)."""
    full = os.path.abspath(path)
    best = ""
    for arg in arguments:
        a = os.path.abspath(arg)
        if os.path.isdir(a) and (full.startswith(a.rstrip(os.sep) + os.sep)) and len(a) > len(best):
            best = a
    rel = os.path.relpath(full, best) if best else os.path.basename(full)
    return rel.replace(os.sep, "/")


def archive_order(paths: Sequence[str], arguments: Sequence[str]) -> list[tuple[int, str, str]]:
    """(key, relative path, path) of each file, in archive order."""
    keyed = []
    for p in paths:
        rel = relative_to_argument(p, arguments)
        keyed.append((archive_key(rel), rel, p))
    keyed.sort(key=lambda t: (t[0], t[1], t[2]))
    return keyed


def select_part(paths: Sequence[str], arguments: Sequence[str], spec: ShardSpec) -> list[str]:
    """The files of part ``spec`` of ``paths``, in archive order."""
    return [p for key, _rel, p in archive_order(paths, arguments) if part_of(key, spec.count) == spec.index]


def round_robin(items: Sequence[T], index: int, count: int) -> list[T]:
    """Item ``index`` (0-based), ``index + count``, ... of ``items``: worker ``index`` of ``count``."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"worker {index} of {count} does not exist")
    return list(items[index::count])
