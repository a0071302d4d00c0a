"""Checks of a built Linux bundle (dist/XRayViewer/), after packaging/build_linux.sh.

Skipped when no bundle was built (the usual case: .ci/run builds it only when packaging
inputs change). Fast: it only looks at files; the bundle's own --self-test is run by
build_linux.sh.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DIST = Path(os.environ.get("XRAYVIEWER_DIST", REPO / "dist")) / "XRayViewer"
INTERNAL = DIST / "_internal"

sys.path.insert(0, str(REPO / "packaging"))
import spec_helpers as H  # noqa: E402

pytestmark = [
    pytest.mark.packaging,
    pytest.mark.skipif(not (DIST / "XRayViewer").is_file() or not sys.platform.startswith("linux"),
                       reason="no Linux bundle in dist/ (packaging/build_linux.sh builds it)"),
]


def test_data_packages_are_where_importlib_resources_looks():
    mw = INTERNAL / "xrayviewer" / "model_weights"
    res = INTERNAL / "xrayviewer" / "resources"
    for f in ("__init__.py", *H.REQUIRED_MODEL_FILES):
        assert (mw / f).is_file(), f
    assert (res / "__init__.py").is_file() and (res / "icon.png").is_file()
    samples = [p for p in (res / "samples").iterdir() if p.suffix.lower() in (".jpeg", ".jpg", ".png", ".dcm")]
    assert samples
    # the bundled model is byte-identical to the repository's
    assert (mw / "default.keras").read_bytes() == (REPO / "model_weights" / "default.keras").read_bytes(), \
        "dist/XRayViewer is older than model_weights/: rebuild with packaging/build_linux.sh"


def test_the_scoring_runtime_is_in_the_bundle():
    """LiteRT: its interpreter module and native libraries (the frozen --self-test then checks
    that the bundled model really scores on it)."""
    pkg = INTERNAL / "ai_edge_litert"
    assert any(pkg.glob("_pywrap_litert_interpreter_wrapper*")), "LiteRT's interpreter wrapper"
    assert list(INTERNAL.rglob("libpywrap_litert_common*")), "the library the wrapper links"
    assert (INTERNAL / "xrayviewer" / "model_weights" / "default.tflite").read_bytes() == \
        (REPO / "model_weights" / "default.tflite").read_bytes()


def test_excluded_frameworks_are_absent():
    present = {p.name for p in INTERNAL.iterdir()}
    for name in ("torch", "jax", "jaxlib", "tkinter", "_tkinter", "IPython", "notebook", "pytest", "scipy",
                 "PyQt5", "PyQt6", "PySide2", "tensorboard"):
        assert name not in present, name
    qt = {p.name.split(".")[0] for p in (INTERNAL / "PySide6").glob("Qt*.so")}
    assert {"QtCore", "QtGui", "QtWidgets"} <= qt
    assert not qt & {m.split(".")[1] for m in H.QT_EXCLUDES}


def test_runtime_hook_and_entry_are_in_the_bundle():
    exe = (DIST / "XRayViewer").read_bytes()
    assert b"pyi_rth_xrayviewer" in exe
    assert b"xrayviewer_main" in exe
    assert b"UPX!" not in exe[:4096], "no UPX"
