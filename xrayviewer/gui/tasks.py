"""The functions the GUI runs as background tasks (:mod:`.background`) to read images off the
GUI thread.

Each speaks the core's progress protocol (``on_progress``, ``should_cancel``) and knows
nothing about Qt: per-file results travel in ``Progress.values``.
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np
from PIL import Image

from ..imaging import ImageLoadError, XRayImage, find_images, load_image, preprocess_uint8
from ..model.population import population_reasons
from ..progress import Progress, check_cancel, no_progress

log = logging.getLogger(__name__)

THUMBNAIL_SIZE = 72


def expand_paths(paths: Sequence[str], on_progress=no_progress, should_cancel=None) -> list[str]:
    """Files and folders to image files; folders are walked here because a network share
    can take seconds to list."""
    check_cancel(should_cancel)
    return find_images(paths)


def thumbnail(image: XRayImage, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """A small uint8 picture of the image at its default window, aspect kept."""
    grey = Image.fromarray(image.display())
    grey.thumbnail((size, size), Image.BILINEAR, reducing_gap=2.0)
    return np.asarray(grey, dtype=np.uint8)


def decode_images(items: Sequence[tuple[int, str]], on_progress=no_progress, should_cancel=None,
                  keep_first_image: bool = True) -> int:
    """Decode each ``(key, path)`` once: thumbnail, the model's uint8 input, and what the file
    says that puts it outside the model's scope (colour, DICOM age, view, body part, modality).

    One unreadable file reports its error and the others go on. The first decoded image
    travels whole (``values["image"]``) so the viewer can show it without a second decode.
    Returns the number of files read.
    """
    ok = 0
    for i, (key, path) in enumerate(items):
        check_cancel(should_cancel)
        name = os.path.basename(path)
        values: dict = {"key": key}
        try:
            image = load_image(path)
            values.update(thumbnail=thumbnail(image), input=preprocess_uint8(image),
                          file_reasons=population_reasons(image))
            if keep_first_image and ok == 0:
                values["image"] = image
            ok += 1
        except ImageLoadError as exc:
            values["error"] = str(exc)
        except Exception as exc:  # a decoder bug must cost one row, not the whole worklist
            log.exception("Unexpected failure reading %s", path)
            values["error"] = f"{name} could not be read ({type(exc).__name__}: {exc})."
        on_progress(Progress("decode", i + 1, len(items), name, values))
    return ok


def load_full(path: str, on_progress=no_progress, should_cancel=None) -> XRayImage:
    """The full-resolution image for the viewer."""
    check_cancel(should_cancel)
    return load_image(path)
