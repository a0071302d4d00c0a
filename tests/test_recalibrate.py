"""Recalibration rebuilds a bundle's validation split from its metadata and refits what fit()
fits after the weights; the model card and the shift benchmark rely on both being exact."""

from __future__ import annotations

import json

import pytest

from conftest import TINY_DATASET


def _meta(path):
    return json.loads(path.with_suffix(".json").read_text())


def test_recalibrating_an_unchanged_bundle_gives_back_its_numbers(tiny_model, tmp_path):
    from xrayviewer.training.recalibrate import recalibrate_bundle

    out = recalibrate_bundle(tiny_model, TINY_DATASET, tmp_path, name="again")
    before, after = _meta(tiny_model), _meta(out)
    assert after["threshold"] == before["threshold"]
    assert after["calibration"] == pytest.approx(before["calibration"])
    assert after["operating_points"] == before["operating_points"]
    assert after["split"] == before["split"]
    assert after["recalibrated"]["from_sha256"] == before["sha256"]


def test_reproduced_split_is_the_one_fit_recorded(tiny_model):
    from xrayviewer.model.bundle import read_model_info
    from xrayviewer.training.recalibrate import reproduce_split

    info = read_model_info(tiny_model)
    prepared = reproduce_split(info, TINY_DATASET)
    assert len(prepared.val) == info.meta["split"]["val_images"]
    # No patient on both sides: the split is by patient, as fit() made it.
    assert not {s.patient for s in prepared.val} & {s.patient for s in prepared.train}


def test_another_dataset_is_refused_with_a_reason(tiny_model, tiny_dataset):
    from xrayviewer.model.bundle import read_model_info
    from xrayviewer.training.dataset import DatasetError
    from xrayviewer.training.recalibrate import reproduce_split

    victim = next((tiny_dataset / "NORMAL").iterdir())
    victim.unlink()
    with pytest.raises(DatasetError, match="not the dataset"):
        reproduce_split(read_model_info(tiny_model), tiny_dataset)


def test_recalibrating_for_another_sensitivity_moves_only_the_threshold(tiny_model, tmp_path):
    from xrayviewer.model.bundle import read_model_info
    from xrayviewer.model.metrics import operating_point
    from xrayviewer.training.recalibrate import recalibrate_bundle

    before = _meta(tiny_model)
    out = recalibrate_bundle(tiny_model, TINY_DATASET, tmp_path, name="sens", sensitivity_target=1.0)
    after = _meta(out)
    assert after["config"]["sensitivity_target"] == 1.0
    assert "1.0" in after["threshold_rule"]
    assert after["calibration"] == pytest.approx(before["calibration"])  # the same probabilities
    assert after["operating_points"] == before["operating_points"]
    # The new threshold catches every validation pneumonia, as asked.
    assert operating_point(after["operating_points"], after["threshold"])[0] == 1.0
    assert read_model_info(out).threshold == after["threshold"]


def test_one_split_rebuild_for_evaluate_and_recalibration(tiny_model, tiny_dataset):
    """Evaluate (no decoding) and recalibration (decoding, as fit() did) rebuild the same split
    with one function; on another file list it says so and decodes nothing."""
    from xrayviewer.model.bundle import read_model_info
    from xrayviewer.training import scan_dataset
    from xrayviewer.training.split import rebuild_model_split

    meta = read_model_info(tiny_model).meta
    plain = rebuild_model_split(scan_dataset(TINY_DATASET), meta)
    decoded = rebuild_model_split(scan_dataset(TINY_DATASET), meta, decode=True)
    assert plain.prepared is None and decoded.prepared is not None
    assert [s.path for s in plain.val] == [s.path for s in decoded.val]
    assert not plain.files_differ and not plain.count_differs
    assert len(plain.val) == meta["split"]["val_images"]

    next((tiny_dataset / "NORMAL").iterdir()).unlink()
    other = rebuild_model_split(scan_dataset(tiny_dataset), meta, decode=True)
    assert other.files_differ and other.prepared is None
