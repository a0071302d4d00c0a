"""The main window: menus, actions, layout, and the view methods the controller calls.

It holds no workflow logic (that is :mod:`.controller`) and draws nothing itself (the
widgets do); it only arranges them and routes user commands.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (QFileDialog, QLabel, QMainWindow, QMenu, QMessageBox, QSlider,
                               QSplitter, QToolButton, QVBoxLayout, QWidget)

from ..imaging import IMAGE_EXTENSIONS
from . import dialogs, pane_layout, wording
from .heat_legend import HeatLegend
from .image_view import ImageView
from .info_pane import InfoPane
from .probability_panel import ProbabilityPanel
from .side_column import SideColumn
from .window_presets import PRESET_SHORTCUTS, PRESETS
from .model_choice import ModelChoiceWindow, menu_label
from .reading import ReadBar, ReadingSession, ReadingWindow
from .worklist import WorklistView

log = logging.getLogger(__name__)
TRAINING_SHORTCUT = "Ctrl+Shift+T"
#: The first window's size, and every --screenshot's (so README images do not depend on
#: where the last session left the window).
DEFAULT_SIZE = (1440, 900)
#: What a window manager's frame adds around the client area that resize() sets: a title bar
#: of 20-40 px and thin borders. Without it a 1440 x 900 window on a 1440 x 900 screen counted
#: as fitting, and its bottom 20 px (the status bar with the Grad-CAM legend) hung off-screen.
FRAME_ALLOWANCE = (16, 48)

WORKLIST_WANT = 470  # the worklist's width when the window has room for it (or its full width, if more)
TOOLBAR_LABELS = {"fit": "Fit", "actual": "1:1", "reset_window": "Reset W/L", "overlay": "Grad-CAM",
                  "export": "Export CSV"}


def fits_with_frame(client, available) -> bool:
    """Whether a window of client size ``client`` (QSize), framed, fits in ``available``."""
    return (client.width() + FRAME_ALLOWANCE[0] <= available.width()
            and client.height() + FRAME_ALLOWANCE[1] <= available.height())


class MainWindow(ReadingWindow, ModelChoiceWindow, QMainWindow):
    filesDropped = Signal(list)

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.controller = None
        self.training_panel = None
        self.last_error: tuple[str, str] = ("", "")
        self.quit_question = None  # the "stop training and quit?" box while it is open
        self._started = False
        self._start_callback = None
        self.setWindowTitle("XRay Viewer")
        self.setAcceptDrops(True)
        self.resize(*DEFAULT_SIZE)

        self.image_view = ImageView()
        self.info_pane = InfoPane()
        self.probability_panel = ProbabilityPanel()
        right = QWidget()
        right_layout = QVBoxLayout(right)
        # 2 px on the right, beside the room kept for the scroll bar: at the column's narrowest
        # (pane_layout.SIDE_MIN) the panel's ">99%" then still fits without clipping.
        right_layout.setContentsMargins(6, 6, 2, 6)
        right_layout.addWidget(self.probability_panel)
        right_layout.addWidget(self.info_pane, 1)
        # In a scroll area: on a 700 px tall screen the panel's wrapped sentences and the DICOM
        # facts need more height than there is, and squeezed labels were drawn over each other.
        # Its text keeps one width whether the column scrolls or not (side_column says why).
        right = self.side_panel = SideColumn(right, pane_layout.SIDE_MIN)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(QWidget())  # the worklist, once attach() has its model
        # The reader's read sits under the film it is about, one line high: in the right
        # column it squeezed the model's warnings on films with a long DICOM header.
        self.read_bar = ReadBar()
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(0)
        centre_layout.addWidget(self.image_view, 1)
        centre_layout.addWidget(self.read_bar)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)  # panes hide through View > Show …, not by a drag to zero
        self.splitter.setSizes([470, 660, 310])
        self.setCentralWidget(self.splitter)
        self.worklist_view: Optional[WorklistView] = None
        self.reading: Optional[ReadingSession] = None
        self.window_label = QLabel("")
        self.heat_legend = HeatLegend()
        self.statusBar().addPermanentWidget(self.heat_legend)
        self.statusBar().addPermanentWidget(self.window_label)
        self.image_view.windowChanged.connect(self._show_window_level)
        self.image_view.zoomChanged.connect(lambda _z: self._show_window_level())

    # ---- wiring ----------------------------------------------------------------------------
    def attach(self, controller) -> None:
        """Connect to the controller (built after the window, since it needs the window)."""
        self.controller = controller
        self.worklist_view = WorklistView(controller.worklist)
        self.splitter.replaceWidget(0, self.worklist_view)
        self._apply_pane_layout()
        self.worklist_view.currentKeyChanged.connect(controller.select)
        self.worklist_view.removeRequested.connect(controller.remove)
        self.attach_reading(controller)
        self.filesDropped.connect(controller.open_paths)
        self._build_actions()
        self._build_menus_and_toolbar()
        self.info_pane.showIdentifiersChanged.connect(self.act["identifiers"].setChecked)
        self.image_view.set_overlay_opacity(self.settings.overlay_opacity)
        self.heat_legend.set_opacity(self.settings.overlay_opacity)
        self.opacity_slider.setValue(int(round(self.settings.overlay_opacity * 100)))
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self._fit_first_window_to_screen()

    def _fit_first_window_to_screen(self) -> None:
        """The first window is DEFAULT_SIZE; on a smaller screen (1024 x 700, 1366 x 768) it
        used to hang off the edges, hiding the film's right half and the opinion panel. Start
        maximized there instead. (The offscreen platform's nominal 800 x 600 screen is left
        alone: tests and --screenshot lay out at DEFAULT_SIZE.)"""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None or QGuiApplication.platformName() == "offscreen":
            return
        if not fits_with_frame(self.size(), screen.availableGeometry().size()):
            self.setWindowState(Qt.WindowState.WindowMaximized)

    def _action(self, key, text, slot, shortcuts=(), checkable=False, tip=""):
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setCheckable(checkable)
        action.setToolTip(tip or text.replace("&", ""))
        action.setStatusTip(tip)
        (action.toggled if checkable else action.triggered).connect(slot)
        self.addAction(action)  # shortcuts work wherever the focus is in this window
        self.act[key] = action
        return action

    def _build_actions(self) -> None:
        c, v = self.controller, self.image_view
        self.act: dict[str, QAction] = {}
        a = self._action
        a("open", "&Open…", self.choose_files, [QKeySequence.StandardKey.Open])
        a("open_folder", "Open &Folder…", self.choose_folder, ["Ctrl+Shift+O"])
        a("export", "&Export Worklist as CSV…", self.choose_export_file, ["Ctrl+E"])
        a("remove", "&Remove from Worklist", self._remove_current, ["Del"],
          tip="Take the selected row off the list (the file is not deleted)")
        a("clear", "Clear Worklist", c.clear_worklist, tip="Empty the worklist (no file is deleted); "
          "it is also not restored on the next start")
        a("quit", "&Quit", self.close, [QKeySequence.StandardKey.Quit])
        a("fit", "&Fit to Window", v.fit, ["F"])
        a("actual", "Actual Size (1:1)", v.actual_size, ["1"])
        a("zoom_in", "Zoom &In", v.zoom_in, ["+", "="])
        a("zoom_out", "Zoom &Out", v.zoom_out, ["-"])
        a("reset_window", "&Reset Window/Level", v.reset_window, ["R"])
        a("wider", "Wider Window (less contrast)", lambda: v.adjust_window(0, 1), ["Alt+Right"])
        a("narrower", "Narrower Window (more contrast)", lambda: v.adjust_window(0, -1), ["Alt+Left"])
        a("level_up", "Raise Level (darker)", lambda: v.adjust_window(1, 0), ["Alt+Up"])
        a("level_down", "Lower Level (brighter)", lambda: v.adjust_window(-1, 0), ["Alt+Down"])
        a("invert", "&Invert", v.set_inverted, ["I"], checkable=True,
          tip="Invert the grey scale of this film (each film opens not inverted)")
        v.invertedChanged.connect(self.act["invert"].setChecked)
        for name in PRESETS:
            a(f"preset:{name}", f"{name} Window", lambda _=False, n=name: v.apply_preset(n), [PRESET_SHORTCUTS[name]],
              tip=f"Window/level: {name.lower()} (from this film's histogram)" if PRESETS[name] else
              "Window/level: the film's own default window")
        a("overlay", "&Grad-CAM Overlay", self._set_overlay, ["H"], checkable=True,
          tip="Show where the model found its evidence")
        a("more_opaque", "Overlay More Opaque", lambda: self._nudge_opacity(10), ["]"])
        a("less_opaque", "Overlay More Transparent", lambda: self._nudge_opacity(-10), ["["])
        a("identifiers", "Show &Patient Identifiers", self.info_pane.set_show_identifiers, ["Ctrl+Shift+I"],
          checkable=True)
        a("next", "&Next Image", lambda: self.worklist_view.step(1), ["J", "Down"])
        a("previous", "&Previous Image", lambda: self.worklist_view.step(-1), ["K", "Up"])
        a("first", "First Image", lambda: self.worklist_view.select_row(0), ["Home"])
        a("last", "Last Image", lambda: self.worklist_view.select_row(-1), ["End"])
        a("open_model", "Open Model File…", self.choose_model_file)
        a("check_local", "Check on Local Cases…", self.check_local_cases,
          tip="Check the model on your own labelled X-rays; adopt a site calibration")
        a("show_worklist", "Show &Worklist", self._show_pane, ["F9"], checkable=True,
          tip="Show or hide the worklist; the film takes the room")
        a("show_side", "Show &Opinion Panel", self._show_pane, ["F10"], checkable=True,
          tip="Show or hide the probability and image details; the film takes the room")
        self.act["show_worklist"].setChecked(True)
        self.act["show_side"].setChecked(True)
        self.add_reading_actions(a)  # gui.reading: the read keys, reads/snapshot export, Preferences
        a("restore_model", "Restore &Bundled Model", lambda: self.request_model_switch(None))
        a("shortcuts", "&Keyboard Shortcuts", self.show_shortcuts, [QKeySequence.StandardKey.HelpContents, "?"])
        a("about", "&About XRay Viewer", lambda: dialogs.show_about(self))
        # Hidden on purpose: training is for the maintainers, not in any visible menu.
        self.training_shortcut = QShortcut(QKeySequence(TRAINING_SHORTCUT), self)
        self.training_shortcut.activated.connect(self.open_training_panel)

    def _build_menus_and_toolbar(self) -> None:
        act, bar = self.act, self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([act["open"], act["open_folder"]])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addSeparator()
        file_menu.addActions([act["export"], act["export_reads"], act["export_snapshot"], act["remove"], act["clear"]])
        file_menu.addSeparator()
        file_menu.addAction(act["preferences"])
        file_menu.addSeparator()
        file_menu.addAction(act["quit"])
        view_menu = bar.addMenu("&View")
        for group in (("show_worklist", "show_side"), ("fit", "actual", "zoom_in", "zoom_out"),
                      ("reset_window", "wider", "narrower", "level_up", "level_down", "invert"),
                      tuple(f"preset:{name}" for name in PRESETS),
                      ("overlay", "more_opaque", "less_opaque"), ("identifiers",),
                      ("next", "previous", "first", "last")):
            view_menu.addActions([act[k] for k in group])
            view_menu.addSeparator()
        read_menu = bar.addMenu("&Read")
        read_menu.addActions([act["read_p"], act["read_n"], act["read_u"], act["read_note"]])
        self.model_menu = bar.addMenu("&Model")
        self.model_menu.aboutToShow.connect(self.rebuild_model_menu)
        self.rebuild_model_menu()
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([act["shortcuts"], act["about"]])

        # Short button labels (the menus keep the full names): at 1024 px the long ones pushed
        # Opacity and Export off the bar, and a reader had to find them behind ».
        for key, short in TOOLBAR_LABELS.items():
            act[key].setIconText(short)
        tools = self.addToolBar("Tools")
        tools.setObjectName("tools")
        tools.setMovable(False)
        tools.addActions([act["open"], act["open_folder"]])
        tools.addSeparator()
        tools.addActions([act["fit"], act["actual"], act["zoom_in"], act["zoom_out"]])
        tools.addSeparator()
        tools.addActions([act["reset_window"], act["invert"]])
        presets = QToolButton()
        presets.setText("Presets")
        presets.setToolTip("Window/level presets (F2-F5, A)")
        presets.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        preset_menu = QMenu(presets)
        preset_menu.addActions([act[f"preset:{name}"] for name in PRESETS])
        presets.setMenu(preset_menu)
        tools.addWidget(presets)
        tools.addSeparator()
        tools.addAction(act["overlay"])
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(5, 100)
        self.opacity_slider.setFixedWidth(110)
        self.opacity_slider.setToolTip("Grad-CAM overlay opacity")
        self.opacity_slider.valueChanged.connect(self._set_opacity)
        tools.addWidget(QLabel(" Opacity "))
        tools.addWidget(self.opacity_slider)
        tools.addSeparator()
        tools.addAction(act["export"])
        # Buttons that do not fit go behind Qt's extension button, which the dark theme drew
        # almost black on black: make it visible and say what it is.
        extension = tools.findChild(QToolButton, "qt_toolbar_ext_button")
        if extension is not None:
            extension.setToolTip("More tools (the window is too narrow to show them all)")
            extension.setStyleSheet("QToolButton { background: #4a4f57; border-radius: 3px; }")

    def rebuild_model_menu(self) -> None:
        from ..model import list_models

        menu = self.model_menu
        menu.clear()
        active = self.controller.active_model if self.controller else None
        active_path = str(Path(active.keras_path).resolve()) if active is not None else None
        group = QActionGroup(menu)
        infos = list_models()
        if active is not None and active_path not in {str(Path(i.keras_path).resolve()) for i in infos}:
            infos.insert(0, active)  # opened with --model or Open Model File: still the one in use
        for info in infos:
            # Each model's key figure beside its name, so a useless one is visible before a click.
            action = menu.addAction(menu_label(info))
            action.setCheckable(True)
            action.setData(str(info.keras_path))
            action.setChecked(str(Path(info.keras_path).resolve()) == active_path)
            group.addAction(action)
            action.triggered.connect(lambda _=False, p=str(info.keras_path): self.request_model_switch(p))
        if not infos:
            menu.addAction("No models installed").setEnabled(False)
        menu.addSeparator()
        menu.addActions([self.act["check_local"], self.act["open_model"], self.act["restore_model"]])
        self.add_delete_menu(menu, infos, active_path)

    # ---- user commands ---------------------------------------------------------------------
    def _start_dir(self) -> str:
        return self.settings.last_dir or str(Path.home())

    def choose_files(self) -> None:
        patterns = " ".join(f"*{e}" for e in IMAGE_EXTENSIONS)
        files, _ = QFileDialog.getOpenFileNames(self, "Open chest X-rays", self._start_dir(),
                                                f"Images ({patterns});;All files (*)")
        if files:
            self.settings.last_dir = os.path.dirname(files[0])
            self.controller.open_paths(files)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of chest X-rays", self._start_dir())
        if folder:
            self.settings.last_dir = folder
            self.controller.open_paths([folder])

    def choose_export_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export worklist", os.path.join(self._start_dir(), "worklist.csv"),
                                              "CSV (*.csv)")
        if path:
            try:
                self.controller.export_csv(path, self.worklist_view.keys_in_order())
            except OSError as exc:
                self.show_error("Export failed", f"{path} could not be written: {exc.strerror or exc}")

    def choose_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a model bundle", self._start_dir(), "Keras model (*.keras)")
        if path:
            self.request_model_switch(path)

    def check_local_cases(self):
        from .site_check import open_site_check  # its training imports load only when used

        return open_site_check(self)

    def show_shortcuts(self) -> None:
        rows = dialogs.shortcut_rows(self.act.values()) + [("Training panel (hidden)", TRAINING_SHORTCUT)]
        dialogs.ShortcutsDialog(rows + dialogs.MOUSE_ROWS, self).exec()

    def open_training_panel(self):
        """Build the hidden training panel on first use (matplotlib loads only then)."""
        if self.training_panel is None:
            from .training_panel import TrainingPanel

            self.training_panel = TrainingPanel(self, settings=self.settings)
            self.training_panel.useModelRequested.connect(self._use_trained_model)
            self.training_panel.runEvent.connect(self.reading.record_event)
            self.controller.modelChanged.connect(self.training_panel.set_active_model)
            self.training_panel.set_active_model(self.controller.active_model)
            log.info("Training panel opened")
        self.training_panel.show()
        self.training_panel.raise_()
        return self.training_panel

    # ---- panes ------------------------------------------------------------------------------
    def _show_pane(self, _checked: bool = True) -> None:
        self.worklist_view.setVisible(self.act["show_worklist"].isChecked())
        self.side_panel.setVisible(self.act["show_side"].isChecked())
        self._apply_pane_layout()

    def _apply_pane_layout(self) -> None:
        """Share the width by :func:`.pane_layout.share`: the film gets at least half."""
        if self.worklist_view is None:
            return
        self.worklist_view.set_compact(self.width() < pane_layout.COMPACT_BELOW)
        worklist_shown = not self.worklist_view.isHidden()
        side_shown = not self.side_panel.isHidden()
        handles = self.splitter.handleWidth() * (int(worklist_shown) + int(side_shown))
        full = self.worklist_view.narrowest_width(compact=False)
        widths = pane_layout.share(self.splitter.width() or self.width(),
                                   self.worklist_view.narrowest_width(compact=True), max(WORKLIST_WANT, full),
                                   worklist_shown=worklist_shown, side_shown=side_shown, handles=handles,
                                   worklist_full=0 if self.worklist_view.prefer_compact else full)
        self.splitter.setSizes([widths.worklist, widths.image, widths.side])

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._apply_pane_layout()

    def _set_overlay(self, on: bool) -> None:
        self.image_view.set_overlay_visible(on)
        if not on:
            self.heat_legend.clear()
        self.controller.set_overlay(on)
        if not on:
            self.statusBar().clearMessage()
        elif self.image_view.overlay_shown:
            self.heat_legend.show_scale()

    def _set_opacity(self, value: int) -> None:
        self.image_view.set_overlay_opacity(value / 100.0)
        self.heat_legend.set_opacity(value / 100.0)
        self.settings.overlay_opacity = value / 100.0

    def _nudge_opacity(self, delta: int) -> None:
        self.opacity_slider.setValue(self.opacity_slider.value() + delta)

    def _show_window_level(self, *_args) -> None:
        v = self.image_view
        if v.image is not None:
            self.window_label.setText(f"W {v.width_:.0f}  L {v.center:.0f}   Zoom {v.device_zoom:.0%} ")

    # ---- view interface (called by the controller) ----------------------------------------
    def show_model_loading(self, what: str) -> None:
        self.probability_panel.show_message(wording.loading_model(what), "…")

    def show_model_ready(self, info) -> None:
        self.probability_panel.set_model(info)
        if self.image_view.image is None and self.controller.current_key is None:
            self.probability_panel.show_message("Model ready. Open or drop chest X-rays to score them.")

    def show_no_model(self, message: str) -> None:
        self.probability_panel.set_model(None, message)
        self.probability_panel.show_message("Images are shown but not scored. Choose a model in the Model menu "
                                            "(Open Model File…).")
        self.show_status("No model is loaded; images are shown but not scored.")

    def show_image(self, image, screen=None) -> None:
        self.image_view.set_image(image, screen=screen)
        self.info_pane.set_image(image)
        self._title_for(image.path)

    def show_no_image(self, path: str, message: str) -> None:
        self.image_view.set_image(None, message or self.image_view.placeholder)
        if path:
            self.info_pane.set_error(path, message)
        else:
            self.info_pane.set_image(None)
        self._title_for(path)

    def show_loading(self, path: str) -> None:
        """The film at ``path`` is being decoded (off the GUI thread); it replaces this soon."""
        self.image_view.set_image(None, "Loading…")
        self.info_pane.set_loading(path)
        self._title_for(path)

    def _title_for(self, path: str) -> None:
        """The title names the file whose film (or whose error) is on screen, and none without."""
        name = os.path.basename(path or "")
        self.setWindowTitle(f"{name} – XRay Viewer" if name else "XRay Viewer")

    def show_prediction(self, prediction, info) -> None:
        self.probability_panel.show_prediction(prediction, info)

    def show_pending(self, message: str) -> None:
        self.probability_panel.show_message(message)

    def show_heatmap(self, heat) -> None:
        self.image_view.set_heatmap(heat)
        if heat is not None and self.image_view.overlay_shown:
            self.heat_legend.show_scale()
        else:
            self.heat_legend.clear()

    def show_heatmap_note(self, message: str) -> None:
        """Instead of an overlay: why this film has none (the legend's place says it)."""
        self.heat_legend.show_note(message)

    def select_key(self, key: int) -> None:
        self.worklist_view.select_key(key)

    def select_top(self) -> None:
        self.worklist_view.select_top()

    def _remove_current(self) -> None:
        key = self.worklist_view.current_key()
        if key is not None:
            self.controller.remove([key])

    def show_status(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)

    def show_error(self, title: str, message: str) -> None:
        log.warning("%s: %s", title, message)
        self.last_error = (title, message)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal but not blocking: workers keep reporting meanwhile

    def set_recent(self, paths) -> None:
        self.recent_menu.clear()
        for p in paths:
            self.recent_menu.addAction(p).triggered.connect(lambda _=False, p=p: self.controller.open_paths([p]))
        self.recent_menu.setEnabled(bool(paths))

    # ---- start, drops, close --------------------------------------------------------------
    def set_start_callback(self, callback) -> None:
        self._start_callback = callback

    def start(self) -> None:
        """Begin loading the model (once); called after the window is first shown."""
        if not self._started and self._start_callback is not None:
            self._started = True
            self._start_callback()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._started:
            QTimer.singleShot(0, self.start)  # after the first paint: the window is up first

    @staticmethod
    def _local_paths(mime) -> list[str]:
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []

    def dragEnterEvent(self, event) -> None:
        if self._local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if self._local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = self._local_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.filesDropped.emit(paths)

    def confirm_stop_training(self) -> bool:
        """Ask before quitting mid-training. If the run ends while the question is open (the
        model is saved, or it failed), the question closes itself: nothing is lost any more."""
        box = QMessageBox(QMessageBox.Icon.Question, "Training in progress",
                          "A model is being trained. Stop training and quit? The unfinished model will not be saved.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        self.quit_question = box
        ended = lambda: box.done(QMessageBox.StandardButton.Yes)  # noqa: E731
        self.training_panel.runEnded.connect(ended)
        try:
            return box.exec() == QMessageBox.StandardButton.Yes
        finally:
            self.training_panel.runEnded.disconnect(ended)
            self.quit_question = None

    def closeEvent(self, event) -> None:
        panel = self.training_panel
        if panel is not None and panel.is_running():
            if not self.confirm_stop_training():
                event.ignore()
                return
            panel.stop()
        if panel is not None:
            panel.close()
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        if self.controller is not None:
            self.controller.shutdown()
        if self.reading is not None:
            self.reading.shutdown()
        super().closeEvent(event)
