"""The Grad-CAM overlay as the viewer draws it, built off the GUI thread.

A full-resolution map of a 2,000 px film coloured on the GUI thread froze the window for
about 150 ms each time a reader stepped to a pneumonia film with the overlay on. The map is
a smooth upsampling of the network's coarse grid (16 x 16 cells for the bundled network), so
the layer is built at most :data:`MAX_LAYER_SIDE` pixels on its longer side (by the model
worker, which computed the map) and the view stretches it over the film: nothing a reader can
see changes, even zoomed in.
A QImage may be built in any thread; only its QPixmap upload must happen on the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage

from ..model.gradcam import overlay
from .qimage import rgba_premultiplied_to_qimage

MAX_LAYER_SIDE = 1024


def heat_layer(heatmap: np.ndarray) -> np.ndarray:
    """The Grad-CAM heatmap as a premultiplied RGBA layer with alpha = heat.

    Drawn with layer opacity ``o`` over the grey image it gives grey*(1-o*h) + jet(h)*o*h,
    which is exactly ``gradcam.overlay(grey, heatmap, o)``; building it with ``overlay`` on
    a black image (jet(h)*h, i.e. premultiplied colour) keeps the core's colour map as the
    only one, so the viewer and ``xrayviewer predict --heatmap`` agree.
    """
    heat = np.clip(np.asarray(heatmap, dtype=np.float32), 0.0, 1.0)
    rgb = overlay(np.zeros(heat.shape, np.uint8), heat, 1.0)
    alpha = (heat * 255.0 + 0.5).astype(np.uint8)
    return np.dstack([np.minimum(rgb, alpha[..., None]), alpha])


@dataclass(frozen=True)
class HeatLayer:
    """A heatmap ready to draw: ``heat`` is the map at the film's full resolution (what an
    export composites), ``image`` its coloured layer, ``image.width()`` x ``image.height()``
    pixels stretched over the film's ``width`` x ``height``."""

    heat: np.ndarray
    image: QImage
    width: int
    height: int


def make_heat_layer(heat: np.ndarray, max_side: int = MAX_LAYER_SIDE) -> HeatLayer:
    """Colour ``heat`` ((H, W) in [0, 1]) into a layer of at most ``max_side`` px a side."""
    heat = np.asarray(heat, dtype=np.float32)
    h, w = heat.shape
    factor = max(h, w) / max_side
    small = heat
    if factor > 1:
        size = (max(1, round(w / factor)), max(1, round(h / factor)))
        small = np.asarray(Image.fromarray(heat, "F").resize(size, Image.BILINEAR, reducing_gap=2.0))
    return HeatLayer(heat, rgba_premultiplied_to_qimage(heat_layer(small)), w, h)
