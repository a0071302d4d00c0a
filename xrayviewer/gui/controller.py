"""What happens when the user opens, selects or rescores images, and when the model changes.

The controller holds the worklist and the flow of work between the decoding tasks, the model
service and the view; it draws nothing. What it calls on the view (the main window in the
app, a recording fake in tests, after Mu's editor/view split) and on the model service is
written down in :mod:`.interfaces` (``ControllerView``, ``ModelServiceInterface``).
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from functools import partial
from typing import Optional, Sequence

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from ..model.predictor import POSITIVE
from . import tasks, wording
from .background import BackgroundTasks
from .export import write_csv
from .interfaces import ControllerView, ModelServiceInterface
from .screen_image import screen_qimage
from .worklist import DONE, ERROR, FINAL_STATUSES, NO_MODEL, QUEUED, SCORING, WorklistModel

log = logging.getLogger(__name__)
IMAGE_CACHE_SIZE = 3
NO_OVERLAY_NOTE = "no overlay: the model found no pneumonia on this film"
SCORE_BATCH = 16
#: Decoding, folder walks and the shown film's full read run side by side, so the film the
#: reader clicks does not wait behind a long decode (a thread each, as many at a time).
BACKGROUND_WORKERS = 4
FULL_IMAGE = "full image"  # the task kind: selecting another row replaces the stale read


class Controller(QObject):
    settled = Signal()  # nothing left to do: model settled, every row final, current image shown
    modelChanged = Signal(object)  # the active ModelInfo (None: no model)

    def __init__(self, view: ControllerView, models: ModelServiceInterface, settings,
                 parent: Optional[QObject] = None):
        super().__init__(parent)
        self.view, self.models, self.settings = view, models, settings
        self.worklist = WorklistModel(self)
        self.background = BackgroundTasks(self, max_workers=BACKGROUND_WORKERS, name="files")
        # The loaders also put each film they hand over into the screen's form (screen_image).
        self.screen_maker: Optional[tasks.ScreenMaker] = screen_qimage
        self.current_key: Optional[int] = None
        self.current_image = None
        self.current_heat = None
        self.overlay_wanted = False
        self.remember_model_choice = False
        # Counts load requests. A score request posted after load request N is answered by
        # model N (the model service works in order), so only older requests need redoing.
        self._load_serial = 0
        self._images: OrderedDict = OrderedDict()  # key -> XRayImage, most recent last
        self._pending_scores: list = []
        self._decoding = 0
        # The row an open selected for the reader; once that open is scored, if the reader is
        # still on it, the riskiest scored film is selected instead (worklist habits).
        self._auto_pick: Optional[int] = None
        self._session_timer = QTimer(self)
        self._session_timer.setSingleShot(True)
        self._session_timer.setInterval(0)
        self._session_timer.timeout.connect(self._save_session)
        self._score_timer = QTimer(self)
        self._score_timer.setSingleShot(True)
        self._score_timer.setInterval(0)  # send every row decoded in one event-loop turn together
        self._score_timer.timeout.connect(self._flush_scores)
        models.loading.connect(self._on_model_loading)
        models.loaded.connect(self._on_model_loaded)
        models.load_failed.connect(self._on_model_failed)
        models.scored.connect(self._on_scored)
        models.unscored.connect(self._on_unscored)
        models.score_failed.connect(self._on_score_failed)
        models.explained.connect(self._on_explained)
        models.explain_failed.connect(self._on_explain_failed)

    # ---- start and stop -------------------------------------------------------------------
    def start(self, model_path=None, restore_session: bool = False) -> None:
        self.view.set_recent(self.settings.recent_files())
        self.view.show_model_loading("")
        self._load_serial += 1
        self.models.load(model_path)
        if restore_session:
            restored = [p for p in self.settings.session_paths if os.path.exists(p)]
            if restored:
                self.open_paths(restored, remember=False)

    def shutdown(self) -> None:
        self._session_timer.stop()
        self._save_session()
        self._score_timer.stop()
        self.background.shutdown()
        self.models.stop()

    @property
    def active_model(self):
        return self.models.info

    # ---- opening --------------------------------------------------------------------------
    def open_paths(self, paths: Sequence, remember: bool = True) -> None:
        """Add files and folders to the worklist (folders are expanded off the GUI thread)."""
        paths = [os.fspath(p) for p in paths if p]
        if not paths:
            return
        if remember:
            for p in paths:
                if os.path.exists(p):
                    self.settings.add_recent(p)
            self.view.set_recent(self.settings.recent_files())
        self._decoding += 1  # covers the expansion too, so "settled" waits for it
        self.background.start(partial(tasks.expand_paths, paths), done=self._on_expanded,
                              failed=self._on_expand_failed, cancelled=self._on_decode_done)

    def _on_expanded(self, found: list) -> None:
        self._decoding -= 1
        if not found:
            self.view.show_status("No images found there.")
            self._check_settled()
            return
        new, existing = self.worklist.add_paths(found)
        if new:
            # Soon, not only on a clean quit (a crash or kill keeps it too), but on the next turn:
            # writing 500 paths took 13-16 ms beside the rows' insertion in one turn.
            self._session_timer.start()
        first = (new or existing)[0]
        self.view.show_status(wording.opened_status(len(new), len(existing), len(self.worklist.items())))
        if new:
            self._decoding += 1
            self.background.start(partial(tasks.decode_images, [(i.key, i.path) for i in new], screen=self.screen_maker),
                                  progress=self._on_decoded, done=self._on_decode_done, failed=self._on_decode_done,
                                  cancelled=self._on_decode_done)
        # A new first row arrives decoded from the task above; no second full-size read.
        self.select(first.key, load=first not in new)
        self.view.select_key(first.key)
        self._auto_pick = first.key if new else None

    def _on_expand_failed(self, exc) -> None:
        self._decoding -= 1
        self.view.show_error("Cannot open", str(exc))
        self._check_settled()

    def _on_decode_done(self, *_args) -> None:
        self._decoding -= 1
        self._check_settled()

    def _on_decoded(self, decoded: tasks.DecodedFile) -> None:
        key = decoded.key
        if decoded.error:
            log.warning("Cannot read %s: %s", decoded.name, decoded.error)
            self.worklist.update(key, status=ERROR, error=decoded.error)
            if key == self.current_key:
                self._show_row_error(key)
            self._check_settled()
            return
        self.worklist.update(key, thumbnail_array=decoded.thumbnail, model_input=decoded.model_input,
                             file_reasons=decoded.file_reasons)
        if decoded.image is not None:
            self._cache_image(key, decoded.image)
            if key == self.current_key and self.current_image is None:
                self._display(key, decoded.image, decoded.screen)
        self._queue_score(key)

    # ---- scoring --------------------------------------------------------------------------
    def _queue_score(self, key: int) -> None:
        if self.models.state == self.models.FAILED:
            item = self.worklist.update(key, status=NO_MODEL)
            if key == self.current_key:
                self._show_row_state(item)
            return
        # "queued" while no model can answer yet, "scoring" once one can.
        self.worklist.update(key, status=QUEUED if self.models.state == self.models.LOADING else SCORING)
        self._pending_scores.append(key)
        self._score_timer.start()

    @Slot()
    def _flush_scores(self) -> None:
        batch = []
        for key in self._pending_scores:
            item = self.worklist.item(key)
            if item is not None and item.model_input is not None:
                item.request_serial = self._load_serial
                batch.append((key, item.model_input, item.file_reasons))
        self._pending_scores.clear()
        for start in range(0, len(batch), SCORE_BATCH):
            self.models.score(batch[start:start + SCORE_BATCH])

    @Slot(object, int)
    def _on_scored(self, results, generation: int) -> None:
        if generation != self.models.generation:
            return  # a replaced model's answer; the new model rescores everything
        items = self.worklist.update_many([(key, {"status": DONE, "prediction": p}) for key, p in results])
        for (key, prediction), item in zip(results, items):
            if item is not None and key == self.current_key:
                self.view.show_prediction(prediction, self.models.info)
                if self.overlay_wanted and self.current_heat is None:
                    self._request_heatmap()  # it waited for the verdict
        self._check_settled()

    def _pick_top_once_settled(self) -> None:
        """Once every row is scored or failed, move a reader still on the row an open chose to
        the top of the list (the riskiest scored film). Checked wherever a row may have been the
        last to settle (``_check_settled``), not only when scores arrive: a damaged file whose
        decoding failed after the others were scored left the reader on the first file opened."""
        if self._auto_pick is None or any(i.status in (QUEUED, SCORING) for i in self.worklist.items()):
            return
        still_there = self._auto_pick == self.current_key
        self._auto_pick = None
        if still_there:
            self.view.select_top()

    @Slot(object)
    def _on_unscored(self, keys) -> None:
        for key in keys:
            self.worklist.update(key, status=NO_MODEL)
            if key == self.current_key:
                self.view.show_pending("Not scored: no model is loaded.")
        self._check_settled()

    @Slot(object, str)
    def _on_score_failed(self, keys, message: str) -> None:
        for key in keys:
            self.worklist.update(key, status=ERROR, error=message)
        self.view.show_status(message)
        self._check_settled()

    # ---- the image on screen --------------------------------------------------------------
    @Slot(int)
    def select(self, key: int, load: bool = True) -> None:
        """Show row ``key``: its image (decoded off the GUI thread) and its score."""
        if key == self.current_key:
            return
        item = self.worklist.item(key)
        if item is None:
            return
        if key != self._auto_pick:
            self._auto_pick = None  # the reader moved: leave the selection to them
        self.current_key, self.current_image, self.current_heat = key, None, None
        self.view.show_heatmap(None)
        if item.status == ERROR:
            self._show_row_error(key)
            return
        self._show_row_state(item)
        image = self._images.get(key)
        if image is not None:
            self._display(key, image)
            return
        self.view.show_loading(item.path)
        if not load:
            self.background.drop(FULL_IMAGE)
            return
        self.background.start(partial(tasks.load_full, item.path, screen=self.screen_maker), kind=FULL_IMAGE,
                              done=partial(self._on_full_loaded, key), failed=partial(self._on_full_failed, key))

    def _show_row_state(self, item) -> None:
        if item.status == DONE and item.prediction is not None:
            self.view.show_prediction(item.prediction, self.models.info)
        elif item.status == NO_MODEL or self.models.state == self.models.FAILED:
            self.view.show_pending("Not scored: no model is loaded.")
        elif self.models.state == self.models.LOADING:
            self.view.show_pending("Loading model… this image is queued and will be scored next.")
        else:
            self.view.show_pending("Scoring…")

    def _show_row_error(self, key: int) -> None:
        item = self.worklist.item(key)
        self.view.show_no_image(item.path, item.error)
        self.view.show_pending("Not scored: the file could not be read.")

    def _on_full_loaded(self, key: int, full: tasks.FullImage) -> None:
        self._cache_image(key, full.image)
        if key == self.current_key and self.current_image is None:
            self._display(key, full.image, full.screen)

    def _on_full_failed(self, key: int, exc) -> None:
        self.worklist.update(key, status=ERROR, error=str(exc))
        if key == self.current_key:
            self._show_row_error(key)
        self._check_settled()

    def _cache_image(self, key: int, image) -> None:
        self._images[key] = image
        self._images.move_to_end(key)
        while len(self._images) > IMAGE_CACHE_SIZE:
            self._images.popitem(last=False)

    def _display(self, key: int, image, screen=None) -> None:
        """``screen``: the film already in the screen's form (made by the loader), or None:
        the view then makes it (films shown again from the cache, whose screen forms are not
        kept: 14 MB each for a 2,000 px film)."""
        self.current_image = image
        self.view.show_image(image, screen)
        if self.overlay_wanted:
            self._request_heatmap()
        self._check_settled()

    # ---- Grad-CAM -------------------------------------------------------------------------
    def set_overlay(self, enabled: bool) -> None:
        self.overlay_wanted = bool(enabled)
        if enabled and self.current_heat is None:
            self._request_heatmap()

    def _request_heatmap(self) -> None:
        if self.current_image is None or self.models.state == self.models.FAILED:
            return
        item = self.worklist.item(self.current_key)
        prediction = getattr(item, "prediction", None)
        if prediction is None:
            return  # asked again once the film is scored: the overlay depends on the verdict
        if prediction.label != POSITIVE:
            # A map of "where the evidence is" on a film the model calls normal reads as a
            # finding (a red spot on the spine of a <1% film): say why there is none instead.
            self.view.show_heatmap(None)
            self.view.show_heatmap_note(NO_OVERLAY_NOTE)
            self.view.show_status("")  # not the previous film's "Grad-CAM: ..." line
            return
        self.view.show_status("Computing the Grad-CAM heatmap…")
        self.models.explain(self.current_key, self.current_image)

    @Slot(object, object, int)
    def _on_explained(self, key, heat, generation: int) -> None:
        if key == self.current_key and generation == self.models.generation:
            self.current_heat = heat
            self.view.show_heatmap(heat)
            self.view.show_status("Grad-CAM: where the model found its evidence for pneumonia.")

    @Slot(object, str)
    def _on_explain_failed(self, key, message: str) -> None:
        if key == self.current_key:
            self.view.show_status(message)

    # ---- the model ------------------------------------------------------------------------
    def switch_model(self, path) -> None:
        """Load another model bundle (None: the bundled one) and rescore the worklist with it."""
        self.remember_model_choice = True
        self.view.show_model_loading(str(path) if path else "the bundled model")
        self._load_serial += 1
        self.models.load(path)

    @Slot(str)
    def _on_model_loading(self, what: str) -> None:
        self.view.show_status(wording.loading_model(what))

    @Slot(object, int)
    def _on_model_loaded(self, info, _generation: int) -> None:
        if self.remember_model_choice:
            self.settings.model_path = "" if info.is_bundled else str(info.keras_path)
        self.view.show_model_ready(info)
        self.view.show_status(f"Model ready: {info.display_name}")
        self.modelChanged.emit(info)
        # Every score and heatmap so far came from another model (or none): redo them.
        for item in self.worklist.items():
            if item.model_input is None or item.key in self._pending_scores:
                continue
            if item.request_serial < self._load_serial:
                self._queue_score(item.key)  # scored by a replaced model, or never
            elif item.status == QUEUED:
                self.worklist.update(item.key, status=SCORING)  # already waiting in the model's queue
        item = self.worklist.item(self.current_key) if self.current_key is not None else None
        if item is not None and item.status != ERROR:
            self._show_row_state(item)
            self.current_heat = None
            self.view.show_heatmap(None)
            if self.overlay_wanted:
                self._request_heatmap()
        self._check_settled()

    @Slot(str, bool)
    def _on_model_failed(self, message: str, still_active: bool) -> None:
        if still_active:
            self.view.show_error("Model not changed", f"{message}\n\nStill using {self.models.info.display_name}.")
            self.view.show_model_ready(self.models.info)
        else:
            self.view.show_no_model(message)
            self.modelChanged.emit(None)
            for item in self.worklist.items():
                if item.status in (QUEUED, SCORING) and item.model_input is not None:
                    self.worklist.update(item.key, status=NO_MODEL)
            item = self.worklist.item(self.current_key) if self.current_key is not None else None
            if item is not None and item.status == NO_MODEL:
                self._show_row_state(item)
        log.warning("Model load failed: %s", message)
        self._check_settled()

    # ---- worklist actions -----------------------------------------------------------------
    def export_csv(self, path: str, keys_in_order: Optional[Sequence[int]] = None) -> int:
        items = self.worklist.items()
        if keys_in_order is not None:
            by_key = {i.key: i for i in items}
            items = [by_key[k] for k in keys_in_order if k in by_key]
        info = self.models.info
        n = write_csv(path, items, model_name=info.display_name if info is not None else "")
        self.view.show_status(f"Exported {wording.count(n, 'row')} to {path}")
        return n

    def remove(self, keys: Sequence[int]) -> int:
        """Take rows off the worklist (the files stay where they are); returns how many."""
        removed = self.worklist.remove(keys)
        gone = {item.key for item in removed}
        self._pending_scores = [k for k in self._pending_scores if k not in gone]
        for key in gone:
            self._images.pop(key, None)
        if self._auto_pick in gone:
            self._auto_pick = None
        # Removing the current row moves the list's selection to a neighbour (select() has
        # run); with no row left, the viewer empties.
        if self.current_key is None or self.worklist.item(self.current_key) is None:
            self._show_nothing()
        if removed:
            self._save_session()
            self.view.show_status(f"Removed {wording.count(len(removed), 'row')} from the worklist; "
                                  "the files are untouched.")
        self._check_settled()
        return len(removed)

    def clear_worklist(self) -> None:
        self.background.cancel_all()  # decoding of rows about to vanish
        self._pending_scores.clear()
        self.worklist.clear()
        self._images.clear()
        self._auto_pick = None
        self.settings.session_paths = []
        self._show_nothing()

    def _save_session(self) -> None:
        """The worklist's files, for the next start (Settings.session_paths)."""
        self.settings.session_paths = [item.path for item in self.worklist.items()]

    def _show_nothing(self) -> None:
        self.current_key = self.current_image = self.current_heat = None
        self.view.show_no_image("", "")
        self.view.show_pending("Open an image to see the model's opinion.")

    # ---- settled --------------------------------------------------------------------------
    def is_settled(self) -> bool:
        if self.models.state == self.models.LOADING or self._decoding > 0 or self.background.current(FULL_IMAGE) is not None:
            return False
        if any(i.status not in FINAL_STATUSES for i in self.worklist.items()):
            return False
        if self.current_key is not None:
            item = self.worklist.item(self.current_key)
            if item is not None and item.status != ERROR and self.current_image is None:
                return False
        return True

    def _check_settled(self) -> None:
        self._pick_top_once_settled()
        if self.is_settled():
            self.settled.emit()
