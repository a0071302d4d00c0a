"""Start-up and responsiveness figures for benchmarks/bench.py.

Active only when ``XRAYVIEWER_TIMING_FILE`` is set: records seconds from process start
(``XRAYVIEWER_T0``, the launcher's ``time.time()``) to the window being shown and to the
first probability on screen, and the longest gap between ticks of a 10 ms timer (an
event-loop stall) until every image is scored; writes them as JSON and quits.

Beside each stall's length it records how much of it the GUI thread spent on the CPU
(``max_busy_ms``, the most GUI-thread CPU time between two ticks, and ``stall_busy_ms``, that
of the longest stall): a stall the window caused is busy time; one where the thread sat
waiting (for the GIL held by a worker thread, or for a core on a loaded machine) is not.
"""

from __future__ import annotations

import json
import os
import time
from typing import Optional

from PySide6.QtCore import QElapsedTimer, QEvent, QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication

TICK_MS = 10


class TimingProbe(QObject):
    def __init__(self, window, out_path: str, t0: float):
        super().__init__(window)
        self.window, self.out_path, self.t0 = window, out_path, t0
        self.result: dict[str, Optional[float]] = {"window_shown_s": None, "first_probability_s": None,
                                                  "all_scored_s": None, "max_stall_ms": 0.0,
                                                  "stall_busy_ms": 0.0, "max_busy_ms": 0.0}
        self._cpu = 0.0  # the GUI thread's CPU time at the last tick; set when ticking starts
        self._clock = QElapsedTimer()
        self._ticker = QTimer(self)
        self._ticker.setInterval(TICK_MS)
        self._ticker.timeout.connect(self._tick)
        window.probability_panel.predictionShown.connect(self._on_prediction)
        window.controller.settled.connect(self._on_settled)

    def window_shown(self) -> None:
        """Call right after ``window.show()``: the mark is taken once the window's first paint
        has been processed (the first frame a reader can see). Until 2026-12-06 it was taken on
        the next event-loop turn after ``show()``, which comes before that paint: the first
        frame (20-40 ms on the reference machine) then counted as an event-loop stall instead
        of as start-up time."""
        self.window.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Paint:
            self.window.removeEventFilter(self)
            QTimer.singleShot(0, self._mark_shown)  # after this paint is done
        return False

    @Slot()
    def _mark_shown(self) -> None:
        self.result["window_shown_s"] = time.time() - self.t0
        self._clock.start()
        self._cpu = time.thread_time()
        self._ticker.start()

    @Slot()
    def _tick(self) -> None:
        gap = float(self._clock.restart() - TICK_MS)
        cpu = time.thread_time()
        busy = 1000.0 * (cpu - self._cpu)
        self._cpu = cpu
        self.result["max_busy_ms"] = max(self.result["max_busy_ms"] or 0.0, busy)
        if gap > (self.result["max_stall_ms"] or 0.0):
            self.result["max_stall_ms"] = gap
            self.result["stall_busy_ms"] = busy
            self.result["max_stall_at_s"] = time.time() - self.t0  # when it ended: what caused it

    @Slot(object)
    def _on_prediction(self, _prediction) -> None:
        if self.result["first_probability_s"] is None:
            self.result["first_probability_s"] = time.time() - self.t0

    @Slot()
    def _on_settled(self) -> None:
        if self.result["first_probability_s"] is None or self.result["all_scored_s"] is not None:
            return
        self.result["all_scored_s"] = time.time() - self.t0
        self._ticker.stop()
        with open(self.out_path, "w", encoding="utf-8") as fh:
            json.dump(self.result, fh)
        self.window.close()
        QApplication.instance().exit(0)


def probe_from_environment(window) -> Optional[TimingProbe]:
    path = os.environ.get("XRAYVIEWER_TIMING_FILE")
    if not path:
        return None
    return TimingProbe(window, path, float(os.environ.get("XRAYVIEWER_T0", time.time())))
