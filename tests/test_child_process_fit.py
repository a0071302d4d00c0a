"""fit() in a child process keeps fit()'s contract: progress, cancel, result, errors."""

from __future__ import annotations

import pytest

from xrayviewer.progress import Cancelled
from xrayviewer.training import DatasetError, TrainConfig
from xrayviewer.training.child_process import fit_in_child_process


def test_child_process_training_reports_progress_and_returns_a_saved_bundle(tiny_dataset, tmp_path):
    events = []
    cfg = TrainConfig(dataset_dir=str(tiny_dataset), out_dir=str(tmp_path / "out"), epochs=1, name="child",
                      val_fraction=0.35, cache_dir=str(tmp_path / "cache"))
    result = fit_in_child_process(cfg, on_progress=events.append)
    assert result.model_path.exists() and result.model_path.with_suffix(".json").exists()
    assert {"batch", "epoch"} <= {e.stage for e in events}


def test_cancel_crosses_the_process_boundary_and_writes_nothing(tiny_dataset, tmp_path):
    out = tmp_path / "out"
    batches = []

    def on_progress(p):
        if p.stage == "batch":
            batches.append(p)

    cfg = TrainConfig(dataset_dir=str(tiny_dataset), out_dir=str(out), epochs=5, name="cancelled",
                      val_fraction=0.35, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(Cancelled):
        fit_in_child_process(cfg, on_progress=on_progress, should_cancel=lambda: len(batches) >= 1)
    assert not list(out.glob("*.keras")) and not list(out.glob("*.json"))


def test_errors_in_the_child_arrive_as_their_own_type(tmp_path):
    (tmp_path / "empty").mkdir()
    cfg = TrainConfig(dataset_dir=str(tmp_path / "empty"), out_dir=str(tmp_path / "out"), epochs=1)
    with pytest.raises(DatasetError, match="NORMAL"):
        fit_in_child_process(cfg)


def _dies(on_progress, should_cancel):
    import os

    on_progress("about to die")
    os._exit(3)  # a crash, an OOM kill: no result, no exception


def test_a_child_that_dies_is_one_line_after_its_progress(tmp_path):
    from xrayviewer.training.child_process import ChildProcessFailed, run_in_child_process

    seen = []
    with pytest.raises(ChildProcessFailed) as caught:
        run_in_child_process(_dies, on_progress=seen.append, what="test")
    assert seen == ["about to die"]
    assert str(caught.value) == "The test process stopped unexpectedly (exit code 3)." and "\n" not in str(caught.value)
