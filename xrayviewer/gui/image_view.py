"""The radiograph at full resolution: fit, zoom, pan, window/level, invert, Grad-CAM layer.

A QGraphicsView, so zoom and pan are the view's transform and cost no re-rendering. Only
window/level and invert re-render the picture: one LUT pass (a few ms at 2,000 px) plus the
QPixmap upload, coalesced to once per event-loop turn during a right-drag. The Grad-CAM
overlay is a second, semi-transparent layer on top, so re-windowing never recomputes it.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPixmap, QTransform
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView

from ..imaging import XRayImage
from ..model.gradcam import OVERLAY_OPACITY
from . import screen_image
from .heat_layer import HeatLayer, make_heat_layer
from .qimage import grey_to_qimage
from .window_presets import window_for

ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
BACKGROUND = QColor(12, 12, 12)


class ImageView(QGraphicsView):
    """Shows one XRayImage. Left-drag pans, right-drag windows, the wheel zooms."""

    windowChanged = Signal(float, float)  # centre, width
    invertedChanged = Signal(bool)  # also when a new film or Reset turns Invert off
    zoomChanged = Signal(float)  # logical pixels per image pixel (see device_zoom)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self._pixmap_item = QGraphicsPixmapItem()
        self._pixmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._heat_item = QGraphicsPixmapItem(self._pixmap_item)
        self._heat_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._heat_item.setVisible(False)
        self._scene.addItem(self._pixmap_item)
        self.setBackgroundBrush(BACKGROUND)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        # The right button is the window/level tool, as in every PACS viewer.
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)
        self.setAcceptDrops(False)  # drops go to the main window, which opens them
        self.setMinimumSize(240, 240)

        self.image: Optional[XRayImage] = None
        self.center = self.width_ = 0.0
        self.inverted = False
        self.fitted = True
        self.placeholder = "Drop chest X-rays here, or press Ctrl+O to open files."
        self._display_array: Optional[np.ndarray] = None  # display_array, once made
        self._heatmap: Optional[np.ndarray] = None
        self._overlay_on = False
        self._opacity = OVERLAY_OPACITY
        self._wl_anchor: Optional[tuple[QPointF, float, float]] = None
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self._render)

    # ---- content -------------------------------------------------------------------------
    def set_image(self, image: Optional[XRayImage], placeholder: str = "", screen=None) -> None:
        """Show ``image`` at its own default window, not inverted, fitted (the display rule of
        :mod:`.window_presets`); None shows ``placeholder``. ``screen``: that rendering already
        in the screen's form (:mod:`.screen_image`, made by the loader), so the GUI thread
        does not convert the pixels."""
        self.image = image
        self._set_inverted_flag(False)
        self._heatmap = None
        self._heat_item.setVisible(False)
        self._heat_item.setPixmap(QPixmap())
        if placeholder:
            self.placeholder = placeholder
        if image is None:
            self._display_array = None
            self._pixmap_item.setPixmap(QPixmap())
            self._scene.setSceneRect(QRectF())
            self.viewport().update()
            return
        self.center, self.width_ = float(image.window_center), float(image.window_width)
        if screen_image.matches(screen, image):
            self._display_array = None  # made when asked for: a 16-bit film's is a LUT pass
            self._pixmap_item.setPixmap(QPixmap.fromImage(screen))  # shares the pixels: no copy
        else:
            self._render()
        self._scene.setSceneRect(QRectF(0, 0, image.width, image.height))
        self.fit()
        self.windowChanged.emit(self.center, self.width_)

    def set_heatmap(self, heatmap) -> None:
        """Overlay a Grad-CAM map: a :class:`HeatLayer` built off the GUI thread (the model
        worker makes one), or a plain (H, W) array, coloured here (small maps, tests)."""
        if heatmap is None:
            self._heatmap = None
            self._heat_item.setPixmap(QPixmap())
        else:
            layer = heatmap if isinstance(heatmap, HeatLayer) else make_heat_layer(heatmap)
            self._heatmap = layer.heat
            self._heat_item.setPixmap(QPixmap.fromImage(layer.image))
            # Stretch the (smaller) layer over the film: item coordinates are image pixels.
            self._heat_item.setTransform(QTransform.fromScale(layer.width / layer.image.width(),
                                                              layer.height / layer.image.height()))
        self._update_heat_visibility()

    def set_overlay_visible(self, visible: bool) -> None:
        self._overlay_on = bool(visible)
        self._update_heat_visibility()

    def set_overlay_opacity(self, opacity: float) -> None:
        self._opacity = float(np.clip(opacity, 0.0, 1.0))
        self._heat_item.setOpacity(self._opacity)

    @property
    def overlay_shown(self) -> bool:
        return self._heat_item.isVisible()

    def _update_heat_visibility(self) -> None:
        self._heat_item.setOpacity(self._opacity)
        self._heat_item.setVisible(self._overlay_on and self._heatmap is not None and self.image is not None)

    # ---- window / level ------------------------------------------------------------------
    def set_window(self, center: float, width: float) -> None:
        if self.image is None:
            return
        self.center, self.width_ = float(center), max(1.0, float(width))
        self._render_timer.start()  # coalesce a burst of mouse moves into one render
        self.windowChanged.emit(self.center, self.width_)

    def reset_window(self) -> None:
        """Back to the film's default display: its own window, not inverted."""
        if self.image is not None:
            self.set_inverted(False)
            self.set_window(self.image.window_center, self.image.window_width)

    def apply_preset(self, name: str) -> None:
        """A window from :data:`.window_presets.PRESETS` (Default, Automatic, Lung, ...)."""
        if self.image is not None:
            w = window_for(self.image, name)
            self.set_window(w.center, w.width)

    def set_inverted(self, inverted: bool) -> None:
        if self._set_inverted_flag(inverted) and self.image is not None:
            self._render_timer.start()

    def _set_inverted_flag(self, inverted: bool) -> bool:
        inverted = bool(inverted)
        if inverted == self.inverted:
            return False
        self.inverted = inverted
        self.invertedChanged.emit(inverted)
        return True

    def adjust_window(self, d_center_steps: float, d_width_steps: float) -> None:
        """Keyboard window/level: one step is 2% of the image's value range."""
        step = self._value_step() * 10
        self.set_window(self.center + d_center_steps * step, self.width_ + d_width_steps * step)

    def _value_step(self) -> float:
        lo, hi = self.image.value_range
        return max((hi - lo) / 500.0, 1e-3)

    def flush_render(self) -> None:
        """Render a pending window change now (tests and screenshots)."""
        if self._render_timer.isActive():
            self._render_timer.stop()
            self._render()

    def _render(self) -> None:
        if self.image is None:
            return
        grey = self.image.display(self.center, self.width_, self.inverted)
        self._display_array = grey
        self._pixmap_item.setPixmap(QPixmap.fromImage(grey_to_qimage(grey)))

    @property
    def display_array(self) -> Optional[np.ndarray]:
        """The uint8 picture on screen (tests, the case snapshot); None without a film."""
        if self._display_array is None and self.image is not None:
            self._display_array = self.image.display(self.center, self.width_, self.inverted)
        return self._display_array

    # ---- zoom ----------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        """Logical (device-independent) pixels per image pixel: the view's own scale."""
        return float(self.transform().m11())

    @property
    def device_zoom(self) -> float:
        """Screen (device) pixels per image pixel: what "100%" and Actual Size mean to a reader.
        On a HiDPI screen (device pixel ratio 2) a logical pixel is 2 x 2 device pixels."""
        return self.zoom * self.devicePixelRatioF()

    def set_zoom(self, factor: float) -> None:
        factor = float(np.clip(factor, MIN_ZOOM, MAX_ZOOM))
        self.fitted = False
        self.setTransform(self.transform().fromScale(factor, factor))
        self.zoomChanged.emit(factor)

    def zoom_by(self, steps: float) -> None:
        self.set_zoom(self.zoom * ZOOM_STEP ** steps)

    def zoom_in(self) -> None:
        self.zoom_by(1)

    def zoom_out(self) -> None:
        self.zoom_by(-1)

    def actual_size(self) -> None:
        """One image pixel per device pixel (1:1), whatever the screen's scale factor."""
        self.set_zoom(1.0 / self.devicePixelRatioF())

    def fit(self) -> None:
        self.fitted = True
        if self.image is None:
            return
        self.fitInView(self._pixmap_item, Qt.AspectRatioMode.KeepAspectRatio)
        self.zoomChanged.emit(self.zoom)

    # ---- events --------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.fitted:
            self.fit()

    def wheelEvent(self, event) -> None:
        if self.image is None:
            return
        self.zoom_by(event.angleDelta().y() / 120.0)
        event.accept()

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.RightButton and self.image is not None:
            self._wl_anchor = (event.position(), self.center, self.width_)
            self.viewport().setCursor(Qt.CursorShape.SizeAllCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._wl_anchor is not None:
            start, center, width = self._wl_anchor
            delta = event.position() - start
            step = self._value_step()
            # Horizontal drag widens the window (contrast), vertical moves the level
            # (dragging down darkens), the usual PACS mapping.
            self.set_window(center + delta.y() * step, width + delta.x() * step * 2)
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.RightButton and self._wl_anchor is not None:
            self._wl_anchor = None
            self.viewport().unsetCursor()
            self.flush_render()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event) -> None:
        # Arrow keys belong to the worklist (previous/next image), not to scrolling.
        if event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            event.ignore()
            return
        super().keyPressEvent(event)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.image is None and self.placeholder:
            painter = QPainter(self.viewport())
            painter.setPen(QColor(170, 170, 170))
            font = painter.font()
            font.setPointSizeF(font.pointSizeF() * 1.25)
            painter.setFont(font)
            rect = self.viewport().rect().adjusted(40, 40, -40, -40)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            painter.end()
