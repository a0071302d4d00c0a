"""Scoring needs no TensorFlow: `predict`, `evaluate`, `model-info` and the window's scoring
path run the bundled model on LiteRT, and TensorFlow never enters those processes.

Each check runs in a fresh interpreter (this test process may have imported TensorFlow for
other tests) and reports whether ``tensorflow`` or ``keras`` reached ``sys.modules``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO, TINY_DATASET

SAMPLE = REPO / "resources" / "samples" / "person992_bacteria_2919.jpeg"

CLI = textwrap.dedent("""
    import sys
    from xrayviewer.cli import main
    rc = main(sys.argv[1:])
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
    print("HEAVY", heavy, "RC", rc, file=sys.stderr)
""")


def _run(code: str, *args: str, tmp_path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XRAYVIEWER_HOME=str(tmp_path))
    env.pop("XRAYVIEWER_BACKEND", None)
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          timeout=180, cwd=tmp_path)


@pytest.mark.parametrize("argv", [
    ["predict", str(SAMPLE), "--format", "json"],
    ["evaluate", str(TINY_DATASET), "--format", "json"],
    ["model-info"],
], ids=["predict", "evaluate", "model-info"])
def test_cli_scoring_commands_leave_tensorflow_out(argv, tmp_path):
    out = _run(CLI, *argv, tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "HEAVY [] RC 0" in out.stderr, out.stderr[-3000:]
    if argv[0] == "predict":
        assert '"prediction": "PNEUMONIA"' in out.stdout or '"prediction": "NORMAL"' in out.stdout


def test_keras_backend_is_the_fallback(tmp_path):
    """XRAYVIEWER_BACKEND=keras scores with TensorFlow, to the same probability."""
    code = textwrap.dedent("""
        import sys
        from xrayviewer.model import Predictor
        from xrayviewer.imaging import load_image
        p = Predictor.load()
        print(p.runtime, repr(p.predict_image(load_image(sys.argv[1])).probability), "tensorflow" in sys.modules)
    """)
    lite = _run(code, str(SAMPLE), tmp_path=tmp_path)
    env = dict(os.environ, XRAYVIEWER_BACKEND="keras", XRAYVIEWER_HOME=str(tmp_path))
    keras = subprocess.run([sys.executable, "-c", code, str(SAMPLE)], env=env, capture_output=True, text=True,
                           timeout=180, cwd=tmp_path)
    assert lite.returncode == 0 and keras.returncode == 0, (lite.stderr[-2000:], keras.stderr[-2000:])
    l_runtime, l_p, l_tf = lite.stdout.split()
    k_runtime, k_p, k_tf = keras.stdout.split()
    assert (l_runtime, l_tf) == ("litert", "False") and (k_runtime, k_tf) == ("keras", "True")
    assert abs(float(l_p) - float(k_p)) <= 1e-5


WINDOW = textwrap.dedent("""
    import sys
    from PySide6.QtWidgets import QApplication
    from xrayviewer.gui.app import create_main_window
    qapp = QApplication([])
    window = create_main_window([sys.argv[1]])
    shown = []
    window.probability_panel.predictionShown.connect(shown.append)
    window.show()
    deadline = __import__("time").monotonic() + 60
    while not shown and __import__("time").monotonic() < deadline:
        qapp.processEvents()
        __import__("time").sleep(0.01)
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
    print("SCORED", bool(shown), "HEAVY", heavy)
    window.close()
""")


def test_window_scores_without_tensorflow(tmp_path):
    out = _run(WINDOW, str(SAMPLE), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "SCORED True HEAVY []" in out.stdout, (out.stdout, out.stderr[-3000:])
