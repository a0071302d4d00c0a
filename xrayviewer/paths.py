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


def _user_root() -> Path | None:
    home = os.environ.get("XRAYVIEWER_HOME")
    return Path(home) if home else None


def user_data_dir() -> Path:
    root = _user_root()
    if root is not None:
        return root / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))


def user_models_dir() -> Path:
    return user_data_dir() / "models"


def user_cache_dir() -> Path:
    root = _user_root()
    if root is not None:
        return root / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))


def user_log_dir() -> Path:
    root = _user_root()
    if root is not None:
        return root / "logs"
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))
