"""What fills the window's longest event-loop stall: the events and paints inside it.

    python -m benchmarks.stall_probe [--runs 3] [--model BUNDLE] [--films 20]

Opens the viewer on bench.py's 20-film folder (one full-resolution film, then 19 training
films; ``--films 500``: the folder of its ``gui500_*`` figures), once per run, each in a fresh process. The window's own timing probe
(``xrayviewer/gui/timing.py``, as bench.py reads it) finds the longest stall; this probe also
times every event the GUI thread handles at the top level (``QApplication.notify``: wall and
GUI-thread CPU time, its type and receiver) and every paint, resize and move inside them, and
prints those that fall inside that stall, then the run's longest events.

What it showed on 2026-12-07 (benchmarks/RESULTS.md): the longest stall is a worker's delivery
(the first film shown, 5-14 ms of CPU) followed by a repaint of the whole window (11-16 ms, the
worklist's rows 6-9 of them), and the GUI thread waits about as long again for the GIL or a
core. Timing every event through Python costs a little itself: read the parts here, and take
the stall figures from bench.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.bench import FULLRES, gui_folder, window_env

#: Top-level events shorter than this are not kept (most events take microseconds).
KEEP_MS = 0.5


def _describe(receiver) -> str:
    try:
        name = f"{type(receiver).__name__}:{receiver.objectName()}"
        if receiver.objectName().startswith("qt_scrollarea_"):  # whose: the worklist, the film, the column
            parent = receiver.parent()
            name += f" of {type(parent).__name__}" if parent is not None else ""
        return name
    except RuntimeError:  # its C++ side is already deleted (an animation that just ended)
        return "(deleted object)"


def _run_delay_reader():
    """A function giving this thread's time spent runnable but waiting for a core (ms, from
    /proc/thread-self/schedstat, Linux), or None where the kernel does not say. The gap between
    an event's wall and CPU time that this does not explain is time asleep: on the GUI thread
    inside an event, waiting for the GIL."""
    try:
        fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        os.pread(fd, 128, 0)
    except OSError:
        return None
    return lambda: int(os.pread(fd, 128, 0).split()[1]) / 1e6


def run_window(folder: str, model: str | None) -> dict:
    """One window, in this process; returns the timing probe's figures and the event log."""
    from PySide6.QtCore import QEvent

    from xrayviewer.gui import app as gui_app

    main_thread = threading.get_ident()
    run_delay = _run_delay_reader() or (lambda: 0.0)
    top: list[tuple] = []  # (start, wall ms, cpu ms, event type, receiver, ms waiting for a core)
    nested: list[tuple] = []  # (start, wall ms, cpu ms, what)
    depth = [0]
    watched = (QEvent.Type.Paint, QEvent.Type.Resize, QEvent.Type.Move)

    class TimedApplication(gui_app.XRayApplication):
        def notify(self, receiver, event):
            if threading.get_ident() != main_thread:
                return super().notify(receiver, event)
            kind = event.type()
            if depth[0]:
                if kind not in watched:
                    return super().notify(receiver, event)
                what = f"{kind.name} {_describe(receiver)}"
                if kind == QEvent.Type.Resize:
                    what += f" {event.oldSize().toTuple()} -> {event.size().toTuple()}"
                t, c = time.perf_counter(), time.thread_time()
                try:
                    return super().notify(receiver, event)
                finally:
                    nested.append((t, 1000 * (time.perf_counter() - t), 1000 * (time.thread_time() - c), what))
            depth[0] += 1
            t, c, q = time.perf_counter(), time.thread_time(), run_delay()
            name = kind.name  # read before delivery: the event may be gone after it
            try:
                return super().notify(receiver, event)
            finally:
                depth[0] -= 1
                wall = 1000 * (time.perf_counter() - t)
                if wall >= KEEP_MS:
                    top.append((t, wall, 1000 * (time.thread_time() - c), name, _describe(receiver),
                                run_delay() - q))

    qt_app = TimedApplication([sys.argv[0]])  # the window's main() finds and uses it
    args = ["--no-single-instance", folder] + (["--model", model] if model else [])
    rc = gui_app.main(args)
    del qt_app
    figures = json.loads(Path(os.environ["XRAYVIEWER_TIMING_FILE"]).read_text())
    offset = time.time() - time.perf_counter()  # perf_counter -> epoch seconds
    t0 = float(os.environ["XRAYVIEWER_T0"])
    return {"rc": rc, "figures": figures,
            "top": [(s + offset - t0, *rest) for s, *rest in top],
            "nested": [(s + offset - t0, *rest) for s, *rest in nested]}


def report(result: dict) -> str:
    f = result["figures"]
    lines = [f"longest stall {f['max_stall_ms']:.0f} ms (GUI thread busy {f['stall_busy_ms']:.1f} ms of it), "
             f"ending {f['max_stall_at_s']:.3f} s after launch; first probability {f['first_probability_s']:.3f} s"]
    end = f["max_stall_at_s"]
    start = end - (f["max_stall_ms"] + 10) / 1000  # the stall and the 10 ms tick it delayed
    lines.append("  top-level events inside it (start in ms from the stall's start, wall ms, GUI-thread CPU ms, "
                 "ms runnable but waiting for a core; the rest of the wall: asleep, for the GIL):")
    for s, wall, cpu, kind, who, queued in result["top"]:
        if start - 0.002 <= s <= end:
            lines.append(f"    +{1000 * (s - start):6.1f}  {wall:6.1f} wall {cpu:6.1f} cpu {queued:5.1f} queued  "
                         f"{kind:<16} {who}")
    inside = [r for r in result["nested"] if start - 0.002 <= r[0] <= end]
    moves = sum(1 for r in inside if r[3].startswith("Move"))
    lines.append(f"  paints (>= 0.3 ms of CPU) and resizes inside it ({moves} widgets moved too):")
    for s, wall, cpu, what in inside:
        if (what.startswith("Paint") and cpu >= 0.3) or what.startswith("Resize"):
            lines.append(f"    +{1000 * (s - start):6.1f}  {wall:6.1f} wall {cpu:6.1f} cpu  {what}")
    lines.append("  the run's longest top-level events:")
    for s, wall, cpu, kind, who, queued in sorted(result["top"], key=lambda r: -r[1])[:8]:
        lines.append(f"    at {s:6.3f} s  {wall:6.1f} wall {cpu:6.1f} cpu {queued:5.1f} queued  {kind:<16} {who}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--model", help="model bundle (.keras; default: the bundled model)")
    ap.add_argument("--films", type=int, default=20, help="the folder's size (bench.py: 20, and 500 for gui500_*)")
    ap.add_argument("--child", metavar="FOLDER", help=argparse.SUPPRESS)  # one window, in this process
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_window(args.child, args.model)))
        return 0
    if not FULLRES.exists():
        print(f"benchmark data missing: {FULLRES}", file=sys.stderr)
        return 2
    folder = gui_folder(args.films)
    try:
        for i in range(args.runs):
            env = window_env(Path(tempfile.mkdtemp()) / "timing.json")
            env.pop("PYTHONDONTWRITEBYTECODE", None)  # as bench.py: an installed app runs compiled bytecode
            cmd = [sys.executable, "-m", "benchmarks.stall_probe", "--child", str(folder)]
            if args.model:
                cmd += ["--model", str(Path(args.model).resolve())]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300,
                                  cwd=Path(__file__).resolve().parent.parent)
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
            result = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"== run {i + 1}: {report(result)}", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
