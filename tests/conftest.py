"""Shared fixtures. Every test runs with its per-user folders in a temporary directory and
Qt on the offscreen platform; one tiny model is trained once per session and shared."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

FIXTURES = Path(__file__).parent / "fixtures"
TINY_DATASET = FIXTURES / "tiny_dataset"
REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def user_home(tmp_path_factory, monkeypatch):
    """Point every per-user folder (models, cache, logs, settings) at a fresh temp dir."""
    home = tmp_path_factory.mktemp("xrayviewer-home")
    monkeypatch.setenv("XRAYVIEWER_HOME", str(home))
    return home


@pytest.fixture
def tiny_dataset(tmp_path) -> Path:
    """A writable copy of the committed 24-image dataset (Kaggle-style two folders)."""
    dst = tmp_path / "tiny_dataset"
    shutil.copytree(TINY_DATASET, dst)
    return dst


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A real model bundle trained for 1 epoch on the tiny dataset (about 15 s, once)."""
    from xrayviewer.training import TrainConfig, fit

    out = tmp_path_factory.mktemp("tiny-model")
    cache = tmp_path_factory.mktemp("tiny-cache")
    cfg = TrainConfig(dataset_dir=str(TINY_DATASET), out_dir=str(out), recipe="default", epochs=1,
                      seed=0, name="tiny", val_fraction=0.35, cache_dir=str(cache), command="pytest fixture")
    return fit(cfg).model_path


def shared_data(*parts) -> Path:
    """A file of ../shared/data, or skip the test where that folder is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not available")
    return p
