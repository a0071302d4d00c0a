"""benchmarks/ is one package: every probe imports (no sys.path edits), uses only public names
of the shared helpers, and is listed by ``python -m benchmarks``. Nothing here runs a probe
(they need the real data); the probes' own logic is tested where it has tests
(test_recipe_generalise: external_eval, test_ood: ood_probes)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"
MODULES = sorted(p for p in BENCHMARKS.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts)


def _runnable(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return not path.stem.startswith("_") and any(isinstance(n, ast.FunctionDef) and n.name == "main"
                                                   for n in tree.body)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_module_imports_as_part_of_the_package_without_touching_sys_path(path):
    source = path.read_text(encoding="utf-8")
    assert "sys.path.insert" not in source and "sys.path.append" not in source
    # No reaching into another benchmark's private helpers.
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("benchmarks")):
            private = [a.name for a in node.names if a.name.startswith("_")]
            assert not private, f"{path.name} imports private {private} from {node.module}"
    if path.stem != "__main__":
        importlib.import_module(_module_name(path))


def test_listing_names_every_runnable_probe():
    listing = subprocess.run([sys.executable, "-m", "benchmarks"], capture_output=True, text=True, cwd=REPO,
                             timeout=60)
    assert listing.returncode == 0, listing.stderr
    runnable = [_module_name(p) for p in MODULES if _runnable(p)]
    assert "benchmarks.external_eval" in runnable and "benchmarks.archive.tta_probe" in runnable
    for name in runnable:
        assert f"python -m {name}\n" in listing.stdout, name
    assert "benchmarks.common" not in listing.stdout


def test_data_folder_has_one_default(monkeypatch, tmp_path):
    from benchmarks.common import DATA_ENV, data_dir

    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    assert data_dir() == tmp_path / "env"
    assert data_dir(tmp_path / "option") == tmp_path / "option"  # --data wins
    monkeypatch.delenv(DATA_ENV)
    assert data_dir().parts[-2:] == ("shared", "data")
