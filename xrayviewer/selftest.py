"""``xrayviewer-gui --self-test`` (and ``XRayViewer --self-test`` in the frozen app), started
by ``xrayviewer.launcher``.

It sits above ``gui`` (it checks TensorFlow, training and the window, so it imports all of
them); nothing in ``gui`` imports it.

Checks, without a screen, that an installed or frozen app has everything it needs:

1. bundle layout: the bundled model and sample images are where importlib.resources finds
   them, and the per-user folders are outside the (possibly read-only) bundle;
2. the Qt binding keeps reference counts straight over thousands of signal emits
   (``signal_check``: PySide6 6.12.0 lost one reference to ``True`` per emit, and on
   Python 3.11 a long session aborted with "bool_dealloc");
3. TensorFlow imports, on the Keras TensorFlow backend, and computes;
4. the bundled model loads (checksum and metadata verified) on LiteRT, the runtime that scores
   (where ai-edge-litert has wheels; elsewhere Keras, and the report says so);
5. the model scores a bundled sample as it did when it was saved (``reference_sample`` in its
   metadata, within ``TOLERANCE``): preprocessing, weights, conversion and calibration match;
6. training works: ``training.fit`` runs one epoch (a single step) on a tiny dataset made
   from the bundled samples, and saves the bundle in a temporary per-user folder;
7. that saved model reloads and reproduces its own reference probability;
8. the main window is created with ``xrayviewer.gui.assembly.create_main_window`` (offscreen where
   there is no display) and shown; its model service loads the bundled model on LiteRT and
   scores the reference sample, which must match as in step 5; then it closes.

The report (versions, per-step timings, PASS/FAIL) goes to stdout (when there is one: a
windowed Windows app has none) and to ``selftest-<time>.txt`` in the per-user log folder, or
to ``--report FILE``. Exit code 0 when every step passed, 1 otherwise.

All per-user files the test writes (settings, models, caches) go to a temporary
``XRAYVIEWER_HOME``, deleted afterwards (``--keep-temp`` keeps it); only the report is written
to the real log folder. TensorFlow is imported inside the steps, never at module level.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional, Sequence, TextIO

TOLERANCE = 1e-3
WINDOW_TIMEOUT = 180.0  # seconds for the window's model service to load and score
PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclass
class StepResult:
    name: str
    status: str
    seconds: float
    detail: str = ""


class _Tee:
    """Writes every line to the console (if any) and keeps the text for the report file."""

    def __init__(self, console: Optional[TextIO]):
        self.console = console
        self.buffer = io.StringIO()

    def line(self, text: str = "") -> None:
        self.buffer.write(text + "\n")
        if self.console is not None:
            try:
                self.console.write(text + "\n")
                self.console.flush()
            except (OSError, ValueError):  # closed or invalid console handle
                self.console = None


def _console() -> Optional[TextIO]:
    """stdout, or on a windowed Windows app (sys.stdout is None) the parent's console if any."""
    if sys.stdout is not None:
        return sys.stdout
    if sys.platform == "win32":
        try:
            import ctypes

            if ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
                return open("CONOUT$", "w", encoding="utf-8", errors="replace")
        except Exception:  # noqa: BLE001 - no console is fine: the report file has it all
            return None
    return None


def _needs_offscreen(env=os.environ, platform_name: str = sys.platform) -> bool:
    """True on Linux/BSD with no X11 or Wayland display and no platform chosen by the user."""
    if env.get("QT_QPA_PLATFORM"):
        return False
    if platform_name.startswith("win") or platform_name == "darwin":
        return False
    return not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def _bundle_root() -> Optional[Path]:
    """The frozen app's folder (PyInstaller's sys._MEIPASS), or None when not frozen."""
    meipass = getattr(sys, "_MEIPASS", None)
    return Path(meipass).resolve() if getattr(sys, "frozen", False) and meipass else None


def _is_inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
        return True
    except ValueError:
        return False


def _sample_class(name: str) -> Optional[str]:
    """The class of a bundled sample from its Kaggle-style name (person*_bacteria/virus: PNEUMONIA)."""
    lower = name.lower()
    if lower.startswith("person") or "bacteria" in lower or "virus" in lower:
        return "PNEUMONIA"
    if lower.startswith(("im-", "normal")):
        return "NORMAL"
    return None


def make_tiny_dataset(folder: Path, per_class: int = 6, seed: int = 0) -> Path:
    """``folder/{NORMAL,PNEUMONIA}/`` with ``per_class`` images each, one patient per image.

    Made from the bundled sample of each class (random crops, small rotations, brightness and
    noise), or from synthetic chest-like images when a class has no bundled sample. File names
    follow the dataset's patient scheme so that the patient-level split works as in real data.
    """
    import numpy as np
    from PIL import Image, ImageFilter

    from .paths import samples_dir

    rng = np.random.default_rng(seed)
    sources: dict[str, Path] = {}
    sdir = samples_dir()
    if sdir.is_dir():
        for p in sorted(sdir.iterdir()):
            cls = _sample_class(p.name)
            if cls and cls not in sources and p.suffix.lower() in (".jpeg", ".jpg", ".png"):
                sources[cls] = p
    for cls in ("NORMAL", "PNEUMONIA"):
        out = folder / cls
        out.mkdir(parents=True, exist_ok=True)
        base = None
        if cls in sources:
            with Image.open(sources[cls]) as im:
                base = im.convert("L")
                base.thumbnail((320, 320))
        for i in range(per_class):
            if base is not None:
                w, h = base.size
                s = rng.uniform(0.85, 1.0)
                cw, ch = int(w * s), int(h * s)
                x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
                img = base.crop((x0, y0, x0 + cw, y0 + ch)).rotate(float(rng.uniform(-5, 5)), fillcolor=0)
                img = img.resize((224, 224), Image.BILINEAR)
                arr = np.asarray(img, dtype=np.float32) * rng.uniform(0.85, 1.15)
            else:
                arr = _synthetic_chest(rng, pneumonia=(cls == "PNEUMONIA"))
            arr = arr + rng.normal(0, 4, arr.shape)
            img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).filter(ImageFilter.SMOOTH)
            name = (f"person{9000 + i}_bacteria_{i}.jpeg" if cls == "PNEUMONIA" else f"IM-{9000 + i:04d}-0001.jpeg")
            img.save(out / name, quality=92)
    return folder


def _synthetic_chest(rng, pneumonia: bool, size: int = 224):
    """A grey 'radiograph': bright body, two dark lung fields, hazy patches for pneumonia."""
    import numpy as np

    y, x = np.mgrid[0:size, 0:size] / size
    img = 170 + 40 * np.exp(-((x - 0.5) ** 2) / 0.02)  # mediastinum and spine
    for cx in (0.3, 0.7):
        img -= 110 * np.exp(-(((x - cx) / 0.14) ** 2 + ((y - 0.5) / 0.28) ** 2))
    if pneumonia:
        for _ in range(3):
            cx, cy = rng.uniform(0.2, 0.8), rng.uniform(0.35, 0.75)
            img += 70 * np.exp(-(((x - cx) / 0.08) ** 2 + ((y - cy) / 0.08) ** 2))
    return img


class SelfTest:
    def __init__(self, out: _Tee, keep_temp: bool = False):
        self.out = out
        self.keep_temp = keep_temp
        self.results: list[StepResult] = []
        self.state: dict = {}

    # ---- running -------------------------------------------------------------------------
    def step(self, name: str, fn: Callable[[], str], needs: Sequence[str] = ()) -> StepResult:
        missing = [n for n in needs if not self._passed(n)]
        if missing:
            result = StepResult(name, SKIP, 0.0, f"needs: {', '.join(missing)}")
        else:
            t0 = time.perf_counter()
            try:
                detail = fn() or ""
                result = StepResult(name, PASS, time.perf_counter() - t0, detail)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a FAIL line
                tb = traceback.format_exc().strip().splitlines()
                where = next((ln.strip() for ln in reversed(tb) if ln.strip().startswith("File ")), "")
                detail = f"{type(exc).__name__}: {exc}" + (f" [{where}]" if where else "")
                result = StepResult(name, FAIL, time.perf_counter() - t0, detail)
                self.state.setdefault("tracebacks", []).append((name, "\n".join(tb[-12:])))
        self.results.append(result)
        self.out.line(f"{result.status}  {result.name:<26} {result.seconds:7.2f} s  {result.detail}")
        return result

    def _passed(self, name: str) -> bool:
        return any(r.name == name and r.status == PASS for r in self.results)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.status == PASS for r in self.results)

    # ---- the steps -----------------------------------------------------------------------
    def bundle_layout(self) -> str:
        from .model.bundle import bundled_model_path, metadata_path
        from .paths import bundled_models_dir, samples_dir, user_cache_dir, user_log_dir, user_models_dir

        model = bundled_model_path()
        problems = [f"missing {p}" for p in (model, metadata_path(model)) if not p.is_file()]
        from .imaging import IMAGE_EXTENSIONS

        samples = sorted(p.name for p in samples_dir().glob("*")
                         if p.suffix.lower() in IMAGE_EXTENSIONS) if samples_dir().is_dir() else []
        if not samples:
            problems.append(f"no sample images in {samples_dir()}")
        root = _bundle_root()
        if root is not None:
            if not _is_inside(bundled_models_dir(), root):
                problems.append(f"bundled models at {bundled_models_dir()}, outside the bundle {root}")
            for d in (user_models_dir(), user_cache_dir(), user_log_dir()):
                if _is_inside(d, root):
                    problems.append(f"per-user folder {d} is inside the bundle {root}")
        if problems:
            raise RuntimeError("; ".join(problems))
        return f"model {model.name}, {len(samples)} samples, bundle {'frozen' if root else 'not frozen'}"

    def qt_signals(self) -> str:
        from PySide6 import __version__ as pyside_version

        from .gui.signal_check import DEFAULT_EMITS, signal_refcount_drift

        drift = signal_refcount_drift(DEFAULT_EMITS)
        detail = f"{DEFAULT_EMITS} emits, refcount of True moved by {drift} (PySide6 {pyside_version})"
        if drift != 0:
            raise RuntimeError(detail + ": this Qt binding loses references and a long session would "
                               "abort; rebuild with another PySide6 release")
        return detail

    def import_tensorflow(self) -> str:
        from .model.runtime import import_keras, import_tensorflow

        tf = import_tensorflow()
        keras = import_keras()
        backend = keras.backend.backend()
        if backend != "tensorflow":
            raise RuntimeError(f"Keras backend is {backend!r}, not 'tensorflow'")
        total = float(tf.reduce_sum(tf.ones((3, 3))).numpy())
        if total != 9.0:
            raise RuntimeError(f"TensorFlow computed {total} for a sum of nine ones")
        self.state["versions"] = {"tensorflow": tf.__version__, "keras": keras.__version__}
        return f"tensorflow {tf.__version__}, keras {keras.__version__} (backend {backend})"

    def load_bundled_model(self) -> str:
        from .model import Predictor

        from .model.networks import LITERT, litert_available, requested_backend

        predictor = Predictor.load()
        self.state["predictor"] = predictor
        info = predictor.info
        if litert_available() and requested_backend() == LITERT and predictor.runtime != LITERT:
            raise RuntimeError(f"the bundled model loaded on {predictor.runtime}, not LiteRT "
                               f"(its .tflite is missing or does not match its metadata)")
        if litert_available():
            import ai_edge_litert

            self.state.setdefault("versions", {})["ai-edge-litert"] = getattr(ai_edge_litert, "__version__", "?")
        else:
            self.state.setdefault("versions", {})["ai-edge-litert"] = "not installed (no wheel here): Keras scores"
        return (f"{info.name} ({info.meta.get('recipe', '?')}), threshold {info.threshold:.3f}, "
                f"scored by {predictor.runtime}")

    def score_reference(self) -> str:
        predictor = self.state["predictor"]
        return self._check_reference(predictor, "bundled model")

    def _check_reference(self, predictor, what: str) -> str:
        from .imaging import load_image
        from .paths import samples_dir

        ref = predictor.info.meta.get("reference_sample")
        if not ref or "file" not in ref or "probability" not in ref:
            raise RuntimeError(f"the {what}'s metadata has no reference_sample (file + probability)")
        path = samples_dir() / ref["file"]
        if not path.is_file():
            raise RuntimeError(f"reference sample {ref['file']} is not among the bundled samples")
        got = predictor.predict_image(load_image(path)).probability
        want = float(ref["probability"])
        diff = abs(got - want)
        detail = f"{ref['file']}: p={got:.6f}, expected {want:.6f}, |diff| {diff:.2e} (tol {TOLERANCE:g})"
        if not diff <= TOLERANCE:
            raise RuntimeError(detail)
        return detail

    def train_tiny(self) -> str:
        from .paths import user_models_dir
        from .training import TrainConfig, fit

        work = Path(self.state["home"])
        dataset = make_tiny_dataset(work / "dataset")
        events = []
        cfg = TrainConfig(dataset_dir=str(dataset), out_dir=str(user_models_dir()), recipe="default",
                          epochs=1, seed=0, name="selftest", val_fraction=0.25,
                          cache_dir=str(work / "cache"), command="xrayviewer-gui --self-test")
        result = fit(cfg, on_progress=lambda p: events.append(p.stage))
        if not result.model_path.is_file():
            raise RuntimeError(f"fit() reported {result.model_path}, which does not exist")
        if not _is_inside(result.model_path, work):
            raise RuntimeError(f"the model was saved to {result.model_path}, outside the per-user folder {work}")
        root = _bundle_root()
        if root is not None and _is_inside(result.model_path, root):
            raise RuntimeError("the retrained model was written into the application bundle")
        self.state["trained"] = result.model_path
        steps = events.count("batch")
        split = result.metadata.get("split", {})
        return (f"{steps} step(s), {split.get('train_images', '?')} train / {split.get('val_images', '?')} "
                f"val images, saved {result.model_path.name}")

    def reload_trained(self) -> str:
        from .model import Predictor, list_models

        path = self.state["trained"]
        predictor = Predictor.load(path)
        names = [i.name for i in list_models()]
        if predictor.info.name not in names:
            raise RuntimeError(f"list_models() does not list the saved model ({names})")
        return self._check_reference(predictor, "retrained model")

    def main_window(self) -> str:
        """The real window on the real app path: shown, its model service loads the bundled
        model, the reference sample opened from the command line is scored, then it closes."""
        if _needs_offscreen():
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import QEventLoop, qVersion
        from PySide6.QtWidgets import QApplication

        try:
            from .gui.assembly import create_main_window as create
        except ImportError as exc:
            raise RuntimeError(f"xrayviewer.gui.assembly is not available: {exc}") from None
        self.state.setdefault("versions", {}).update({"PySide6": pyside_version, "Qt": qVersion()})
        qapp = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "xrayviewer"])
        ref = self._reference_file()
        window = create([str(ref[0])] if ref else [])
        problems: list[str] = []
        try:
            window.show()
            controller = getattr(window, "controller", None)
            models = getattr(controller, "models", None)
            t0 = time.perf_counter()
            deadline = t0 + WINDOW_TIMEOUT
            while time.perf_counter() < deadline:
                qapp.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
                if controller is None or models is None:
                    break
                if getattr(models, "state", "") in ("ready", "failed") and controller.is_settled():
                    break
                time.sleep(0.01)
            waited = time.perf_counter() - t0
            title, size, visible = window.windowTitle(), window.size(), window.isVisible()
            detail = f"'{title}' {size.width()}x{size.height()}, {QApplication.platformName()} platform"
            if not visible:
                problems.append("the window did not become visible")
            if controller is None or models is None:
                detail += "; no controller: model loading not checked"
            else:
                state = getattr(models, "state", "?")
                if state != "ready":
                    problems.append(f"the window's model service ended in state {state!r} after {waited:.1f} s")
                runtime = getattr(models, "runtime", "?")
                detail += f"; the window scores on {runtime}"
                if runtime != "litert":
                    problems.append(f"the window's model runs on {runtime!r}, not LiteRT")
                items = list(controller.worklist.items()) if hasattr(controller, "worklist") else []
                scored = [i for i in items if getattr(i, "prediction", None) is not None]
                detail += f"; model {state} and worklist settled in {waited:.1f} s"
                if ref:
                    if not scored:
                        problems.append(f"the window did not score {ref[0].name} "
                                        f"({[(i.name, i.status, i.error) for i in items]})")
                    else:
                        got = float(scored[0].prediction.probability)
                        diff = abs(got - ref[1])
                        detail += f"; scored {ref[0].name}: p={got:.6f} (|diff| {diff:.2e})"
                        if not diff <= TOLERANCE:
                            problems.append(f"the window scored {ref[0].name} {got:.6f}, expected {ref[1]:.6f}")
            last_error = getattr(window, "last_error", ("", ""))
            if last_error and any(last_error):
                problems.append(f"the window showed an error: {last_error[0]}: {last_error[1]}")
        finally:
            window.close()  # stops the model service and workers
            window.deleteLater()
            qapp.processEvents()
        if problems:
            raise RuntimeError("; ".join(problems))
        return detail

    def _reference_file(self) -> Optional[tuple[Path, float]]:
        """(bundled sample, expected probability) from the bundled model's metadata, if known."""
        predictor = self.state.get("predictor")
        ref = predictor.info.meta.get("reference_sample") if predictor is not None else None
        if not ref:
            return None
        from .paths import samples_dir

        path = samples_dir() / ref.get("file", "")
        return (path, float(ref["probability"])) if path.is_file() and "probability" in ref else None

    # ---- report --------------------------------------------------------------------------
    def header(self) -> None:
        from . import __version__

        root = _bundle_root()
        self.out.line(f"XRay Viewer self-test - {datetime.now().astimezone().isoformat(timespec='seconds')}")
        self.out.line(f"app {__version__}; Python {platform.python_version()} ({platform.machine()}); "
                      f"{platform.platform()}")
        self.out.line(f"executable {sys.executable}; frozen: {'yes, ' + str(root) if root else 'no'}")
        self.out.line(f"temporary per-user folder (XRAYVIEWER_HOME): {self.state.get('home')}")
        self.out.line("")

    def footer(self, total_seconds: float) -> None:
        versions = dict(self.state.get("versions", {}))
        for mod in ("numpy", "PIL", "pydicom"):
            m = sys.modules.get(mod)
            if m is not None:
                versions[mod] = getattr(m, "__version__", "?")
        self.out.line("")
        self.out.line("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
        for name, tb in self.state.get("tracebacks", []):
            self.out.line(f"--- traceback of '{name}' ---")
            for ln in tb.splitlines():
                self.out.line("    " + ln)
        passed = sum(r.status == PASS for r in self.results)
        verdict = "PASSED" if self.ok else "FAILED"
        self.out.line(f"Self-test {verdict}: {passed}/{len(self.results)} steps in {total_seconds:.1f} s")


def run(keep_temp: bool = False, console: Optional[TextIO] = None) -> tuple[bool, str]:
    """Run every step; (all passed, report text). Restores XRAYVIEWER_HOME afterwards."""
    out = _Tee(console)
    test = SelfTest(out, keep_temp)
    previous_home = os.environ.get("XRAYVIEWER_HOME")
    home = Path(tempfile.mkdtemp(prefix="xrayviewer-selftest-"))
    os.environ["XRAYVIEWER_HOME"] = str(home)
    test.state["home"] = str(home)
    t0 = time.perf_counter()
    try:
        test.header()
        test.step("bundle layout", test.bundle_layout)
        # Before TensorFlow starts its threads, which also touch True's reference count.
        test.step("Qt signals", test.qt_signals)
        test.step("import tensorflow", test.import_tensorflow)
        test.step("load bundled model", test.load_bundled_model, needs=["import tensorflow"])
        test.step("score reference sample", test.score_reference, needs=["load bundled model"])
        test.step("train one step", test.train_tiny, needs=["import tensorflow"])
        test.step("reload trained model", test.reload_trained, needs=["train one step"])
        test.step("main window", test.main_window)
        test.footer(time.perf_counter() - t0)
    finally:
        test.state.pop("predictor", None)
        if previous_home is None:
            os.environ.pop("XRAYVIEWER_HOME", None)
        else:
            os.environ["XRAYVIEWER_HOME"] = previous_home
        if keep_temp:
            out.line(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    return test.ok, out.buffer.getvalue()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xrayviewer-gui --self-test",
                                description="Check that XRay Viewer works on this machine (no screen needed).")
    p.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--report", metavar="FILE", help="write the report here too (default: per-user log folder)")
    p.add_argument("--keep-temp", action="store_true", help="keep the temporary per-user folder")
    p.add_argument("--offscreen", action="store_true", help="force Qt's offscreen platform")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point: ``xrayviewer-gui --self-test [--report FILE] [--keep-temp] [--offscreen]``."""
    args, _unknown = _parser().parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from .paths import user_log_dir

    log_dir = user_log_dir()  # the real per-user folder (before the test's temporary home)
    console = _console()
    ok, report = run(keep_temp=args.keep_temp, console=console)
    targets = [log_dir / f"selftest-{datetime.now():%Y%m%d-%H%M%S}.txt"]
    if args.report:
        targets.append(Path(args.report))
    for target in targets:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(report, encoding="utf-8")
            if console is not None:
                console.write(f"report written to {target}\n")
                console.flush()
        except OSError as exc:
            if console is not None:
                console.write(f"could not write the report to {target}: {exc}\n")
    return 0 if ok else 1
