"""Start-up never pays for TensorFlow: importing the GUI and building the window leave it out."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    HEAVY = ("tensorflow", "keras", "matplotlib")

    def heavy():
        return sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)

    import xrayviewer.gui.app as app
    assert heavy() == [], ("after import", heavy())
    from PySide6.QtWidgets import QApplication
    qapp = QApplication([])
    window = app.create_main_window(model_path=sys.argv[1])
    qapp.processEvents()
    assert heavy() == [], ("after building the window", heavy())
    print("OK", window.windowTitle())
""")


def test_import_and_window_do_not_import_tensorflow(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XRAYVIEWER_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "absent.keras")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "OK XRay Viewer" in out.stdout


def test_cli_gui_forwarding_parses_help_without_tensorflow(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XRAYVIEWER_HOME=str(tmp_path))
    code = ("import sys; from xrayviewer.launcher import launch; rc = launch(['gui', '--help']); "
            "print('TF' if 'tensorflow' in sys.modules else 'noTF', rc)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "--screenshot" in out.stdout and "--training-panel" in out.stdout and "--model" in out.stdout
    assert out.stdout.strip().endswith("noTF 0")
