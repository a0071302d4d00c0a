"""A film's pixels in the form the screen takes, made on the worker thread that read the film.

Showing a film means a QPixmap, and a QPixmap of a grey QImage is a conversion to 32-bit
(Format_RGB32): 4 bytes a pixel, 14 MB for a 2,000 px film, written into fresh memory. On
the GUI thread that took 5-8 ms each time a film was shown (issue 15's longest stalls). A
QImage may be made and converted on any thread, and a QPixmap made from one already in
Format_RGB32 shares its pixels instead of converting them, so the loader converts and the
GUI thread only wraps: the film appears without the window pausing for it.

Only the film's default rendering (its own window, not inverted) is made here: later
window/level changes re-render on the GUI thread, coalesced during a drag (``image_view``).
"""

from __future__ import annotations

from typing import Optional

from PySide6.QtGui import QImage

from ..imaging import XRayImage
from .qimage import grey_to_qimage

#: The format a QPixmap holds an opaque picture in on every desktop platform Qt draws with.
SCREEN_FORMAT = QImage.Format.Format_RGB32


def screen_qimage(image: XRayImage) -> QImage:
    """The film at its default window as a QImage in SCREEN_FORMAT that owns its pixels (so
    it outlives the arrays it was made from, and may cross threads)."""
    return grey_to_qimage(image.display()).convertToFormat(SCREEN_FORMAT)


def matches(screen: Optional[QImage], image: XRayImage) -> bool:
    """Whether ``screen`` can stand for ``image``'s default rendering."""
    return (screen is not None and not screen.isNull() and screen.format() == SCREEN_FORMAT
            and screen.width() == image.width and screen.height() == image.height)
