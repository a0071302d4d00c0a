"""Training end to end (tiny), cancellation, atomic saving and refusing bad bundles."""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY_DATASET
from xrayviewer.imaging import PREPROCESSING_ID
from xrayviewer.model import ModelLoadError, ModelSaveError, Predictor, read_model_info, save_bundle
from xrayviewer.model.bundle import sha256_of
from xrayviewer.progress import Cancelled
from xrayviewer.training import DatasetError, TrainConfig, fit, scan_dataset

pytestmark = pytest.mark.slow

BUNDLE_SUFFIXES = (".keras", ".json", ".ood.npz")


def _bundle_files(keras_path: Path) -> list[Path]:
    stem = keras_path.name[: -len(".keras")]
    return [keras_path.with_name(stem + s) for s in BUNDLE_SUFFIXES]


def _copy_bundle(keras_path: Path, folder: Path, name: str | None = None) -> Path:
    """Copy a bundle's three files into ``folder`` (renamed to ``name`` if given)."""
    folder.mkdir(parents=True, exist_ok=True)
    old = keras_path.name[: -len(".keras")]
    new = name or old
    for f in _bundle_files(keras_path):
        if f.exists():
            shutil.copy2(f, folder / (new + f.name[len(old):]))
    if name:
        meta_file = folder / f"{new}.json"
        meta = json.loads(meta_file.read_text())
        meta["name"] = new
        meta_file.write_text(json.dumps(meta))
    return folder / f"{new}.keras"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(folder: Path) -> list[str]:
    """Temporary folders or files a save or a cancelled run may have left behind."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".") or "saving" in p.name or "tmp" in p.name]


# --------------------------------------------------------------------------- a finished run

def test_fit_writes_bundle_with_full_metadata(tiny_model):
    files = _bundle_files(tiny_model)
    assert [f.exists() for f in files] == [True, True, True]
    assert tiny_model.name == "tiny.keras"
    assert _leftovers(tiny_model.parent) == []
    meta = json.loads(files[1].read_text())
    for key in ("recipe", "preprocessing", "input_shape", "threshold", "validation", "data", "versions",
                "command", "calibration", "operating_points", "sha256", "created", "split"):
        assert key in meta, key
    assert meta["recipe"] == "default-frame-xy-slim-stride"  # "default" resolved to the recipe it stands for
    assert meta["preprocessing"] == PREPROCESSING_ID
    assert meta["input_shape"] == [128, 128, 3]
    assert 0.0 <= meta["threshold"] <= 1.0
    assert meta["sha256"] == sha256_of(tiny_model)
    for k in ("auc", "accuracy", "sensitivity", "specificity"):
        assert k in meta["validation"]
    fingerprint = scan_dataset(TINY_DATASET).fingerprint()
    assert meta["data"]["files"] == 24 == fingerprint["files"]
    assert meta["data"]["list_sha256"] == fingerprint["list_sha256"]
    assert set(meta["versions"]) >= {"tensorflow", "keras"}
    assert meta["command"] == "pytest fixture"
    assert meta["calibration"]["temperature"] > 0
    table = meta["operating_points"]
    assert len(table["thresholds"]) == len(table["sensitivity"]) == len(table["specificity"]) >= 1
    assert meta["ood"]["file"] == "tiny.ood.npz"
    assert meta["split"]["train_images"] + meta["split"]["val_images"] == 24
    # The bundle reads back and its operating point at its own threshold is recorded.
    info = read_model_info(tiny_model)
    assert info.threshold == meta["threshold"]
    sens, spec = info.operating_point()
    assert 0.0 <= sens <= 1.0 and 0.0 <= spec <= 1.0


# --------------------------------------------------------------------------- cancellation

def test_cancel_after_second_batch(tiny_dataset, tmp_path):
    out = tmp_path / "models"
    out.mkdir()
    (out / "other.keras").write_bytes(b"weights of another model")
    (out / "other.json").write_text('{"name": "other"}')
    before = _snapshot(out)
    events = []
    batches = []

    def on_progress(p):
        events.append(p)
        if p.stage == "batch":
            batches.append(p)

    cfg = TrainConfig(dataset_dir=str(tiny_dataset), out_dir=str(out), recipe="default", epochs=4, seed=0,
                      name="cancelled", val_fraction=0.35, cache_dir=str(tmp_path / "cache"))
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        fit(cfg, on_progress=on_progress, should_cancel=lambda: len(batches) >= 2)
    assert len(batches) == 2, "training went on after the cancel request"
    assert time.perf_counter() - t0 < 120
    # Progress speaks the protocol: batch events with epoch/loss, an epoch event with validation.
    b = batches[0]
    assert b.total >= 1 and b.done >= 1
    assert {"epoch", "epochs", "loss", "accuracy"} <= set(b.values)
    assert b.values["epochs"] == 4
    epoch_events = [p for p in events if p.stage == "epoch"]
    steps = b.total  # batches per epoch
    assert len(epoch_events) == (2 - 1) // steps  # epochs completed before the 2nd batch ended
    for e in epoch_events:
        assert {"loss", "accuracy", "val_loss", "val_auc", "seconds"} <= set(e.values)
    assert {p.stage for p in events} >= {"scan", "cache", "batch"}
    # Nothing written, nothing half-written, the other model untouched.
    assert _snapshot(out) == before
    assert _leftovers(out) == []


def test_cancel_before_training_writes_nothing(tiny_dataset, tmp_path):
    out = tmp_path / "never"
    cfg = TrainConfig(dataset_dir=str(tiny_dataset), out_dir=str(out), epochs=1, name="x",
                      cache_dir=str(tmp_path / "cache"))
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        fit(cfg, should_cancel=lambda: True)
    assert time.perf_counter() - t0 < 10
    assert not out.exists() or list(out.iterdir()) == []


# --------------------------------------------------------------------------- a failed save

def _fail_moves_into(monkeypatch, folder: Path, fail_on=None):
    """Make os.replace into ``folder`` raise ENOSPC (on every call, or on the given call numbers)."""
    real = os.replace
    calls = []

    def fake(src, dst, *args, **kwargs):
        if Path(dst).parent.resolve() == folder.resolve():
            calls.append(dst)
            if fail_on is None or len(calls) in fail_on:
                raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", fake)
    return calls


def test_failed_save_during_fit_keeps_existing_model(tiny_dataset, tiny_model, tmp_path, monkeypatch):
    out = tmp_path / "models"
    existing = _copy_bundle(tiny_model, out, "mine")
    _copy_bundle(tiny_model, out, "other")
    before = _snapshot(out)
    _fail_moves_into(monkeypatch, out)
    cfg = TrainConfig(dataset_dir=str(tiny_dataset), out_dir=str(out), epochs=1, name="mine", overwrite=True,
                      val_fraction=0.35, cache_dir=str(tmp_path / "cache"))
    events = []
    with pytest.raises(ModelSaveError) as e:
        fit(cfg, on_progress=events.append)
    # A whole run spoke the progress protocol before the save failed.
    stages = [p.stage for p in events]
    assert {"scan", "cache", "batch", "epoch", "evaluate"} <= set(stages)
    assert stages.index("batch") < stages.index("epoch") < stages.index("evaluate")
    epoch = [p for p in events if p.stage == "epoch"][0]
    assert (epoch.done, epoch.total) == (1, 1)
    assert {"loss", "accuracy", "val_loss", "val_auc", "seconds"} <= set(epoch.values)
    assert all(np.isfinite(epoch.values[k]) for k in ("loss", "val_loss"))
    assert "disk" in str(e.value) and "full" in str(e.value)
    assert _snapshot(out) == before
    assert _leftovers(out) == []
    read_model_info(existing)  # still a valid, checksummed bundle


@pytest.fixture(scope="module")
def small_keras_model():
    from xrayviewer.model.runtime import import_keras

    keras = import_keras()
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(inputs))


def _ood(seed=0):
    from xrayviewer.model.ood import OODStats

    return OODStats.fit(np.random.default_rng(seed).normal(size=(40, 4)))


def _save(model, out, name="m", overwrite=False, ood=True, threshold=0.5):
    """Save ``model``; weights, OOD statistics and metadata all depend on ``threshold`` so that
    two saves with different thresholds differ in every file."""
    weights = model.get_weights()
    model.set_weights([np.full_like(w, threshold) for w in weights])
    try:
        return save_bundle(model, {"recipe": "test", "threshold": threshold}, out, name,
                           ood=_ood(int(threshold * 100)) if ood else None, overwrite=overwrite)
    finally:
        model.set_weights(weights)


def test_save_bundle_roundtrip_and_refuses_existing_name(small_keras_model, tmp_path):
    path = _save(small_keras_model, tmp_path)
    assert [f.exists() for f in _bundle_files(path)] == [True, True, True]
    assert read_model_info(path).threshold == 0.5
    with pytest.raises(ModelSaveError) as e:
        _save(small_keras_model, tmp_path)
    assert "already exists" in str(e.value)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("fail_on", [{1}, {2}, {3}], ids=["weights", "ood", "metadata"])
def test_save_bundle_failure_at_any_move_keeps_existing_model(small_keras_model, tmp_path, monkeypatch, fail_on):
    out = tmp_path / "models"
    existing = _save(small_keras_model, out, threshold=0.25)
    before = _snapshot(out)
    _fail_moves_into(monkeypatch, out, fail_on)
    with pytest.raises(ModelSaveError) as e:
        _save(small_keras_model, out, overwrite=True, threshold=0.75)
    assert "disk" in str(e.value) and "full" in str(e.value)
    monkeypatch.undo()
    assert _snapshot(out) == before
    assert _leftovers(out) == []
    assert read_model_info(existing).threshold == 0.25


def test_save_bundle_model_save_disk_full(small_keras_model, tmp_path, monkeypatch):
    out = tmp_path / "models"
    _save(small_keras_model, out, threshold=0.25)
    before = _snapshot(out)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(type(small_keras_model), "save", full)
    with pytest.raises(ModelSaveError) as e:
        _save(small_keras_model, out, overwrite=True)
    assert "full" in str(e.value)
    monkeypatch.undo()
    assert _snapshot(out) == before
    assert _leftovers(out) == []


def test_save_bundle_without_ood_does_not_keep_a_stale_one(small_keras_model, tmp_path):
    path = _save(small_keras_model, tmp_path, ood=True)
    _save(small_keras_model, tmp_path, ood=False, overwrite=True)
    assert not _bundle_files(path)[2].exists()
    assert read_model_info(path).ood_stats() is None


# --------------------------------------------------------------------------- refusing bad bundles

def _load_error(path) -> str:
    with pytest.raises(ModelLoadError) as e:
        Predictor.load(path)
    msg = str(e.value)
    assert "Traceback" not in msg
    return msg


def test_load_refuses_other_preprocessing(tiny_model, tmp_path):
    copy = _copy_bundle(tiny_model, tmp_path)
    meta_file = copy.with_suffix(".json")
    meta = json.loads(meta_file.read_text())
    meta["preprocessing"] = "grey224-nearest-v0"
    meta_file.write_text(json.dumps(meta))
    msg = _load_error(copy)
    assert "grey224-nearest-v0" in msg and PREPROCESSING_ID in msg


def test_load_refuses_altered_weights(tiny_model, tmp_path):
    copy = _copy_bundle(tiny_model, tmp_path)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    msg = _load_error(copy)
    assert "does not match" in msg and copy.name in msg


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]"], ids=["broken", "empty", "list"])
def test_load_refuses_broken_metadata(tiny_model, tmp_path, text):
    copy = _copy_bundle(tiny_model, tmp_path)
    copy.with_suffix(".json").write_text(text)
    msg = _load_error(copy)
    assert copy.name in msg


def test_load_refuses_missing_metadata_and_missing_file(tiny_model, tmp_path):
    copy = _copy_bundle(tiny_model, tmp_path)
    copy.with_suffix(".json").unlink()
    assert "metadata" in _load_error(copy)
    assert "does not exist" in _load_error(tmp_path / "nothing.keras")


def test_load_refuses_unloadable_weights_with_matching_checksum(tiny_model, tmp_path):
    copy = _copy_bundle(tiny_model, tmp_path)
    copy.write_bytes(b"PK\x03\x04 this is not a keras archive")
    meta_file = copy.with_suffix(".json")
    meta = json.loads(meta_file.read_text())
    meta["sha256"] = sha256_of(copy)
    meta_file.write_text(json.dumps(meta))
    assert copy.name in _load_error(copy)


def test_good_copy_loads_and_predicts(tiny_model, tmp_path):
    from xrayviewer.imaging import load_image

    copy = _copy_bundle(tiny_model, tmp_path)
    predictor = Predictor.load(copy)
    assert predictor.threshold == read_model_info(copy).threshold
    pred = predictor.predict_image(load_image(sorted(TINY_DATASET.glob("*/*.jpeg"))[0]))
    assert 0.0 <= pred.probability <= 1.0
    assert pred.label in ("PNEUMONIA", "NORMAL")
    assert pred.ood_score is not None


# --------------------------------------------------------------------------- unusable datasets

def test_fit_needs_both_classes_in_training(tmp_path):
    """All NORMAL films from one patient: that patient goes to validation and training would
    see one class only. fit() must say so instead of crashing."""
    from PIL import Image

    root = tmp_path / "ds"
    (root / "NORMAL").mkdir(parents=True)
    (root / "PNEUMONIA").mkdir()
    for i in range(3):
        Image.fromarray(np.full((32, 32), 90 + i, np.uint8)).save(root / "NORMAL" / f"IM-0001-000{i}.jpeg")
    for i in range(8):
        Image.fromarray(np.full((32, 32), 150 + i, np.uint8)).save(root / "PNEUMONIA" / f"person{i}_virus_{i}.jpeg")
    cfg = TrainConfig(dataset_dir=str(root), out_dir=str(tmp_path / "out"), epochs=1, name="x",
                      cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DatasetError) as e:
        fit(cfg)
    assert "both classes" in str(e.value) and "training" in str(e.value)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_fit_refuses_existing_name_up_front(tiny_dataset, tmp_path):
    out = tmp_path / "models"
    out.mkdir()
    (out / "taken.keras").write_bytes(b"someone's model")
    events = []
    with pytest.raises(ModelSaveError) as e:
        fit(TrainConfig(dataset_dir=str(tiny_dataset), out_dir=str(out), epochs=1, name="taken"),
            on_progress=events.append)
    assert "already exists" in str(e.value)
    assert [p for p in events if p.stage in ("cache", "batch")] == []
    assert (out / "taken.keras").read_bytes() == b"someone's model"
