"""Issue 13.1: a long session must not abort because the Qt binding loses references.

PySide6-Essentials 6.12.0 dropped one reference to ``True`` per ``Signal.emit()``; on Python
3.11 the interpreter aborted with "Fatal Python error: bool_dealloc" after ~570 emits (exit
134). Each check runs in a fresh interpreter, so a faulty binding kills the child, not pytest.
"""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO

EMITS = 5000

# Deliberately bare (no ballast, no repair): exactly what a long reading session does.
RAW_EMITS = f"""
import json, sys
from PySide6.QtCore import QCoreApplication, QObject, Signal

class Emitter(QObject):
    fired = Signal(object)

app = QCoreApplication([])
emitter = Emitter()
received = []
emitter.fired.connect(lambda value: received.append(value))
before = sys.getrefcount(True)
for i in range({EMITS}):
    emitter.fired.emit(i)
print(json.dumps({{"drift": sys.getrefcount(True) - before, "received": len(received)}}))
"""


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_thousands_of_emits_exit_cleanly_and_keep_true_alive():
    r = _python(RAW_EMITS)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr[-800:]}"
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result == {"drift": 0, "received": EMITS}


def test_self_test_check_reports_no_drift():
    code = ("from xrayviewer.gui.signal_check import signal_refcount_drift\n"
            f"print(signal_refcount_drift({EMITS}))\n")
    r = _python(code)
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr[-800:]}"
    assert r.stdout.strip().splitlines()[-1] == "0"


def test_installed_binding_is_not_the_excluded_release():
    from importlib.metadata import version

    assert version("PySide6-Essentials") != "6.12.0"


def test_frozen_self_test_runs_the_check_and_fails_on_a_leaking_binding(monkeypatch):
    from xrayviewer import selftest
    from xrayviewer.gui import signal_check

    good = selftest.SelfTest(selftest._Tee(None))
    result = good.step("Qt signals", good.qt_signals)
    assert result.status == selftest.PASS, result.detail
    assert f"{signal_check.DEFAULT_EMITS} emits" in result.detail and "moved by 0" in result.detail

    monkeypatch.setattr(signal_check, "signal_refcount_drift", lambda emits: -emits)
    bad = selftest.SelfTest(selftest._Tee(None))
    result = bad.step("Qt signals", bad.qt_signals)
    assert result.status == selftest.FAIL and "long session would abort" in result.detail

    # The step is part of what `--self-test` runs, before TensorFlow's threads start.
    import inspect

    source = inspect.getsource(selftest.run)
    assert source.index('"Qt signals"') < source.index('"import tensorflow"')
