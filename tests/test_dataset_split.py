"""Dataset scanning and the patient-level split."""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from conftest import TINY_DATASET
from imaging_factories import gradient, write_dicom
from xrayviewer.training import CLASSES, DatasetError, Sample, patient_id, patient_split, scan_dataset


@pytest.mark.parametrize("name, patient", [
    ("person123_bacteria_456.jpeg", "person123"),
    ("person1_virus_7.jpeg", "person1"),
    ("person1_virus_7", "person1"),
    ("IM-0115-0001.jpeg", "IM-0115"),
    ("IM-0115-0001-0002.jpeg", "IM-0115"),
    ("NORMAL2-IM-1427-0001.jpeg", "NORMAL2-IM-1427"),
    ("NORMAL2-IM-1427-0001-0002.jpeg", "NORMAL2-IM-1427"),
    ("scan_17.png", "scan_17"),
])
def test_patient_id(name, patient):
    assert patient_id(name) == patient


def test_patient_id_does_not_merge_distinct_people():
    assert patient_id("person1_virus_7.jpeg") != patient_id("person12_virus_7.jpeg")
    assert patient_id("IM-0115-0001.jpeg") != patient_id("NORMAL2-IM-0115-0001.jpeg")


def _img(path, value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16), value, np.uint8)).save(path)


def test_scan_kaggle_layout(tmp_path):
    root = tmp_path / "chest_xray"
    for sub, n_norm, n_pneu in (("train", 3, 4), ("val", 1, 1), ("test", 2, 2)):
        for i in range(n_norm):
            _img(root / sub / "NORMAL" / f"IM-{sub[:2]}{i:02d}-0001.jpeg")
        for i in range(n_pneu):
            _img(root / sub / "PNEUMONIA" / f"person{100 + i}_{sub}_bacteria_{i}.jpeg")
    (root / "train" / "NORMAL" / ".DS_Store").write_bytes(b"\0\0junk")
    (root / "train" / "PNEUMONIA" / "notes.txt").write_text("not an image")
    scan = scan_dataset(root)
    assert scan.layout == "kaggle"
    assert scan.counts == {"NORMAL": 4, "PNEUMONIA": 5}  # train + val merged
    assert len(scan.official_test) == 4  # test kept apart, never trained on
    assert not any("/test/" in s.path.replace("\\", "/") for s in scan.samples)
    assert scan.unreadable == []
    assert all(s.label == (1 if "PNEUMONIA" in s.path else 0) for s in scan.samples)
    fp = scan.fingerprint()
    assert fp["files"] == 9 and len(fp["list_sha256"]) == 64
    assert "9 images (4 NORMAL, 5 PNEUMONIA)" in scan.summary()


def test_scan_two_folder_layout_lowercase_and_dicom(tmp_path):
    root = tmp_path / "mine"
    _img(root / "normal" / "a.png")
    _img(root / "normal" / "sub" / "b.jpg")  # recursive
    (root / "pneumonia").mkdir()
    write_dicom(root / "pneumonia" / "c.dcm", gradient(8, 8))
    write_dicom(root / "pneumonia" / "D0001", gradient(8, 8))  # extensionless DICOM
    scan = scan_dataset(root)
    assert scan.layout == "two-folder"
    assert scan.counts == {"NORMAL": 2, "PNEUMONIA": 2}
    assert scan.patients == 4


def test_scan_root_pointing_at_train_folder():
    scan = scan_dataset(TINY_DATASET)
    assert scan.counts == {"NORMAL": 12, "PNEUMONIA": 12}
    assert scan.patients == 24


def test_unreadable_files_listed_and_skipped(tmp_path):
    root = tmp_path / "ds"
    shutil.copytree(TINY_DATASET, root)
    (root / "NORMAL" / "empty.jpeg").write_bytes(b"")
    (root / "PNEUMONIA" / "notes.jpeg").write_text("a text file named like an image")
    (root / "PNEUMONIA" / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    scan = scan_dataset(root)
    assert scan.counts == {"NORMAL": 12, "PNEUMONIA": 12}
    bad = sorted(p.rsplit("/", 1)[-1] for p, _ in scan.unreadable)
    assert bad == ["cut.png", "empty.jpeg", "notes.jpeg"]
    assert all(reason for _, reason in scan.unreadable)
    assert "3 unreadable" in scan.summary()


def test_scan_reports_progress_and_cancels(tmp_path):
    from xrayviewer.progress import Cancelled

    events = []
    scan_dataset(TINY_DATASET, on_progress=events.append)
    assert events and events[-1].stage == "scan" and events[-1].done == events[-1].total == 24
    with pytest.raises(Cancelled):
        scan_dataset(TINY_DATASET, should_cancel=lambda: True)


def test_empty_folder_is_dataset_error(tmp_path):
    with pytest.raises(DatasetError) as e:
        scan_dataset(tmp_path)
    msg = str(e.value)
    assert "NORMAL" in msg and "PNEUMONIA" in msg


def test_missing_class_folder_is_dataset_error(tmp_path):
    _img(tmp_path / "NORMAL" / "a.png")
    with pytest.raises(DatasetError) as e:
        scan_dataset(tmp_path)
    assert "PNEUMONIA" in str(e.value)


def test_empty_class_folder_is_dataset_error(tmp_path):
    _img(tmp_path / "NORMAL" / "a.png")
    (tmp_path / "PNEUMONIA").mkdir()
    with pytest.raises(DatasetError) as e:
        scan_dataset(tmp_path)
    assert "PNEUMONIA" in str(e.value) and "both classes" in str(e.value)


def test_only_unreadable_images_is_dataset_error(tmp_path):
    for c in CLASSES:
        (tmp_path / c).mkdir()
        (tmp_path / c / "x.jpeg").write_bytes(b"")
    with pytest.raises(DatasetError) as e:
        scan_dataset(tmp_path)
    assert "no readable images" in str(e.value)


def test_not_a_folder_is_dataset_error(tmp_path):
    with pytest.raises(DatasetError) as e:
        scan_dataset(tmp_path / "nowhere")
    assert "nowhere" in str(e.value)


# --------------------------------------------------------------------------- patient split

def _synthetic_samples(n_patients=300, seed=0):
    rng = np.random.default_rng(seed)
    samples = []
    for p in range(n_patients):
        label = int(rng.random() < 0.7)
        for k in range(int(rng.integers(1, 4))):
            samples.append(Sample(f"/d/{CLASSES[label]}/person{p}_x_{k}.jpeg", label, f"person{p}"))
    return samples


def test_split_no_patient_on_both_sides():
    samples = _synthetic_samples()
    train, val = patient_split(samples, 0.2, seed=3)
    assert len(train) + len(val) == len(samples)
    assert {s.patient for s in train}.isdisjoint({s.patient for s in val})
    assert sorted(s.path for s in train + val) == sorted(s.path for s in samples)


def test_split_both_classes_in_validation_and_stratified():
    samples = _synthetic_samples()
    train, val = patient_split(samples, 0.15, seed=0)
    c_all, c_val = Counter(s.label for s in samples), Counter(s.label for s in val)
    assert set(c_val) == {0, 1}
    for label in (0, 1):
        assert c_val[label] / c_all[label] == pytest.approx(0.15, abs=0.04)


@pytest.mark.parametrize("fraction", [0.1, 0.15, 0.3])
def test_split_fraction_roughly_respected(fraction):
    samples = _synthetic_samples(400)
    _, val = patient_split(samples, fraction, seed=1)
    assert len(val) / len(samples) == pytest.approx(fraction, abs=0.03)


def test_split_seeded_reproducible_and_seed_matters():
    samples = _synthetic_samples()
    a = patient_split(samples, 0.15, seed=7)
    b = patient_split(list(samples), 0.15, seed=7)
    c = patient_split(samples, 0.15, seed=8)
    assert [s.path for s in a[1]] == [s.path for s in b[1]]
    assert {s.patient for s in a[1]} != {s.patient for s in c[1]}


def test_split_independent_of_input_order():
    samples = _synthetic_samples()
    shuffled = list(samples)
    np.random.default_rng(5).shuffle(shuffled)
    a = {s.patient for s in patient_split(samples, 0.15, seed=2)[1]}
    b = {s.patient for s in patient_split(shuffled, 0.15, seed=2)[1]}
    assert a == b


def test_split_tiny_dataset_keeps_both_sides():
    scan = scan_dataset(TINY_DATASET)
    train, val = patient_split(scan.samples, 0.15, seed=0)
    assert train and val
    assert {s.label for s in val} == {0, 1}
    assert {s.patient for s in train}.isdisjoint({s.patient for s in val})


def test_split_rejects_bad_fraction():
    with pytest.raises(ValueError):
        patient_split(_synthetic_samples(10), 0.0)
    with pytest.raises(ValueError):
        patient_split(_synthetic_samples(10), 1.0)
