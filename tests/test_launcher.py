"""The one launcher: every entry point (``xrayviewer``, ``xrayviewer-gui``, ``python -m
xrayviewer``, the frozen app's script) reaches the self-test, the window or the command line
through ``xrayviewer.launcher.launch``."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from xrayviewer import launcher

REPO = Path(__file__).resolve().parent.parent
FROZEN_ENTRY = REPO / "packaging" / "pyinstaller" / "xrayviewer_main.py"


@pytest.fixture
def targets(monkeypatch):
    """Replaces the three things the launcher can start with recorders."""
    import xrayviewer.cli
    import xrayviewer.gui.app
    import xrayviewer.selftest

    calls = []
    for name, module in (("self-test", xrayviewer.selftest), ("window", xrayviewer.gui.app),
                         ("cli", xrayviewer.cli)):
        monkeypatch.setattr(module, "main", lambda argv, name=name: calls.append((name, list(argv))) or 7)
    return calls


@pytest.mark.parametrize("argv, start, expected", [
    (["gui", "--self-test", "--report", "r.txt"], launcher.CLI, ("self-test", ["--self-test", "--report", "r.txt"])),
    (["--self-test"], launcher.GUI, ("self-test", ["--self-test"])),
    (["gui", "a.png", "--model", "m"], launcher.CLI, ("window", ["a.png", "--model", "m"])),
    (["a.png"], launcher.GUI, ("window", ["a.png"])),
    (["predict", "a.png"], launcher.CLI, ("cli", ["predict", "a.png"])),
    # `xrayviewer --self-test` is not a command: the CLI's parser answers it, not the self-test.
    (["--self-test"], launcher.CLI, ("cli", ["--self-test"])),
])
def test_launch_dispatches_each_argument_list_to_one_target(targets, argv, start, expected):
    assert launcher.launch(argv, start=start) == 7
    assert targets == [expected]


def test_console_scripts_use_sys_argv(targets, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["xrayviewer-gui", "--self-test"])
    assert launcher.gui_main() == 7
    monkeypatch.setattr(sys, "argv", ["xrayviewer", "model-info"])
    assert launcher.main() == 7
    assert targets == [("self-test", ["--self-test"]), ("cli", ["model-info"])]


def test_frozen_entry_script_is_the_launcher_with_the_window_first(monkeypatch):
    calls = []
    monkeypatch.setattr(launcher, "launch", lambda argv=None, start=launcher.CLI: calls.append(start) or 3)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(FROZEN_ENTRY), run_name="__main__")
    assert exit_info.value.code == 3 and calls == [launcher.GUI]


def test_frozen_app_runs_freeze_support_before_anything_else(targets, monkeypatch):
    """A spawned child of the frozen app (training, conversion) re-runs the executable:
    freeze_support must get it before any dispatch."""
    import multiprocessing

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(multiprocessing, "freeze_support", lambda: targets.append(("freeze_support", [])))
    launcher.launch(["--self-test"], start=launcher.GUI)
    assert [name for name, _ in targets] == ["freeze_support", "self-test"]


def test_window_entry_past_the_launcher_refuses_the_self_test_instead_of_opening(capsys):
    from xrayviewer.gui import app

    assert app.main(["--self-test"]) == 2
    assert "xrayviewer-gui --self-test" in capsys.readouterr().err


def test_cli_past_the_launcher_answers_gui_with_one_line(capsys):
    from xrayviewer import cli

    assert cli.main(["gui"]) == 2
    assert "xrayviewer gui" in capsys.readouterr().err


def test_python_dash_m_reaches_the_window_parser_and_the_cli_imports_no_qt():
    help_text = subprocess.run([sys.executable, "-m", "xrayviewer", "gui", "--help"], capture_output=True,
                               text=True, timeout=120)
    assert help_text.returncode == 0, help_text.stderr
    assert "xrayviewer-gui" in help_text.stdout and "--self-test" in help_text.stdout
    code = ("import sys\nfrom xrayviewer.launcher import launch\nrc = launch(['model-info', '--help'])\n"
            "print(rc, 'PySide6' in sys.modules)")
    cli = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.strip().splitlines()[-1] == "0 False"
