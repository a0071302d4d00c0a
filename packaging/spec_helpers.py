"""Everything platform-dependent that build_installer.spec needs, as plain functions.

The spec only wires these into Analysis/EXE/COLLECT/BUNDLE, so the platform branches can be
unit-tested on any OS without building (tests/test_packaging_spec.py passes ``platform=``
explicitly or monkeypatches ``sys.platform``). No PyInstaller import here.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent

APP_NAME = "XRay Viewer"  # what people see: window title, menu, Start menu, .app name
EXE_NAME = "XRayViewer"  # executable and dist folder: no space, simpler on every shell
BUNDLE_ID = "org.xrayviewer.XRayViewer"
PUBLISHER = "XRay Viewer contributors"
COPYRIGHT = "Copyright (c) XRay Viewer contributors. MIT licence."
DESCRIPTION = "XRay Viewer - chest X-ray second reader (not a diagnosis)"
MACOS_MIN_VERSION = "11.0"  # first macOS on Apple silicon; the bundle is arm64 only

# Data packages: source folder in the repository -> package folder inside the bundle, with the
# same file patterns as [tool.setuptools.package-data] in pyproject.toml (a test keeps the two
# equal), so importlib.resources.files("xrayviewer.model_weights") finds the same files frozen
# as installed from the wheel.
DATA_PACKAGES = {
    "model_weights": ("xrayviewer/model_weights", ["*.keras", "*.json", "*.npz", "*.tflite", "*.md"]),
    "resources": ("xrayviewer/resources", ["*.png", "*.svg", "*.ico", "*.icns", "*.md", "*.txt", "samples/*"]),
}

# The bundled model the app loads by default (xrayviewer.model.bundle.BUNDLED_MODEL_NAME).
# default.tflite: what scores it (LiteRT); the frozen self-test fails without it.
REQUIRED_MODEL_FILES = ("default.keras", "default.json", "default.tflite")

# Imported lazily inside functions (model/networks.py), named so the analysis never misses the
# runtime that scores; its native libraries (the interpreter wrapper and the shared
# libpywrap_litert_common it links) follow the extension module.
SCORING_RUNTIME_IMPORTS = ["ai_edge_litert.interpreter"]

# Qt: PyInstaller's PySide6 hooks collect only the Qt modules that are imported. The app uses
# QtCore/QtGui/QtWidgets (plus possibly QtSvg, QtPrintSupport, QtOpenGL, QtNetwork, which stay
# allowed). These are excluded outright so that nothing drags them in by accident. If the GUI
# starts using one of them, remove it here: the frozen self-test (main window step) fails
# with an ImportError otherwise.
QT_EXCLUDES = [
    "PySide6.Qt3DAnimation", "PySide6.Qt3DCore", "PySide6.Qt3DExtras", "PySide6.Qt3DInput",
    "PySide6.Qt3DLogic", "PySide6.Qt3DRender", "PySide6.QtBluetooth", "PySide6.QtCharts",
    "PySide6.QtConcurrent", "PySide6.QtDataVisualization", "PySide6.QtDesigner", "PySide6.QtGraphs",
    "PySide6.QtGraphsWidgets", "PySide6.QtHelp", "PySide6.QtHttpServer", "PySide6.QtLabsStyleKit",
    "PySide6.QtLocation", "PySide6.QtMultimedia", "PySide6.QtMultimediaWidgets", "PySide6.QtNetworkAuth",
    "PySide6.QtNfc", "PySide6.QtPdf", "PySide6.QtPdfWidgets", "PySide6.QtPositioning", "PySide6.QtQml",
    "PySide6.QtQmlFeatures", "PySide6.QtQuick", "PySide6.QtQuick3D", "PySide6.QtQuickControls2",
    "PySide6.QtQuickTest", "PySide6.QtQuickWidgets", "PySide6.QtRemoteObjects", "PySide6.QtScxml",
    "PySide6.QtSensors", "PySide6.QtSerialBus", "PySide6.QtSerialPort", "PySide6.QtSpatialAudio",
    "PySide6.QtSql", "PySide6.QtStateMachine", "PySide6.QtTest", "PySide6.QtTextToSpeech",
    "PySide6.QtUiTools", "PySide6.QtWebChannel", "PySide6.QtWebEngineCore", "PySide6.QtWebEngineQuick",
    "PySide6.QtWebEngineWidgets", "PySide6.QtWebSockets", "PySide6.QtWebView", "PySide6.QtXml",
    "PySide6.QtAxContainer",
]

# Other frameworks and tools that may be installed beside the app (a developer's venv) but
# that the app never uses. Keras 3 probes for JAX/PyTorch/OpenVINO; matplotlib for other Qt
# bindings and Tk.
FRAMEWORK_EXCLUDES = [
    "tkinter", "_tkinter", "turtle", "turtledemo", "idlelib",
    "torch", "torchvision", "torchaudio", "jax", "jaxlib", "flax", "openvino",
    "IPython", "ipykernel", "ipywidgets", "jupyter", "jupyter_client", "jupyter_core", "notebook",
    "nbformat", "jedi", "pytest", "_pytest", "pytestqt", "hypothesis", "importlinter", "grimp",
    "scipy", "pandas", "sklearn", "sympy", "numba", "cv2",
    "PyQt5", "PyQt6", "PySide2", "wx", "gi",
    "tensorboard", "tensorflow_datasets",
    "pyinstaller", "PyInstaller", "yaml",
]

# matplotlib (if the GUI imports it): only the Qt canvas and Agg, not every importable backend.
MATPLOTLIB_BACKENDS = ["QtAgg", "Agg"]

# macOS: document types the .app says it opens (Finder "Open With", drag onto the Dock icon).
# JPEG/PNG/TIFF are system types; the app is only an alternate handler for them. DICOM has no
# system type: declare the de-facto identifier as an imported type.
DICOM_UTI = "org.nema.dicom"
MACOS_DOCUMENT_TYPES = [
    {"CFBundleTypeName": "DICOM Image", "CFBundleTypeRole": "Viewer", "LSHandlerRank": "Default",
     "LSItemContentTypes": [DICOM_UTI]},
    {"CFBundleTypeName": "JPEG Image", "CFBundleTypeRole": "Viewer", "LSHandlerRank": "Alternate",
     "LSItemContentTypes": ["public.jpeg"]},
    {"CFBundleTypeName": "PNG Image", "CFBundleTypeRole": "Viewer", "LSHandlerRank": "Alternate",
     "LSItemContentTypes": ["public.png"]},
    {"CFBundleTypeName": "TIFF Image", "CFBundleTypeRole": "Viewer", "LSHandlerRank": "Alternate",
     "LSItemContentTypes": ["public.tiff"]},
]
MACOS_IMPORTED_TYPES = [
    {"UTTypeIdentifier": DICOM_UTI, "UTTypeDescription": "DICOM Image",
     "UTTypeConformsTo": ["public.data", "public.image"],
     "UTTypeTagSpecification": {"public.filename-extension": ["dcm", "dicom"],
                                "public.mime-type": ["application/dicom"]}},
]

# Windows: extensions the installer registers (see packaging/windows/xrayviewer.iss).
WINDOWS_OPEN_WITH_EXTENSIONS = [".dcm", ".jpg", ".jpeg", ".png", ".tif", ".tiff"]


def platform_key(platform: Optional[str] = None) -> str:
    """'windows', 'macos' or 'linux' for a sys.platform value (default: this one) or a key."""
    p = sys.platform if platform is None else platform
    if p in ("windows", "macos", "linux"):
        return p
    if p.startswith("win"):
        return "windows"
    if p == "darwin":
        return "macos"
    return "linux"


def read_version(root: Path = ROOT) -> str:
    """xrayviewer.__version__, read from the source (the spec must not import the app)."""
    text = (Path(root) / "xrayviewer" / "__init__.py").read_text(encoding="utf-8")
    m = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.MULTILINE)
    if not m:
        raise RuntimeError("xrayviewer/__init__.py has no __version__")
    return m.group(1)


def version_tuple(version: str) -> tuple[int, int, int, int]:
    """'1.2.3' / '1.2.3rc1' / '1.2' -> (1, 2, 3, 0): Windows' four 16-bit numbers."""
    nums = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3]]
    while len(nums) < 3:
        nums.append(0)
    if any(n > 65535 for n in nums):
        raise ValueError(f"version {version!r} does not fit Windows' 16-bit version fields")
    return (nums[0], nums[1], nums[2], 0)


def data_files(root: Path = ROOT) -> list[tuple[str, str]]:
    """(source file, destination folder) pairs for Analysis(datas=...).

    Includes each data package's __init__.py so the package imports in the frozen app (the
    repository keeps these packages outside xrayviewer/, so PyInstaller's import analysis
    cannot find them by itself). Raises SystemExit with a message if the bundled model is
    missing: a bundle without it would start and then fail for every user.
    """
    root = Path(root)
    check_bundled_model(root)
    out: list[tuple[str, str]] = []
    for src_dir, (dest, patterns) in DATA_PACKAGES.items():
        base = root / src_dir
        init = base / "__init__.py"
        if init.is_file():
            out.append((str(init), dest))
        for pattern in patterns:
            for f in sorted(glob.glob(str(base / pattern))):
                if os.path.isfile(f):
                    rel_parent = Path(f).parent.relative_to(base)
                    target = dest if str(rel_parent) == "." else f"{dest}/{rel_parent.as_posix()}"
                    out.append((f, target))
    return out


def check_bundled_model(root: Path = ROOT) -> None:
    missing = [n for n in REQUIRED_MODEL_FILES if not (Path(root) / "model_weights" / n).is_file()]
    if missing and os.environ.get("XRAYVIEWER_ALLOW_NO_MODEL") != "1":
        raise SystemExit(
            f"model_weights/ lacks {', '.join(missing)}: the app would ship without its model. "
            "Copy a trained bundle there (xrayviewer train ... --out model_weights --name default) "
            "or set XRAYVIEWER_ALLOW_NO_MODEL=1 for a test build.")


def excludes() -> list[str]:
    return FRAMEWORK_EXCLUDES + QT_EXCLUDES


def icon(platform: Optional[str] = None, root: Path = ROOT) -> Optional[str]:
    """The icon file PyInstaller wants on this platform (Linux executables have none)."""
    key = platform_key(platform)
    name = {"windows": "icon.ico", "macos": "icon.icns"}.get(key)
    return str(Path(root) / "resources" / name) if name else None


def windows_version_info_text(version: str) -> str:
    """A PyInstaller version file (VSVersionInfo) for the Windows executable's properties."""
    v = version_tuple(version)
    fields = {
        "CompanyName": PUBLISHER,
        "FileDescription": DESCRIPTION,
        "FileVersion": version,
        "InternalName": EXE_NAME,
        "LegalCopyright": COPYRIGHT,
        "OriginalFilename": f"{EXE_NAME}.exe",
        "ProductName": APP_NAME,
        "ProductVersion": version,
    }
    strings = ",\n            ".join(f"StringStruct({k!r}, {val!r})" for k, val in fields.items())
    return f"""# UTF-8
# Generated by packaging/spec_helpers.py for {APP_NAME} {version}; do not edit.
VSVersionInfo(
  ffi=FixedFileInfo(
    filevers={v!r},
    prodvers={v!r},
    mask=0x3f,
    flags=0x0,
    OS=0x40004,
    fileType=0x1,
    subtype=0x0,
    date=(0, 0)
  ),
  kids=[
    StringFileInfo([
      StringTable(
        '040904B0',
        [{strings}])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def write_windows_version_file(build_dir: Path, version: str) -> str:
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    path = build_dir / "windows_version_info.txt"
    path.write_text(windows_version_info_text(version), encoding="utf-8")
    return str(path)


def info_plist(version: str) -> dict:
    """Extra Info.plist keys for the macOS .app (PyInstaller fills in the executable etc.)."""
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "CFBundleDocumentTypes": MACOS_DOCUMENT_TYPES,
        "UTImportedTypeDeclarations": MACOS_IMPORTED_TYPES,
        "NSHighResolutionCapable": True,
        "NSRequiresAquaSystemAppearance": False,  # follow dark mode
        "NSPrincipalClass": "NSApplication",
        "LSMinimumSystemVersion": MACOS_MIN_VERSION,
        "LSApplicationCategoryType": "public.app-category.medical",
        "NSHumanReadableCopyright": COPYRIGHT,
    }


def exe_options(platform: Optional[str] = None, build_dir: Optional[Path] = None,
                version: Optional[str] = None, root: Path = ROOT) -> dict:
    """Keyword arguments for EXE() on ``platform``: icon, version file, console, target arch.

    Never UPX (it breaks Qt/TF binaries, slows every start and upsets virus scanners). Never
    PyInstaller's blanket strip: it breaks the auditwheel-patched libraries of numpy and
    Pillow ("ELF load command address/offset not page-aligned"); see
    strip_tensorflow_binaries() for the targeted strip that is safe.
    """
    key = platform_key(platform)
    version = version or read_version(root)
    opts: dict = {"name": EXE_NAME, "upx": False, "strip": False, "debug": False,
                  "bootloader_ignore_signals": False, "disable_windowed_traceback": False,
                  "argv_emulation": False, "target_arch": None, "codesign_identity": None,
                  "entitlements_file": None}
    if key == "windows":
        opts["console"] = False  # a windowed app: no console flashes; --self-test writes a report file
        opts["icon"] = icon(platform, root)
        opts["version"] = write_windows_version_file(Path(build_dir or ROOT / "build"), version)
    elif key == "macos":
        opts["console"] = False  # required for a .app
        opts["icon"] = icon(platform, root)
        opts["target_arch"] = "arm64"  # Apple silicon only; see README.md, "Install"
        # Ad-hoc signed here; packaging/macos/build_dmg.sh re-signs with a Developer ID when
        # the secrets are present.
        opts["entitlements_file"] = str(Path(root) / "packaging" / "macos" / "entitlements.plist")
    else:
        opts["console"] = True  # Linux: a terminal shows output when started from one
    return opts


STRIP_MIN_BYTES = 5 * 1024 * 1024
STRIP_PREFIXES = ("tensorflow/",)


def strip_tensorflow_binaries(binaries, work_dir, platform: Optional[str] = None, strip_cmd: str = "strip",
                              min_bytes: int = STRIP_MIN_BYTES) -> tuple[list, int]:
    """Linux: swap TensorFlow's large shared objects in ``binaries`` (Analysis.binaries, entries
    (dest, src, typecode)) for copies stripped of their symbol tables; returns (entries, bytes saved).

    TF's wheels ship libtensorflow_cc.so.2 and a few extensions unstripped: ~260 MB of the
    1.7 GB bundle. ``strip --strip-unneeded`` keeps the dynamic symbols, so loading and
    linking are unaffected (checked by the frozen self-test). Only files under tensorflow/:
    stripping auditwheel-repaired libraries (numpy.libs/, pillow.libs/, ...) corrupts them.
    Not on macOS (signed binaries) or Windows (PE files carry no such tables). The stripped
    copies live in ``work_dir``/stripped and are reused while newer than their source.
    """
    entries = list(binaries)
    if platform_key(platform) != "linux" or shutil.which(strip_cmd) is None:
        return entries, 0
    out, saved = [], 0
    for entry in entries:
        dest, src, typecode = entry[0], entry[1], entry[2]
        if (typecode in ("BINARY", "EXTENSION") and dest.replace("\\", "/").startswith(STRIP_PREFIXES)
                and os.path.isfile(src) and os.path.getsize(src) >= min_bytes):
            target = Path(work_dir) / "stripped" / dest
            if not target.is_file() or target.stat().st_mtime < os.path.getmtime(src):
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(target.name + ".tmp")
                subprocess.run([strip_cmd, "--strip-unneeded", "-o", str(tmp), os.path.realpath(src)], check=True)
                os.replace(tmp, target)
            saved += os.path.getsize(src) - target.stat().st_size
            entry = (dest, str(target), typecode)
        out.append(entry)
    return out, saved


def bundle_options(version: Optional[str] = None, root: Path = ROOT) -> dict:
    """Keyword arguments for BUNDLE() (macOS only)."""
    version = version or read_version(root)
    return {"name": f"{APP_NAME}.app", "icon": icon("darwin", root), "bundle_identifier": BUNDLE_ID,
            "version": version, "info_plist": info_plist(version)}


def dist_folder_name() -> str:
    return EXE_NAME


def artifact_name(version: str, platform: Optional[str] = None) -> str:
    key = platform_key(platform)
    return {"linux": f"XRayViewer-{version}-linux-x86_64.tar.gz",
            "windows": f"XRayViewer-{version}-windows-x64-setup.exe",
            "macos": f"XRayViewer-{version}-macos-arm64.dmg"}[key]
