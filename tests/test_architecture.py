"""The layering of docs/ARCHITECTURE.md: import-linter contracts plus what really gets imported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _lint_imports_command():
    exe = Path(sys.executable).with_name("lint-imports")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("lint-imports")
    if found:
        return [found]
    pytest.skip("import-linter is not installed")


def test_import_linter_contracts_kept():
    r = subprocess.run([*_lint_imports_command(), "--no-cache", "pyproject.toml"], cwd=REPO, env=_env(),
                       capture_output=True, text=True, timeout=120)
    report = r.stdout + r.stderr
    assert r.returncode == 0, report
    assert "0 broken" in report
    # The three contracts of pyproject.toml were all checked (a config error checks none).
    assert report.count("KEPT") == 3, report


HEAVY = ("tensorflow", "keras", "PySide6")


@pytest.mark.parametrize("module, forbidden", [
    ("xrayviewer", HEAVY),
    ("xrayviewer.progress", HEAVY),
    ("xrayviewer.paths", HEAVY),
    ("xrayviewer.defaults", HEAVY + ("numpy",)),  # cli --help prints its numbers
    ("xrayviewer.sharding", HEAVY),
    ("xrayviewer.training.distribute", HEAVY),  # TensorFlow only once a distributed run starts
    ("xrayviewer.imaging", HEAVY + ("matplotlib",)),
    ("xrayviewer.model", HEAVY),
    ("xrayviewer.training", HEAVY),
    ("xrayviewer.reads", HEAVY),
    ("xrayviewer.gui.case_snapshot", HEAVY),  # the CLI's predict --snapshot renders through it
    ("xrayviewer.cli", HEAVY),
    ("xrayviewer.gui", ("tensorflow", "keras")),  # Qt is the GUI's business; TF never at start-up
])
def test_import_does_not_pull_in_heavy_frameworks(module, forbidden):
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    loaded = set(json.loads(r.stdout.strip().splitlines()[-1]))
    assert "xrayviewer" in loaded
    assert loaded.isdisjoint(forbidden), sorted(loaded & set(forbidden))


def test_model_public_api_importable_without_tensorflow():
    """Listing models and reading metadata (what the GUI does at start-up) stays TF-free."""
    code = (
        "import json, sys\n"
        "from xrayviewer.model import list_models, read_model_info, bundled_model_path\n"
        "from xrayviewer.training import scan_dataset, patient_split\n"
        "from xrayviewer.imaging import load_image\n"
        "list_models()\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'PySide6'})))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == []
