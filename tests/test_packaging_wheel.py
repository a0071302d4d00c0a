"""The wheel carries every package, the bundled model files and the sample images."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow

IGNORE = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
                                ".pytest_cache", ".import_linter_cache", ".cache", "tests", "benchmarks")


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    """A clean copy of the source tree: a stale build/ folder in the checkout could otherwise
    add or hide files, and the checks compare against exactly what was built."""
    src = tmp_path_factory.mktemp("src") / "xrayviewer-src"
    shutil.copytree(REPO, src, ignore=IGNORE)
    return src


@pytest.fixture(scope="module")
def wheel(src, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # -v: the build backend's own output, where setuptools prints its deprecation warnings.
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
                        "--no-index", "-v", "-w", str(out)], cwd=src, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    (out / "build.log").write_text(r.stdout + r.stderr)
    wheels = list(out.glob("xrayviewer-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_build_has_no_setuptools_deprecation_warnings(wheel):
    log = (wheel.parent / "build.log").read_text()
    for warning in ("as a TOML table is deprecated", "Package would be ignored", "SetuptoolsDeprecationWarning"):
        assert warning not in log, f"setuptools warns: {warning!r}"


def _metadata(wheel) -> str:
    with zipfile.ZipFile(wheel) as z:
        return z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()


def test_wheel_carries_the_mit_license_file(wheel, names):
    meta = _metadata(wheel)
    assert "License-Expression: MIT" in meta and "License-File: LICENSE" in meta
    license_text = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
    with zipfile.ZipFile(wheel) as z:
        assert "MIT License" in z.read(license_text).decode()


def test_dependencies_cpu_tensorflow_and_no_broken_qt(wheel):
    """Issue 13.5 / 13.1: the CPU-only TensorFlow wheel where it is published (about half the
    download on Linux), full TensorFlow elsewhere and in the gpu extra; never PySide6 6.12.0."""
    from packaging.requirements import Requirement

    reqs = [Requirement(line.split(":", 1)[1].strip()) for line in _metadata(wheel).splitlines()
            if line.startswith("Requires-Dist:")]
    platforms = {"linux-x86_64": ("linux", "x86_64", "tensorflow-cpu"),
                 "windows-amd64": ("win32", "AMD64", "tensorflow-cpu"),
                 "macos-arm64": ("darwin", "arm64", "tensorflow"),
                 "linux-aarch64": ("linux", "aarch64", "tensorflow")}
    for where, (plat, machine, expected) in platforms.items():
        for extra, wanted in (("", {expected}), ("gpu", {expected} | ({"tensorflow"} if plat == "linux" else set()))):
            env = {"sys_platform": plat, "platform_machine": machine, "extra": extra}
            tf = {r.name for r in reqs if r.name.startswith("tensorflow") and (r.marker is None or r.marker.evaluate(env))}
            assert tf == wanted, (where, extra, tf)
    qt = next(r for r in reqs if r.name == "PySide6-Essentials")
    assert not qt.specifier.contains("6.12.0") and qt.specifier.contains("6.11.3")


@pytest.fixture(scope="module")
def names(wheel) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return set(z.namelist())


def _source_packages(src: Path) -> list[Path]:
    return sorted(p.parent for p in (src / "xrayviewer").rglob("__init__.py") if "__pycache__" not in p.parts)


def test_every_source_package_and_module_is_in_the_wheel(src, names):
    packages = _source_packages(src)
    assert len(packages) >= 4
    for pkg in packages:
        rel = pkg.relative_to(src).as_posix()
        assert f"{rel}/__init__.py" in names, f"package {rel} missing from the wheel (pyproject packages list?)"
        for module in pkg.glob("*.py"):
            assert f"{rel}/{module.name}" in names, f"{rel}/{module.name} missing from the wheel"


def test_wheel_has_no_modules_that_are_not_in_the_source(src, names):
    for n in names:
        if n.startswith("xrayviewer/") and n.endswith(".py") and not n.startswith(("xrayviewer/resources/",
                                                                                      "xrayviewer/model_weights/")):
            assert (src / n).exists(), f"{n} is in the wheel but not in the source tree"


def test_model_weights_shipped(src, names):
    assert "xrayviewer/model_weights/__init__.py" in names
    folder = src / "model_weights"
    shipped = [p for p in folder.iterdir()
               if any(fnmatch.fnmatch(p.name, pat) for pat in ("*.keras", "*.json", "*.npz", "*.md"))]
    for p in shipped:
        assert f"xrayviewer/model_weights/{p.name}" in names, p.name
    if (folder / "default.keras").exists():
        for suffix in (".keras", ".json"):
            assert f"xrayviewer/model_weights/default{suffix}" in names


def test_resources_and_samples_shipped(src, names):
    samples = [p for p in (src / "resources" / "samples").iterdir() if p.is_file()]
    assert samples
    for p in samples:
        assert f"xrayviewer/resources/samples/{p.name}" in names, p.name
    for p in (src / "resources").iterdir():
        if p.suffix in (".png", ".svg", ".ico", ".icns"):
            assert f"xrayviewer/resources/{p.name}" in names, p.name


def test_entry_points_declared(wheel):
    with zipfile.ZipFile(wheel) as z:
        ep = next(n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt"))
        text = z.read(ep).decode()
    # Both commands go through the one launcher (xrayviewer.launcher.launch).
    assert "xrayviewer = xrayviewer.launcher:main" in text
    assert "xrayviewer-gui = xrayviewer.launcher:gui_main" in text


def test_installed_wheel_finds_its_data(src, wheel, tmp_path):
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                        str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    code = (
        "import json, xrayviewer\n"
        "from xrayviewer.paths import samples_dir, bundled_models_dir\n"
        "print(json.dumps({'file': xrayviewer.__file__,\n"
        "                  'samples': sorted(p.name for p in samples_dir().iterdir()),\n"
        "                  'models': bundled_models_dir().is_dir()}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(target)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["file"].startswith(str(target))  # the installed copy, not the checkout
    assert result["models"]
    expected = sorted(p.name for p in (src / "resources" / "samples").iterdir() if p.is_file())
    assert result["samples"] == expected
