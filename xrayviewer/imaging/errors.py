"""The one exception type the imaging layer raises for input a user gave us."""


class ImageLoadError(Exception):
    """An image could not be opened or is not usable.

    ``str(error)`` is a complete sentence written for a radiologist (what is wrong with which
    file, and what to do), never a library's internal message. ``path`` names the file when
    known. Every loader in :mod:`xrayviewer.imaging` turns every failure (missing, empty,
    truncated, corrupt, unsupported, too large, DICOM without pixels) into this type.
    """

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path
