"""atomic_open: the target appears whole or not at all, with an ordinary file's permissions."""

from __future__ import annotations

import os
import stat

import pytest

from xrayviewer.atomic import atomic_open


def test_a_failure_midway_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as fh:
            fh.write("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["out.csv"]
    with atomic_open(target, "w") as fh:
        fh.write("new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640  # a replaced file keeps its mode


def test_a_new_file_is_readable_like_any_other_not_private(tmp_path):
    target = tmp_path / "snap.png"
    with atomic_open(target, "wb") as fh:
        fh.write(b"x")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644  # mkstemp alone made it 0600
