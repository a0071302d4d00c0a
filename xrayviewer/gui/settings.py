"""Per-user preferences: recent files, last folder, chosen model, overlay opacity, reader name,
geometry, the last session's worklist.

Stored as an INI file in the per-user data folder (not the registry or ~/Library plist), so
``XRAYVIEWER_HOME`` isolates tests and the self-test like every other per-user file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QByteArray, QSettings

from ..model.gradcam import OVERLAY_OPACITY
from ..paths import user_data_dir
from ..reads import reader_default

MAX_RECENT = 10


class Settings:
    def __init__(self, path: Optional[Path] = None):
        self.path = Path(path) if path is not None else user_data_dir() / "settings.ini"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    def _list(self, key: str) -> list[str]:
        value = self._qs.value(key, [])
        if value is None:
            return []
        return [value] if isinstance(value, str) else [str(v) for v in value]

    # ---- recent files -------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        return self._list("recent/files")

    def add_recent(self, path: str) -> list[str]:
        path = os.path.abspath(path)
        files = [path] + [p for p in self.recent_files() if p != path]
        self._qs.setValue("recent/files", files[:MAX_RECENT])
        self._qs.sync()
        return self.recent_files()

    # ---- the last session's worklist ------------------------------------------------------
    @property
    def session_paths(self) -> list[str]:
        """The worklist's files when the window last closed (restored on the next start)."""
        return self._list("session/worklist")

    @session_paths.setter
    def session_paths(self, paths: list[str]) -> None:
        if paths:
            self._qs.setValue("session/worklist", [os.path.abspath(p) for p in paths])
        else:
            self._qs.remove("session/worklist")
        self._qs.sync()

    # ---- simple values ------------------------------------------------------------------
    def _str(self, key: str) -> str:
        value = self._qs.value(key, "")
        return str(value) if value else ""

    @property
    def last_dir(self) -> str:
        return self._str("paths/last_dir")

    @last_dir.setter
    def last_dir(self, folder: str) -> None:
        self._qs.setValue("paths/last_dir", folder)

    @property
    def model_path(self) -> str:
        """The model chosen in the Model menu ("" means the bundled one)."""
        return self._str("model/path")

    @model_path.setter
    def model_path(self, path: str) -> None:
        self._qs.setValue("model/path", path or "")
        self._qs.sync()

    @property
    def overlay_opacity(self) -> float:
        try:
            return min(1.0, max(0.05, float(self._qs.value("view/overlay_opacity", OVERLAY_OPACITY))))
        except (TypeError, ValueError):
            return OVERLAY_OPACITY

    @overlay_opacity.setter
    def overlay_opacity(self, value: float) -> None:
        self._qs.setValue("view/overlay_opacity", float(value))

    # ---- the training panel's last choices ---------------------------------------------------
    def training_choices(self) -> tuple[str, str, int]:
        """(dataset folder, recipe, epochs) of the last training started; ("", "", 0) if none."""
        try:
            epochs = int(self._qs.value("training/epochs", 0) or 0)
        except (TypeError, ValueError):
            epochs = 0
        return self._str("training/dataset"), self._str("training/recipe"), epochs

    def set_training_choices(self, folder: str, recipe: str, epochs: int) -> None:
        self._qs.setValue("training/dataset", folder)
        self._qs.setValue("training/recipe", recipe)
        self._qs.setValue("training/epochs", int(epochs))
    @property
    def reader_name(self) -> str:
        """Who signs the reads in the log (Preferences); the OS user until set."""
        return self._str("reader/name").strip() or reader_default()

    @reader_name.setter
    def reader_name(self, name: str) -> None:
        self._qs.setValue("reader/name", " ".join(str(name or "").split()))
        self._qs.sync()

    # ---- window -------------------------------------------------------------------------
    def window_state(self) -> tuple[Optional[QByteArray], Optional[QByteArray]]:
        return self._qs.value("window/geometry"), self._qs.value("window/state")

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self._qs.setValue("window/geometry", geometry)
        self._qs.setValue("window/state", state)
        self._qs.sync()
