"""load_image: the single entry point that turns any file a user gives into an XRayImage."""

from __future__ import annotations

import os
import stat

from .dicom import is_bare_dicom, is_dicom_file, load_dicom
from .errors import ImageLoadError
from .image import XRayImage
from .raster import load_raster

#: Extensions offered in file dialogs and picked up when a folder is opened. Files without an
#: extension are also checked for the DICOM signature (PACS exports often have none).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".dcm", ".dicom")


def load_image(path: str | os.PathLike) -> XRayImage:
    """Open a radiograph (JPEG, PNG, TIFF, BMP or DICOM, detected by content).

    Raises ImageLoadError, and only that, for anything the user can fix.
    """
    path = os.fspath(path)
    name = os.path.basename(path) or path
    if not os.path.exists(path):
        raise ImageLoadError(f"{name} does not exist (moved or deleted?).", path)
    if os.path.isdir(path):
        raise ImageLoadError(f"{name} is a folder, not an image.", path)
    try:
        info = os.stat(path)
    except OSError:
        raise ImageLoadError(f"{name} cannot be accessed.", path) from None
    if not stat.S_ISREG(info.st_mode):
        # A pipe would block the reader forever; a device (/dev/zero) never ends.
        raise ImageLoadError(f"{name} is not a regular file (a pipe, device or socket), not an image.", path)
    if info.st_size == 0:
        raise ImageLoadError(f"{name} is empty (0 bytes): the copy or download did not finish.", path)
    if not os.access(path, os.R_OK):
        raise ImageLoadError(f"{name} cannot be read: permission denied.", path)
    try:
        if is_dicom_file(path) or path.lower().endswith((".dcm", ".dicom")):
            return load_dicom(path)
        if "." not in os.path.basename(path) and is_bare_dicom(path):
            return load_dicom(path)  # an extension-less export without the DICOM preamble
        return load_raster(path)
    except ImageLoadError:
        raise
    except MemoryError:
        raise ImageLoadError(f"{name} is too large to open with the memory available.", path) from None
    except Exception:  # a decoder's own failure must cost this file, in words, not the batch
        raise ImageLoadError(
            f"{name} could not be read: the file is damaged or in a form XRay Viewer does not "
            "understand.", path) from None


def is_candidate_image(path: str) -> bool:
    """Whether a file met while walking a folder should be offered as an image."""
    lower = path.lower()
    if lower.endswith(IMAGE_EXTENSIONS):
        return True
    base = os.path.basename(lower)
    return "." not in base and is_dicom_file(path)


def find_images(paths) -> list[str]:
    """Expand files and folders (recursively, sorted) into the image files they name.

    Files named explicitly are kept whatever their extension, so that the user hears why an
    odd file was refused rather than having it vanish silently.
    """
    found: list[str] = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    full = os.path.join(root, f)
                    if not f.startswith(".") and is_candidate_image(full):
                        found.append(full)
        else:
            found.append(p)
    return found
