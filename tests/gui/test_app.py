"""The application shell: flags, screenshot mode, macOS open events, logging and error hooks,
single-instance hand-over, settings, help texts."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading

import pytest
from PySide6.QtGui import QImage

from xrayviewer.gui import dialogs, errors, single_instance
from xrayviewer.gui.app import parse_args
from xrayviewer.gui.settings import MAX_RECENT, Settings

from .helpers import tiny_images


def test_parse_args():
    args = parse_args(["--model", "m.keras", "--screenshot", "o.png", "--training-panel", "a.jpeg", "dir"])
    assert (args.model, args.screenshot, args.training_panel, args.files) == ("m.keras", "o.png", True, ["a.jpeg", "dir"])


@pytest.mark.slow
def test_screenshot_and_training_panel_flags(tiny_model, tmp_path, bad_file):
    out = tmp_path / "shot" / "gui.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XRAYVIEWER_HOME=str(tmp_path / "home"))
    files = [str(p) for p in tiny_images(1, 1)] + [str(bad_file)]
    # A subprocess: main() ends with QApplication.exit(), after which this test session's own
    # event loop would no longer deliver queued signals.
    proc = subprocess.run([sys.executable, "-m", "xrayviewer.gui.app", "--model", str(tiny_model),
                           "--training-panel", "--screenshot", str(out), *files],
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    image = QImage(str(out))
    assert not image.isNull() and image.width() >= 1000 and image.height() >= 700
    log_file = tmp_path / "home" / "logs" / errors.LOG_NAME
    log_text = log_file.read_text()
    assert "starting" in log_text and "Training panel opened" in log_text  # --training-panel
    assert "broken.jpeg" in log_text  # the unreadable file's error is logged too


def test_file_open_events_are_kept_until_the_window_exists(tmp_path):
    code = textwrap.dedent("""
        from PySide6.QtCore import QCoreApplication
        from PySide6.QtGui import QFileOpenEvent
        from xrayviewer.gui.app import XRayApplication
        app = XRayApplication(["x"])
        QCoreApplication.sendEvent(app, QFileOpenEvent("/tmp/early.dcm"))
        got = []
        app.fileOpenRequested.connect(got.append)
        assert app.take_pending_files() == ["/tmp/early.dcm"]
        app.window_ready = True
        QCoreApplication.sendEvent(app, QFileOpenEvent("/tmp/late.dcm"))
        assert got == ["/tmp/late.dcm"], got
        print("OK")
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XRAYVIEWER_HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-2000:]


def test_log_file_and_error_dialogs_for_uncaught_exceptions(qtbot, user_home, monkeypatch):
    path = errors.setup_logging()
    assert path == user_home / "logs" / errors.LOG_NAME
    shown = []
    monkeypatch.setattr(errors.QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    reporter = errors.ErrorReporter(path)
    before = (sys.excepthook, threading.excepthook)
    reporter.install()
    try:
        try:
            raise RuntimeError("boom in a slot")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
        worker = threading.Thread(target=lambda: 1 / 0)
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: len(shown) == 2)
    finally:
        reporter.uninstall()
    assert (sys.excepthook, threading.excepthook) == before
    assert "boom in a slot" in shown[0] and str(path) in shown[0]
    assert "ZeroDivisionError" in shown[1]
    for handler in logging.getLogger("xrayviewer").handlers:
        handler.flush()
    text = path.read_text()
    assert "boom in a slot" in text and "ZeroDivisionError" in text


def test_second_launch_hands_files_to_the_running_instance(qtbot, tmp_path):
    name = f"xrayviewer-test-{os.getpid()}"
    server = single_instance.InstanceServer(name)
    assert server.listen()
    received = []
    server.filesReceived.connect(received.append)
    # The second launch is another process, as in real use.
    code = ("import sys; from PySide6.QtCore import QCoreApplication; app = QCoreApplication([]); "
            "from xrayviewer.gui.single_instance import send_to_running; "
            "print(send_to_running(['a.jpeg'], sys.argv[1], 5000))")
    try:
        proc = subprocess.Popen([sys.executable, "-c", code, name], stdout=subprocess.PIPE, text=True,
                                cwd=tmp_path)
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=30_000)
        assert proc.stdout.read().strip() == "True"
        assert received == [[str(tmp_path / "a.jpeg")]]
    finally:
        server.close()
    assert single_instance.send_to_running(["b.jpeg"], name, 300) is False  # nobody listening: start normally


def test_single_instance_works_per_home_folder(monkeypatch, tmp_path):
    """XRAYVIEWER_HOME used to switch the hand-over off; now each home has its own instance."""
    assert single_instance.enabled({"XRAYVIEWER_HOME": "/tmp/x"})
    assert not single_instance.enabled({"XRAYVIEWER_SINGLE_INSTANCE": "0"})
    assert single_instance.enabled({})
    names = {}
    for home in ("a", "b", "a"):
        monkeypatch.setenv("XRAYVIEWER_HOME", str(tmp_path / home))
        names.setdefault(home, set()).add(single_instance.server_name())
    assert len(names["a"]) == 1 and names["a"] != names["b"]  # same home: same server; another: its own


def test_recent_files_are_deduplicated_and_capped(user_home):
    s = Settings()
    for i in range(MAX_RECENT + 3):
        s.add_recent(f"/scans/{i}.dcm")
    s.add_recent("/scans/5.dcm")
    recent = Settings().recent_files()
    assert recent[0] == "/scans/5.dcm" and len(recent) == MAX_RECENT and recent.count("/scans/5.dcm") == 1
    assert s.path.parent == user_home / "data"


def test_about_names_the_dataset_licence_paper_and_intended_use():
    text = dialogs.ABOUT_HTML
    for needle in ("Chest X-Ray Images (Pneumonia)", "Kermany, Zhang and Goldbaum", "Mendeley Data v2 (2018)",
                   "CC BY 4.0", "Cell 172(5):1122-1131, 2018", "second reader", "pediatric", "not a diagnosis"):
        assert needle in text


def test_shortcut_list_covers_the_image_tools(window_factory):
    window = window_factory(wait_model=False)
    rows = dict(dialogs.shortcut_rows(window.act.values()))
    for name in ("Fit to Window", "Actual Size (1:1)", "Zoom In", "Zoom Out", "Reset Window/Level", "Invert",
                 "Grad-CAM Overlay", "Next Image", "Previous Image", "Open", "Show Patient Identifiers"):
        assert name in rows, name
    assert rows["Next Image"].split(", ") == ["J", "Down"]



def test_a_remembered_model_that_vanished_falls_back_to_the_bundled_one(user_home, tiny_model):
    from xrayviewer.gui.assembly import _remembered_model

    s = Settings()
    assert _remembered_model(s) is None
    s.model_path = str(tiny_model)
    assert _remembered_model(s) == str(tiny_model)
    s.model_path = str(user_home / "deleted.keras")
    assert _remembered_model(s) is None


def test_a_full_garbage_collection_no_longer_walks_the_start_up_objects(tmp_path):
    """Once the window is up, the collector's full pass sees only what was made since (a pass
    over the ~47,000 start-up objects held the GIL for ~10 ms, the window's included)."""
    code = textwrap.dedent("""
        import gc
        from PySide6.QtCore import QTimer
        from xrayviewer.gui import app as gui_app
        qt_app = gui_app.XRayApplication(["x"])
        seen = {}
        def look():
            seen["frozen"], seen["walked"] = gc.get_freeze_count(), len(gc.get_objects())
            qt_app.quit()
        QTimer.singleShot(300, look)
        gui_app.main(["--no-single-instance"])
        print(seen["frozen"], seen["walked"])
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XRAYVIEWER_HOME=str(tmp_path / "home"))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    frozen, walked = map(int, proc.stdout.split()[-2:])
    assert frozen > 20_000 and walked < frozen / 4, (frozen, walked)
