"""What several benchmarks share: where the data is, and how a bundle's network scores the
cached 128 x 128 grey inputs of its own validation split or of an external folder.

The data folder (``chest_xray/``, ``chest_xray_external/``, ``fullres/``, ``dicom/``) has one
default for every benchmark: ``--data DIR`` where a benchmark takes it, else
``$XRAYVIEWER_DATA``, else the first ``shared/data`` found above the repository (a checkout
beside ``shared/``, or a worktree one level further down).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA_ENV = "XRAYVIEWER_DATA"


def data_dir(override: Optional[str | Path] = None) -> Path:
    """The data folder: ``override`` (a ``--data`` value), else ``$XRAYVIEWER_DATA``, else the
    first ``shared/data`` above the repository."""
    if override:
        return Path(override)
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    for up in REPO.parents:
        if (up / "shared" / "data").is_dir():
            return up / "shared" / "data"
    return REPO.parent / "shared" / "data"


def add_data_argument(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--data", type=Path, default=None,
                    help=f"the data folder with chest_xray/, chest_xray_external/, fullres/, dicom/ "
                         f"(default: ${DATA_ENV}, else the first shared/data above the repository: {data_dir()})")


def model_logits(model, grey: np.ndarray, batch: int = 128) -> np.ndarray:
    """A Keras network's log-odds for uint8 grey inputs (n, 128, 128), in batches. Calibration
    is monotone, so AUC and thresholds on log-odds pick the same films as on calibrated
    probabilities, without their saturation at 1.0."""
    from xrayviewer.imaging import to_model_input

    out = []
    for s in range(0, len(grey), batch):
        p = np.asarray(model(to_model_input(grey[s:s + batch]), training=False), dtype=np.float64).reshape(-1)
        p = np.clip(p, 1e-7, 1 - 1e-7)
        out.append(np.log(p / (1 - p)))
    return np.concatenate(out)


@dataclass
class LabelledInputs:
    """Labelled cached model inputs: ``y`` (0/1), ``groups`` (patient per film), ``grey``
    (uint8, n x 128 x 128)."""

    y: np.ndarray
    groups: list
    grey: np.ndarray


def validation_inputs(info, dataset: Path, cache_dir=None):
    """A bundle's own internal validation split rebuilt exactly as fit() made it (seed and
    fraction from its metadata): ``(prepared split, LabelledInputs)``. A dataset that does not
    reproduce the split stops the benchmark with one line."""
    from xrayviewer.training.dataset import DatasetError
    from xrayviewer.training.recalibrate import reproduce_split

    try:
        prepared = reproduce_split(info, dataset, cache_dir)
    except DatasetError as exc:
        raise SystemExit(f"{info.keras_path}: {exc}") from None
    inputs = LabelledInputs(y=np.array([s.label for s in prepared.val]), groups=[s.patient for s in prepared.val],
                            grey=prepared.cache.read(np.asarray(prepared.val_idx)))
    return prepared, inputs


def external_inputs(folder: Path) -> LabelledInputs:
    """The cached model inputs of an external labelled folder (NORMAL/, PNEUMONIA/), in the
    per-user input cache; films that do not decode are left out."""
    from xrayviewer.paths import user_cache_dir
    from xrayviewer.training.cache import build_cache
    from xrayviewer.training.dataset import scan_dataset

    scan = scan_dataset(folder)
    cache, ok, _ = build_cache(scan.samples, user_cache_dir() / "inputs")
    return LabelledInputs(y=np.array([scan.samples[i].label for i in ok]), groups=[scan.samples[i].patient for i in ok],
                          grey=cache.read(np.asarray(ok)))


def load_network(keras_path: Path):
    """The bundle's Keras network (uncompiled): what the probes score log-odds with."""
    from xrayviewer.model.runtime import import_keras

    return import_keras().saving.load_model(keras_path, compile=False)


def load_predictor(path: Path):
    """The bundle as the app scores it (LiteRT when it carries a .tflite)."""
    from xrayviewer.model import Predictor

    return Predictor.load(path)


def predictor_logits(predictor, grey: np.ndarray) -> np.ndarray:
    """``model_logits`` through a Predictor's network (LiteRT, no TensorFlow): the raw, uncalibrated
    log-odds of uint8 grey inputs (n, 128, 128)."""
    from xrayviewer.imaging import to_model_grey

    raw, _ = predictor.network.forward(to_model_grey(grey))
    p = np.clip(np.asarray(raw, dtype=np.float64).reshape(-1), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def run_external_probe(doc: str, probe, load, argv=None) -> int:
    """The command line of the probes that change external films and rescore them
    (``MODEL.keras ... --external DIR``): ``probe(load(model_path), inputs)`` for each model,
    its lines printed under the model's name. ``doc``: the script's docstring."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--external", type=Path, required=True)
    args = ap.parse_args(argv)
    inputs = external_inputs(args.external)
    for m in args.models:
        print(f"{m}:")
        print("\n".join(probe(load(m), inputs)))
    return 0
