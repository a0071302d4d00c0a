"""Small labelled-case folders and a fake predictor for the local validation and site
calibration tests: fixture images copied under new patient names (so their file list is not
a model's training data), and scores that depend on the label, so calibration has a signal."""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path

import numpy as np

from xrayviewer.model import FileResult, Prediction
from xrayviewer.model.calibration import apply_temperature
from xrayviewer.progress import Progress, check_cancel, no_progress

TINY = Path(__file__).resolve().parent / "fixtures" / "tiny_dataset"


def write_local_cases(folder: Path, n_normal: int = 32, n_pneumonia: int = 34) -> Path:
    """NORMAL/ and PNEUMONIA/ with copies of the fixture images, one patient each, except that
    the first two patients of each class get a second film (patient-level folds matter)."""
    normals = sorted((TINY / "NORMAL").glob("*.jpeg"))
    pneumonias = sorted((TINY / "PNEUMONIA").glob("*.jpeg"))
    (folder / "NORMAL").mkdir(parents=True)
    (folder / "PNEUMONIA").mkdir(parents=True)
    for i in range(n_normal):
        patient, film = (8000 + i, 1) if i >= 2 else (8000, i + 1)
        shutil.copy(normals[i % len(normals)], folder / "NORMAL" / f"IM-{patient:04d}-{film:04d}.jpeg")
    for i in range(n_pneumonia):
        patient, film = (5000 + i, 1) if i >= 2 else (5000, i + 1)
        shutil.copy(pneumonias[i % len(pneumonias)], folder / "PNEUMONIA" / f"person{patient}_bacteria_{film}.jpeg")
    return folder


def fake_raw(path: str) -> float:
    """The network's output for a file, by its name: pneumonias mostly high, normals mostly
    low, overlapping (AUC about 0.85), and over-confident, as on another site's films."""
    name = Path(path).name
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    centre = 1.2 if name.startswith("person") else -0.8
    return float(1 / (1 + np.exp(-3.0 * (centre + rng.normal(0, 1.0)))))


class FakePredictor:
    """Predictor's predict_files for a real bundle's info, with fake_raw's scores."""

    def __init__(self, info):
        self.info = info

    @property
    def threshold(self) -> float:
        return self.info.threshold

    def predict_files(self, paths, batch_size=32, on_progress=no_progress, should_cancel=None):
        out = []
        paths = [str(p) for p in paths]
        for i, p in enumerate(paths):
            check_cancel(should_cancel)
            raw = fake_raw(p)
            prob = float(apply_temperature([raw], self.info.temperature, self.info.calibration_shift)[0])
            ood = Path(p).name == "IM-8005-0001.jpeg"  # one flagged film, for the report's list
            out.append(FileResult(p, Prediction(prob, raw, self.info.threshold, 0.5, ood,
                                                "unlike the training X-rays" if ood else "")))
            on_progress(Progress("predict", i + 1, len(paths), Path(p).name))
        return out


def fake_loader(path):
    from xrayviewer.model import read_model_info

    return FakePredictor(read_model_info(path))
