"""The reader's own reads in the window: P/N/U per case, an optional note, the audit log.

:class:`ReadingSession` connects the worklist to :class:`xrayviewer.reads.ReadsLog`: it hashes
newly opened files off the GUI thread (a case is its file's SHA-256, so a read made last week
shows again when the same film is reopened from another folder), records reads and the events
an audit needs (model switches, trainings, exports), and answers "what is this row's read?".
:class:`ReadBar` is the one-line strip under the film that shows the current read and holds
the note field. :class:`ReadingWindow` is the main window's side of it (actions, dialogs).
"""

from __future__ import annotations

import logging
import os
from functools import partial
from typing import Optional, Sequence

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QInputDialog, QLabel, QLineEdit, QWidget

from ..progress import check_cancel, no_progress
from ..reads import ReadsLog, ReadsLogError, file_sha256
from ..reads.export import export_reads
from ..reads.log import NOTE_MAX, READ_WORDS
from . import case_snapshot
from .background import BackgroundTasks
from .worklist import DONE, ERROR

log = logging.getLogger(__name__)


def hash_files(items: Sequence[tuple[int, str]], on_progress=no_progress, should_cancel=None) -> dict[int, str]:
    """{key: SHA-256} of each readable file (unreadable ones are left out: their row says why)."""
    out = {}
    for key, path in items:
        check_cancel(should_cancel)
        if not os.path.isfile(path):  # a pipe blocks the reader, a device (/dev/zero) never ends
            continue
        try:
            out[key] = file_sha256(path)
        except OSError:
            continue
    return out


class _LogOpening:
    """The reads log, opened by a background task. ``result()`` waits for it: the ReadsLog,
    its ReadsLogError raised, or None if the task never ran (shut down first). The connection
    is made on the worker and handed over."""

    def __init__(self, background: BackgroundTasks, log_path):
        self._outcome: dict = {}
        self._task = background.start(partial(self._open, log_path), kind="open reads log")

    def _open(self, log_path, on_progress=None, should_cancel=None) -> None:
        try:
            self._outcome["log"] = ReadsLog(log_path, handed_over=True)
        except ReadsLogError as exc:  # handed to whoever asks for the log
            self._outcome["error"] = exc

    def result(self) -> Optional[ReadsLog]:
        self._task.wait()
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome.get("log")


class ReadingSession(QObject):
    """Reads and audit events of one window. ``readChanged(key)`` fires when a row's read changes."""

    readChanged = Signal(int)
    logFailed = Signal(str)

    def __init__(self, controller, settings, log_path=None, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.controller, self.settings = controller, settings
        self._log_path = log_path
        self._log: Optional[ReadsLog] = None
        self.background = BackgroundTasks(self, name="hash")
        # Opening (on a first run, creating) the log costs 10-80 ms of disk work; the first
        # event (the model loading) would pay it on the GUI thread, a stall while films arrive.
        self._log_opening: Optional[_LogOpening] = _LogOpening(self.background, log_path)
        worklist = controller.worklist
        worklist.rowsInserted.connect(self._on_rows_inserted)
        controller.modelChanged.connect(self._on_model_changed)

    # ---- the log ----------------------------------------------------------------------
    @property
    def reader(self) -> str:
        return self.settings.reader_name

    def _open_log(self) -> Optional[ReadsLog]:
        if self._log is None:
            opening, self._log_opening = self._log_opening, None
            try:
                # The background opening once (done by now, or nearly); a retry, or an opening
                # that never ran, opens here.
                log = opening.result() if opening is not None else None
                self._log = log if log is not None else ReadsLog(self._log_path)
            except ReadsLogError as exc:
                self.logFailed.emit(str(exc))
                return None
        return self._log

    def shutdown(self) -> None:
        if self._log_opening is not None:  # never used: close what the background opened
            try:
                log = self._log_opening.result()
            except ReadsLogError:
                log = None
            if log is not None:  # an opening that never ran leaves nothing to close
                log.close()
            self._log_opening = None
        self.background.shutdown()
        if self._log is not None:
            self._log.close()
            self._log = None

    def record_event(self, kind: str, details: Optional[dict] = None, info=None) -> None:
        """Append an audit event (never fails the user's action: a log error is reported)."""
        db = self._open_log()
        if db is None:
            return
        info = info if info is not None else self.controller.active_model
        try:
            db.record_event(kind, reader=self.reader, details=details,
                            model_name=getattr(info, "name", None),
                            model_sha256=(getattr(info, "meta", None) or {}).get("sha256"))
        except ReadsLogError as exc:
            self.logFailed.emit(str(exc))

    # ---- hashing rows as they arrive --------------------------------------------------
    @Slot(QModelIndex, int, int)
    def _on_rows_inserted(self, _parent, first: int, last: int) -> None:
        items = self.controller.worklist.items()[first:last + 1]
        self.background.start(partial(hash_files, [(i.key, i.path) for i in items]), done=self._on_hashed)

    def _on_hashed(self, hashes: dict) -> None:
        worklist = self.controller.worklist
        db = self._open_log()
        current = {}
        if db is not None:
            try:
                current = db.current_reads(hashes.values())
            except ReadsLogError as exc:
                self.logFailed.emit(str(exc))
        # One change notice for the batch, for the rows whose read moved (the hash itself is not
        # shown), and readChanged only for those: a 500-film folder used to re-sort the list and
        # refresh the read bar 500 times in one event-loop turn (33-84 ms of the GUI thread).
        changes, moved = [], []
        for key, sha in hashes.items():
            item = worklist.item(key)
            if item is None:  # removed from the list while its file was hashed
                continue
            record = current.get(sha)
            read, note = (record.read, record.note) if record else ("", "")
            fields = {"image_sha256": sha}
            if (read, note) != (item.read, item.read_note):
                fields.update(read=read, read_note=note)
                moved.append(key)
            changes.append((key, fields))
        worklist.update_many(changes)
        for key in moved:
            self.readChanged.emit(key)

    # ---- reads ------------------------------------------------------------------------
    def current_record(self, image_sha256: str):
        """The latest read of a case from the log (None: never read, or the log is unusable)."""
        db = self._open_log() if image_sha256 else None
        if db is None:
            return None
        try:
            return db.current_reads([image_sha256]).get(image_sha256)
        except ReadsLogError as exc:
            self.logFailed.emit(str(exc))
            return None

    def read_of(self, key: Optional[int]) -> tuple[str, str]:
        item = self.controller.worklist.item(key) if key is not None else None
        return (item.read, item.read_note) if item is not None else ("", "")

    def record(self, code: str, note: Optional[str] = None, key: Optional[int] = None) -> bool:
        """Record ``code`` (P/N/U) for row ``key`` (default: the one shown). ``note=None``
        keeps the row's current note when only the read changes. Returns True if logged."""
        key = self.controller.current_key if key is None else key
        item = self.controller.worklist.item(key) if key is not None else None
        if item is None:
            self.controller.view.show_status("Open an image first: a read belongs to a case.")
            return False
        if item.status == ERROR:
            self.controller.view.show_status(f"No read recorded: {item.name} could not be shown.")
            return False
        if not item.image_sha256:
            try:
                item.image_sha256 = file_sha256(item.path)  # opened a moment ago, not hashed yet
            except OSError as exc:
                self.controller.view.show_status(f"Cannot record a read: {item.name} cannot be read ({exc.strerror}).")
                return False
        db = self._open_log()
        if db is None:
            return False
        note = item.read_note if note is None and code == item.read else (note or "")
        info = self.controller.active_model
        prediction = item.prediction if item.status == DONE else None
        try:
            db.record_read(reader=self.reader, image_sha256=item.image_sha256, file_name=item.path, read=code,
                           note=note, prediction=prediction, model_name=getattr(info, "name", None),
                           model_sha256=(getattr(info, "meta", None) or {}).get("sha256") if prediction else None)
        except ReadsLogError as exc:
            self.logFailed.emit(str(exc))
            return False
        changed = f" (was {item.read})" if item.read and item.read != code else ""
        self.controller.worklist.update(key, read=code, read_note=note)
        self.readChanged.emit(key)
        self.controller.view.show_status(f"Read {code} ({READ_WORDS[code]}){changed} recorded for {item.name}"
                                         + (f", note: {note}" if note else "") + ".")
        return True

    def export(self, path: str, since: Optional[str] = None) -> int:
        """File > Export Reads...: the same CSV as ``xrayviewer reads export``."""
        db = self._open_log()
        if db is None:
            raise ReadsLogError("The reads log cannot be opened.")
        n = export_reads(db, path, since=since)
        self.record_event("export-reads", {"rows": n, "since": since, "via": "window"})
        return n

    @Slot(object)
    def _on_model_changed(self, info) -> None:
        if info is not None:
            self.record_event("model-switch", {"display_name": info.display_name, "threshold": info.threshold},
                              info=info)


class ReadBar(QWidget):
    """'Your read: P (pneumonia)' plus the note field (E to edit, Enter to keep, Esc to leave)."""

    noteSubmitted = Signal(str)
    noteAbandoned = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        self.label = QLabel("")
        self.label.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.label)
        self.note = QLineEdit()
        self.note.setMaxLength(NOTE_MAX)
        self.note.setPlaceholderText("Note (optional): press E, type, Enter")
        self.note.setClearButtonEnabled(True)
        self.note.returnPressed.connect(lambda: self.noteSubmitted.emit(self.note.text().strip()))
        lay.addWidget(self.note, 1)
        self.show_read("", "", has_case=False)

    def show_read(self, read: str, note: str, has_case: bool = True) -> None:
        if not has_case:
            text = "Your read: open a case, then P pneumonia · N no pneumonia · U unsure"
        elif read:
            text = (f"Your read: <b>{read}</b> ({READ_WORDS[read]}) "
                    "<span style='color:#999'>· P · N · U to change</span>")
        else:
            text = ("Your read: <i>none yet</i> "
                    "<span style='color:#999'>· P pneumonia · N no pneumonia · U unsure</span>")
        self.label.setText(text)
        if not self.note.hasFocus():
            self.note.setText(note)
        self.note.setEnabled(has_case)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self.note.hasFocus():
            self.noteAbandoned.emit()
            return
        super().keyPressEvent(event)

    def edit_note(self) -> None:
        self.note.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.note.selectAll()


class ReadingWindow:
    """The main window's side of the reads (a mixin of gui.main_window.MainWindow, which provides
    ``controller``, ``settings``, ``image_view``, ``worklist_view``, ``read_bar``, ``show_status``,
    ``show_error`` and ``_start_dir``)."""

    def attach_reading(self, controller) -> None:
        self.reading = ReadingSession(controller, self.settings, parent=self)
        self.reading.logFailed.connect(lambda message: self.show_error("Reads log", message))
        self.reading.readChanged.connect(self._show_read)
        self.worklist_view.currentKeyChanged.connect(self._show_read)
        self.read_bar.noteSubmitted.connect(self._submit_note)
        self.read_bar.noteAbandoned.connect(self._leave_note)

    def add_reading_actions(self, a) -> None:
        """File > Export Reads/Snapshot, Preferences, and the read keys (``a`` is the window's
        action factory)."""
        a("export_reads", "Export &Reads…", self.choose_reads_file, ["Ctrl+Shift+E"],
          tip="Your P/N/U reads as CSV (also usable as labels for evaluate/calibrate --labels)")
        a("export_snapshot", "Export Case &Snapshot…", self.choose_snapshot_file, ["Ctrl+Shift+S"],
          tip="The film as shown with the model's answer and your read; no patient identifiers")
        # StandardKey.Preferences is empty on Linux and Windows; Ctrl+, is what most apps use there.
        standard = QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
        a("preferences", "Pr&eferences…", self.show_preferences,
          [QKeySequence.StandardKey.Preferences] if standard else ["Ctrl+,"])
        a("read_p", "Read: &Pneumonia (P)", lambda: self.record_read("P"), ["P"])
        a("read_n", "Read: &No Pneumonia (N)", lambda: self.record_read("N"), ["N"])
        a("read_u", "Read: &Unsure (U)", lambda: self.record_read("U"), ["U"])
        a("read_note", "&Edit Note of the Read", self.read_bar.edit_note, ["E"])

    def record_read(self, code: str) -> None:
        self.reading.record(code, note=self.read_bar.note.text().strip())

    def _show_read(self, *_args) -> None:
        key = self.controller.current_key if self.controller else None
        if key is None and self.worklist_view is not None:
            key = self.worklist_view.current_key()
        read, note = self.reading.read_of(key)
        self.read_bar.show_read(read, note, has_case=key is not None)

    def _submit_note(self, note: str) -> None:
        read, _old = self.reading.read_of(self.controller.current_key)
        if read:
            self.reading.record(read, note=note)
        else:
            self.show_status("Note kept: press P, N or U to record it with your read.")
        self._leave_note()

    def _leave_note(self) -> None:
        if self.worklist_view is not None:
            self.worklist_view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def choose_reads_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export reads", os.path.join(self._start_dir(), "reads.csv"),
                                              "CSV (*.csv)")
        if path:
            try:
                n = self.reading.export(path)
            except OSError as exc:
                self.show_error("Export failed", f"{path} could not be written: {exc.strerror or exc}")
                return
            except ReadsLogError as exc:
                self.show_error("Export failed", str(exc))
                return
            self.show_status(f"Exported {n} read(s) to {path}")

    def choose_snapshot_file(self) -> None:
        c = self.controller
        if c.current_key is None or self.image_view.display_array is None:
            self.show_status("Open an image first: a snapshot shows the film on screen.")
            return
        item = c.worklist.item(c.current_key)
        stem = os.path.splitext(item.name)[0]
        path, _ = QFileDialog.getSaveFileName(self, "Export case snapshot",
                                              os.path.join(self._start_dir(), f"{stem}_snapshot.png"), "PNG (*.png)")
        if path:
            self.export_snapshot(path)

    def export_snapshot(self, path: str) -> bool:
        """The film as shown (window/level, invert, overlay) with the de-identified footer."""
        c, v = self.controller, self.image_view
        item = c.worklist.item(c.current_key)
        heat = c.current_heat if v.overlay_shown else None
        prediction = item.prediction if item.status == DONE else None
        record = self.reading.current_record(item.image_sha256)  # who made the read, from the log
        lines = case_snapshot.footer_lines(prediction, c.active_model, record.read if record else None,
                                           record.note if record else "", record.reader if record else "",
                                           overlay_shown=heat is not None)
        picture = case_snapshot.render_snapshot(v.display_array, lines, heat, self.settings.overlay_opacity)
        try:
            case_snapshot.save_snapshot(picture, path)
        except OSError as exc:
            self.show_error("Snapshot not saved", f"{path} could not be written: {exc.strerror or exc}")
            return False
        self.reading.record_event("export-snapshot", {"image_sha256": item.image_sha256, "read": item.read})
        self.show_status(f"Saved the case snapshot to {path}")
        return True

    def show_preferences(self) -> None:
        name, ok = QInputDialog.getText(self, "Preferences", "Reader name (signs your reads in the reads log):",
                                        text=self.settings.reader_name)
        if ok and name.strip():
            self.settings.reader_name = name.strip()
            self.show_status(f"Reads are now recorded as {self.settings.reader_name}.")
