"""XRay Viewer benchmarks: start-up, model load, latency, throughput, memory.

    python -m benchmarks.bench [--model FILE] [--repeats N] [--skip-train] [--skip-gui]

Each figure is the median of several runs (peak memory: the largest); heavy parts run in
fresh subprocesses so that import costs and peak memory are measured cold and separately.
The last line printed is one JSON object with every figure. Targets on the 2-core reference
machine (issue 15): predict_cli_one_file_s <= 0.8, predict_ms_fullres <= 10,
predict_img_s >= 500 (the 224 px training files), predict_peak_rss_mb and gui_peak_rss_mb
(the scoring process) <= 250, gui_first_probability_s <= 1.0, gui_max_stall_ms <= 16;
training memory flat when the dataset doubles.

Which code is measured is whatever ``import xrayviewer`` finds: point PYTHONPATH at another
checkout to measure it with this same script (before/after comparisons). The data folder is
``$XRAYVIEWER_DATA``, else the first ``shared/data`` found above the repository
(``benchmarks.common.data_dir``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Optional

from .common import data_dir

DATA = data_dir()
# Subprocesses start here, not in REPO: a child's sys.path begins with its working folder,
# which would shadow a checkout named by PYTHONPATH.
NEUTRAL_CWD = tempfile.gettempdir()
FULLRES = DATA / "fullres" / "NORMAL" / "IM-0286-0001.jpeg"  # 1,982 x 1,804 px
TRAIN_DIR = DATA / "chest_xray" / "train"


def run_py(code: str, env_extra: dict | None = None, timeout: int = 900) -> dict:
    """Run ``code`` in a fresh interpreter; it must print one JSON object as its last line."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **(env_extra or {}))
    out = subprocess.run([sys.executable, "-c", _RUNTIME + textwrap.dedent(code)], capture_output=True, text=True,
                         env=env, timeout=timeout, cwd=NEUTRAL_CWD)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# Prepended to every step: ``import_runtime()`` imports what will run the network in the
# checkout under test (LiteRT where it has model/networks.py and the backend is not Keras;
# TensorFlow/Keras otherwise), so model_load_s means "load, runtime already imported" in both.
_RUNTIME = textwrap.dedent("""
    def import_runtime():
        import importlib.util, os
        if importlib.util.find_spec("xrayviewer.model.networks") and os.environ.get("XRAYVIEWER_BACKEND") != "keras":
            from ai_edge_litert.interpreter import Interpreter
            return "litert"
        from xrayviewer.model.runtime import import_keras; import_keras()
        return "keras"
""")


_MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
out = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
wall = time.perf_counter() - t
print(json.dumps({"rc": out.returncode, "wall": wall, "stdout": out.stdout.decode(errors="replace")[-2000:],
                  "rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def wait_with_peak_rss(cmd: list, env: dict, timeout: float) -> tuple[int, float, float, str]:
    """Run ``cmd``; (exit code, wall seconds, peak RSS in MB of it and its waited-for children
    (a model process the GUI spawned counts), stdout). A small wrapper process runs it, so
    that the wrapper's RUSAGE_CHILDREN holds that one command alone."""
    r = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], env=env, capture_output=True, text=True,
                       timeout=timeout, cwd=NEUTRAL_CWD)
    m = json.loads(r.stdout.strip().splitlines()[-1])
    return m["rc"], m["wall"], m["rss"], m["stdout"]


def bench_cli_predict(repeats: int, model: Optional[str] = None) -> dict:
    """One film, end to end, as a user runs it: ``xrayviewer predict FILE`` from a cold
    process (interpreter start, imports, model load, decode, score, CSV), with the
    bench's --model when one is given, so that every figure describes the same bundle."""
    walls, rss = [], []
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    cmd = [sys.executable, "-m", "xrayviewer", "predict", str(FULLRES)]
    if model:
        cmd[4:4] = ["--model", model]
    for _ in range(repeats):
        rc, wall, peak, out = wait_with_peak_rss(cmd, env, 300)
        if rc != 0 or FULLRES.name not in out:
            raise RuntimeError(f"xrayviewer predict failed (exit {rc})")
        walls.append(wall)
        rss.append(peak)
    return {"predict_cli_one_file_s": round(statistics.median(walls), 3),
            "predict_cli_peak_rss_mb": round(max(rss), 1)}


def bench_cli_import(repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        r = run_py("""
            import sys, time, json
            t = time.perf_counter(); import xrayviewer.cli; dt = time.perf_counter() - t
            print(json.dumps({"s": dt, "tf": "tensorflow" in sys.modules}))
        """)
        assert not r["tf"], "importing the CLI imported TensorFlow"
        times.append(r["s"])
    return {"cli_import_s": round(statistics.median(times), 4)}


def bench_predict(model: str | None, repeats: int) -> dict:
    files = sorted(str(p) for p in (TRAIN_DIR / "PNEUMONIA").glob("*.jpeg"))[:200]
    files += sorted(str(p) for p in (TRAIN_DIR / "NORMAL").glob("*.jpeg"))[:56]
    r = run_py(f"""
        import json, resource, statistics, time
        t = time.perf_counter()
        runtime = import_runtime()
        runtime_import = time.perf_counter() - t
        from xrayviewer.model import Predictor
        from xrayviewer.imaging import load_image
        t = time.perf_counter(); p = Predictor.load({model!r}); load = time.perf_counter() - t
        path = {str(FULLRES)!r}
        for _ in range(3):
            p.predict_image(load_image(path))  # warm-up: first calls trace the graph
        lat = []
        for _ in range(max(15, {repeats} * 5)):
            t = time.perf_counter(); p.predict_image(load_image(path)); lat.append(time.perf_counter() - t)
        files = {files!r}
        p.predict_files(files[:32])
        tput = []
        for _ in range({repeats}):
            t = time.perf_counter(); res = p.predict_files(files); tput.append(len(files) / (time.perf_counter() - t))
        assert all(r.prediction is not None for r in res)
        print(json.dumps({{"runtime_import_s": runtime_import, "model_load_s": load,
                          "predict_ms_fullres": 1000 * statistics.median(lat),
                          "predict_img_s": statistics.median(tput),
                          "predict_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
    """)
    r = {k: round(v, 3) for k, v in r.items()}
    r["predict_runtime"] = run_py("""
        import json; from xrayviewer.model import Predictor; p = Predictor.load()
        print(json.dumps({"r": getattr(p, "runtime", "keras")}))
    """)["r"]
    return r


def bench_tf_import() -> dict:
    """TensorFlow + Keras import alone: what training and the Keras fallback pay first."""
    return {"tf_import_s": round(run_py("""
        import json, time; t = time.perf_counter()
        from xrayviewer.model.runtime import import_keras; import_keras()
        print(json.dumps({"s": time.perf_counter() - t}))
    """)["s"], 3)}


def bench_model_load(model: str | None, repeats: int) -> dict:
    loads = []
    for _ in range(repeats):
        r = run_py(f"""
            import json, time
            import_runtime()
            from xrayviewer.model import Predictor
            t = time.perf_counter(); Predictor.load({model!r}); print(json.dumps({{"s": time.perf_counter() - t}}))
        """)
        loads.append(r["s"])
    return {"model_load_s": round(statistics.median(loads), 3)}


def bench_train(recipe: str, images: int, steps: int) -> dict:
    """Training throughput and peak memory of ``recipe`` streaming ``images`` cached inputs."""
    return run_py(f"""
        import json, resource, time, os
        import numpy as np
        from xrayviewer.training import scan_dataset, get_recipe
        from xrayviewer.training.cache import build_cache
        from xrayviewer.training.sequence import training_batches
        from xrayviewer.model.architectures import build_model
        from xrayviewer.model.runtime import import_keras
        keras = import_keras()
        scan = scan_dataset({str(TRAIN_DIR.parent)!r}, verify=False)
        samples = scan.samples[:: max(1, len(scan.samples) // {images})][:{images}]
        cache, ok, bad = build_cache(samples, os.environ["BENCH_CACHE"])
        r = get_recipe({recipe!r})
        labels = np.array([samples[i].label for i in ok], np.float32)
        seq = training_batches(r, cache, ok, labels)
        from xrayviewer.training.fast_step import fast_training_step
        m = build_model(r.network)
        m.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
        with fast_training_step(m, enabled=r.fast_step):  # the step fit() would take for this recipe
            m.fit(seq, epochs=1, steps_per_epoch=3, verbose=0)  # warm-up / tracing
            steps = min({steps}, len(seq))
            t = time.perf_counter(); m.fit(seq, epochs=1, steps_per_epoch=steps, verbose=0); dt = time.perf_counter() - t
            # one full pass over the data, so that memory would show any growth with dataset size
            m.fit(seq, epochs=1, verbose=0)
        print(json.dumps({{"img_s": steps * r.batch_size / dt,
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
    """, env_extra={"BENCH_CACHE": tempfile.mkdtemp(prefix="xv-bench-cache-")}, timeout=3600)


#: A folder dropped whole: its rows, hashes and scores arrive in bursts the 20-film one hides.
BIG_FOLDER = 500


def gui_folder(films: int = 20) -> Path:
    """The window benchmarks' folder: one full-resolution film first, then training films
    (pneumonia; a folder larger than 20, 4 pneumonia to 1 normal)."""
    folder = Path(tempfile.mkdtemp(prefix="xv-bench-gui-"))
    rest = films - 1
    normals = 0 if films == 20 else rest // 5  # the 20-film folder stays as earlier sessions measured it
    picks = (sorted((TRAIN_DIR / "PNEUMONIA").glob("*.jpeg"))[:rest - normals]
             + sorted((TRAIN_DIR / "NORMAL").glob("*.jpeg"))[:normals])
    for p in picks:
        (folder / p.name).write_bytes(p.read_bytes())
    first = folder / ("0000_" + FULLRES.name)
    first.write_bytes(FULLRES.read_bytes())
    return folder


def window_env(timing: Path) -> dict:
    """The environment of one measured window: its timing probe writes to ``timing``
    (xrayviewer/gui/timing.py), a fresh per-user folder, no screen needed."""
    return dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                XRAYVIEWER_TIMING_FILE=str(timing), XRAYVIEWER_T0=repr(time.time()),
                XRAYVIEWER_HOME=tempfile.mkdtemp(prefix="xv-bench-home-"), TF_CPP_MIN_LOG_LEVEL="2")


def bench_gui(model: str | None, repeats: int, films: int = 20) -> dict:
    """Process start -> window shown / first probability, and the longest event-loop stall
    while the model loads and scores a folder of ``films`` (20: keys ``gui_*``; otherwise
    ``gui{films}_*``): one full-resolution film first, then training films (pneumonia; a larger
    folder 4 pneumonia to 1 normal). The app reports these when XRAYVIEWER_TIMING_FILE is set (xrayviewer/gui/timing.py)."""
    folder = gui_folder(films)
    shown, prob, stall, busy, rss = [], [], [], [], []
    for _ in range(repeats):
        timing = Path(tempfile.mkdtemp()) / "timing.json"
        env = window_env(timing)
        cmd = [sys.executable, "-m", "xrayviewer.gui.app", "--no-single-instance", str(folder)]
        if model:
            cmd[3:3] = ["--model", model]
        rc, _, peak, _ = wait_with_peak_rss(cmd, env, 300)
        if rc != 0:
            raise RuntimeError(f"the viewer exited with {rc}")
        t = json.loads(timing.read_text())
        shown.append(t["window_shown_s"])
        prob.append(t["first_probability_s"])
        stall.append(t["max_stall_ms"])
        busy.append(t["max_busy_ms"])
        rss.append(peak)
    tag = "gui" if films == 20 else f"gui{films}"
    return {f"{tag}_window_shown_s": round(statistics.median(shown), 3),
            f"{tag}_first_probability_s": round(statistics.median(prob), 3),
            f"{tag}_max_stall_ms": round(statistics.median(stall), 1),
            # The GUI thread's own CPU time in its busiest tick: what the window's code costs,
            # without the waits for a core that make the stall swing 20-60 ms run to run.
            f"{tag}_max_busy_ms": round(statistics.median(busy), 1),
            # the viewer and any model process it started and joined: whoever scores
            f"{tag}_peak_rss_mb": round(max(rss), 1)}


def compare(checkouts: list[str], rounds: int, model: Optional[str], gui: bool, train_images: int = 0) -> dict:
    """Measure several checkouts turn by turn (A, B, C, C, B, A, ...), so that a shared,
    noisy machine loads them alike; per checkout, the median of its rounds (peak memory: the
    largest). A checkout is a folder put first on PYTHONPATH ("installed": none).
    ``train_images``: also one training-throughput run of ``default`` a round on that many
    cached films (``train_img_s_default``; 0: none)."""
    per: dict[str, list[dict]] = {c: [] for c in checkouts}
    saved = os.environ.get("PYTHONPATH")
    try:
        for r in range(rounds):
            # The order turns every round: the tree run second meets a machine still busy with the
            # first (2026-12-07: a tree always run second took 1.09 s against 0.81 s to a first
            # probability in a 500-film window; with the order alternating, 0.80 against 0.76 s).
            for c in (checkouts if r % 2 == 0 else checkouts[::-1]):
                if c == "installed":
                    os.environ.pop("PYTHONPATH", None)
                else:
                    os.environ["PYTHONPATH"] = str(Path(c).resolve())
                one: dict = {}
                one.update(bench_cli_import(1))
                one.update(bench_cli_predict(1, model))
                one.update(bench_predict(model, 1))
                if gui:
                    one.update(bench_gui(model, 1))
                    one.update(bench_gui(model, 1, films=BIG_FOLDER))
                if train_images:
                    t = bench_train("default", train_images, steps=40)
                    one["train_img_s_default"] = round(t["img_s"], 1)
                    one[f"train_peak_rss_mb_default_{train_images}"] = round(t["peak_rss_mb"], 1)
                per[c].append(one)
                print(f"round {r + 1} {c}:", json.dumps(one), flush=True)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    out = {}
    for c, runs in per.items():
        summary = {}
        for key in runs[0]:
            values = [run[key] for run in runs]
            if not isinstance(values[0], (int, float)):
                summary[key] = values[0]
            elif "rss" in key:
                summary[key] = max(values)
            else:
                summary[key] = round(statistics.median(values), 3)
        out[c] = summary
    return out


def measure_as_installed(checkouts: list[str]) -> None:
    """Measure what a user runs: an installed app imports compiled bytecode (pip compiles at
    install, PyInstaller bundles it). With PYTHONDONTWRITEBYTECODE set (this machine sets it)
    every child process would compile every module it imports, on each run, adding ~0.1-0.3 s
    to start-up and event-loop stalls to the window's first lazy imports. The variable is
    dropped for the children and each measured checkout is compiled once, before any timing."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for c in checkouts:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if c != "installed":
            env["PYTHONPATH"] = str(Path(c).resolve())
        subprocess.run([sys.executable, "-c", "import compileall, os, xrayviewer; "
                        "compileall.compile_dir(os.path.dirname(xrayviewer.__file__), quiet=1)"],
                       env=env, cwd=NEUTRAL_CWD, check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", nargs="+", metavar="CHECKOUT",
                    help="measure these checkouts (folders, or 'installed') turn by turn, --repeats rounds: "
                         "one-file predict, latency, throughput, memory and (unless --skip-gui) the window")
    ap.add_argument("--model", help="model .keras (default: the bundled model)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--skip-gui", action="store_true")
    ap.add_argument("--train-images", type=int, default=1000, help="N for the memory check (2N is run too)")
    ap.add_argument("--train-recipes", nargs="+", default=["default", "seed"], metavar="RECIPE",
                    help="recipes whose training throughput is measured (train_img_s_<recipe>)")
    args = ap.parse_args()
    if args.model:
        # The measured commands run from a neutral folder, so a path relative to the
        # caller's folder must be made absolute here or they would not find the bundle.
        model = Path(args.model).expanduser()
        if not model.is_file():
            print(f"no model bundle at {model}", file=sys.stderr)
            return 2
        args.model = str(model.resolve())
    if not FULLRES.exists():
        print(f"benchmark data missing: {FULLRES}", file=sys.stderr)
        return 2
    measure_as_installed(args.compare or ["installed"])
    if args.compare:
        print(json.dumps(compare(args.compare, args.repeats, args.model, not args.skip_gui,
                                 0 if args.skip_train else args.train_images)))
        return 0
    results: dict = {"cpu_count": os.cpu_count()}
    results.update(bench_cli_import(args.repeats))
    results.update(bench_cli_predict(args.repeats, args.model))
    print("cli:", results, flush=True)
    results.update(bench_predict(args.model, args.repeats))
    results.update(bench_tf_import())
    results.update(bench_model_load(args.model, max(3, args.repeats // 2)))
    print("prediction:", results, flush=True)
    if not args.skip_train:
        # 40 steps take 15-25 s, and single runs of the same code measured 62-86 img/s on
        # one morning: the throughput is the median of several runs, memory their maximum.
        runs = max(3, args.repeats // 2)
        for recipe in args.train_recipes:
            ns = [bench_train(recipe, args.train_images, steps=40) for _ in range(runs)]
            results[f"train_img_s_{recipe}"] = round(statistics.median(n["img_s"] for n in ns), 1)
            results[f"train_peak_rss_mb_{recipe}_{args.train_images}"] = round(max(n["peak_rss_mb"] for n in ns), 1)
            print(f"train {recipe}:", [round(n["img_s"], 1) for n in ns], flush=True)
        n2 = bench_train("default", 2 * args.train_images, steps=40)
        results[f"train_peak_rss_mb_default_{2 * args.train_images}"] = round(n2["peak_rss_mb"], 1)
    if not args.skip_gui:
        try:
            results.update(bench_gui(args.model, max(3, args.repeats // 2)))
            results.update(bench_gui(args.model, max(3, args.repeats // 2), films=BIG_FOLDER))
        except Exception as exc:  # report, don't hide: the GUI figure is then missing
            results["gui_error"] = str(exc)[-500:]
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
