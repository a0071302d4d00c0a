"""Where things live: bundled read-only data, and the per-user folders for everything written.

Nothing is ever written next to the code: an installed or frozen app may be read-only
(Program Files, a signed macOS .app). ``XRAYVIEWER_HOME`` redirects all per-user folders,
for tests and the self-test.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

APP_NAME = "XRayViewer"
APP_AUTHOR = "XRayViewer"


def bundled_models_dir() -> Path:
    """model_weights/ of the repository, installed as the package xrayviewer.model_weights."""
    return Path(str(resources.files("xrayviewer.model_weights")))


def resources_dir() -> Path:
    return Path(str(resources.files("xrayviewer.resources")))


def samples_dir() -> Path:
    return resources_dir() / "samples"


def _user_dir(kind: str) -> Path:
    """``$XRAYVIEWER_HOME/<kind>`` when set, else the platform's per-user folder of that kind."""
    home = os.environ.get("XRAYVIEWER_HOME")
    if home:
        return Path(home) / kind
    import platformdirs

    finder = {"data": platformdirs.user_data_dir, "cache": platformdirs.user_cache_dir,
              "logs": platformdirs.user_log_dir}[kind]
    return Path(finder(APP_NAME, APP_AUTHOR))


def user_data_dir() -> Path:
    return _user_dir("data")


def user_models_dir() -> Path:
    return user_data_dir() / "models"


def user_cache_dir() -> Path:
    return _user_dir("cache")


def user_log_dir() -> Path:
    return _user_dir("logs")
