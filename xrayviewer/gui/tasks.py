"""The functions the GUI runs as background tasks (:mod:`.background`) to read images off the
GUI thread.

Each speaks the core's progress protocol (``on_progress``, ``should_cancel``) and knows
nothing about Qt: per-file results travel as typed partial results (:class:`DecodedFile`)
through ``on_progress``, as the model service's events do.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np
from PIL import Image

from ..imaging import ImageLoadError, XRayImage, find_images, load_image, preprocess_uint8
from ..model.population import population_reasons
from ..progress import check_cancel, no_progress

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


@dataclass(frozen=True)
class DecodedFile:
    """One file of :func:`decode_images`, decoded once: what its worklist row needs.

    Either ``error`` (words for the reader) or the rest is set. ``image`` (the whole decoded
    picture) travels only for the first file read, so the viewer shows it without a second
    decode; the others are read again at full resolution when selected."""

    key: int
    name: str
    done: int  # files handled so far, this one included
    total: int
    thumbnail: Optional[np.ndarray] = None
    model_input: Optional[np.ndarray] = None
    file_reasons: tuple = ()
    image: Optional[XRayImage] = None
    screen: Any = None  # ``screen(image)`` for the kept image, when decode_images was given one
    error: str = ""


#: What the viewer makes of a decoded film on the worker thread before it reaches the GUI
#: thread (``screen_image.screen_qimage``: its pixels in the screen's form). Passed in, so these
#: functions stay free of Qt.
ScreenMaker = Callable[[XRayImage], Any]


@dataclass(frozen=True)
class FullImage:
    """:func:`load_full`'s result: the film, and ``screen(film)`` when a maker was given."""

    image: XRayImage
    screen: Any = None


def decode_images(items: Sequence[tuple[int, str]], on_progress: Callable[[DecodedFile], None] = no_progress,
                  should_cancel=None, keep_first_image: bool = True, screen: Optional[ScreenMaker] = None) -> int:
    """Decode each ``(key, path)`` once: thumbnail, the model's uint8 input, and what the file
    says that puts it outside the model's scope (colour, DICOM age, view, body part, modality),
    reported as one :class:`DecodedFile` per file, in order. The first image read is kept
    whole (``keep_first_image``), with ``screen(image)`` beside it.

    One unreadable file reports its error and the others go on. Returns the number of files read.
    """
    ok = 0
    for i, (key, path) in enumerate(items):
        check_cancel(should_cancel)
        name = os.path.basename(path)
        try:
            image = load_image(path)
            keep = keep_first_image and ok == 0
            decoded = DecodedFile(key, name, i + 1, len(items), thumbnail=thumbnail(image),
                                  model_input=preprocess_uint8(image),
                                  file_reasons=tuple(population_reasons(image)),
                                  image=image if keep else None,
                                  screen=_screen_form(screen, image) if keep else None)
            ok += 1
        except ImageLoadError as exc:
            decoded = DecodedFile(key, name, i + 1, len(items), error=str(exc))
        except Exception as exc:  # a decoder bug must cost one row, not the whole worklist
            log.exception("Unexpected failure reading %s", path)
            decoded = DecodedFile(key, name, i + 1, len(items),
                                  error=f"{name} could not be read ({type(exc).__name__}: {exc}).")
        on_progress(decoded)
    return ok


def load_full(path: str, on_progress=no_progress, should_cancel=None, screen: Optional[ScreenMaker] = None) -> FullImage:
    """The full-resolution image for the viewer, and ``screen(image)`` when given."""
    check_cancel(should_cancel)
    image = load_image(path)
    check_cancel(should_cancel)
    return FullImage(image, _screen_form(screen, image))


def _screen_form(screen: Optional[ScreenMaker], image: XRayImage):
    """``screen(image)``, or None when there is no maker or it fails (out of memory for a huge
    film, say): the film was read, and the view can still make the form itself."""
    if screen is None:
        return None
    try:
        return screen(image)
    except Exception:  # noqa: BLE001 - a convenience must not cost a readable film its row
        log.exception("Could not prepare %s for the screen on the loader's thread", image.path)
        return None
