"""JPEG, PNG, TIFF and BMP through Pillow, with every failure turned into ImageLoadError."""

from __future__ import annotations

import os
import warnings
from typing import Optional

import numpy as np
from PIL import Image, ImageChops, ImageOps, UnidentifiedImageError

from .errors import ImageLoadError
from .image import XRayImage
from .jpeg_bands import decode_in_halves
from .jpeg_check import JpegCheck, check_jpeg
from .pillow_arrays import decode_grey_into, grey_array
from .usable import check_dimensions, check_pixels
from .windowing import full_range_window

#: Raster formats the viewer accepts (Pillow format names).
SUPPORTED_RASTER_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "TIFF": "TIFF", "BMP": "BMP", "MPO": "JPEG"}

#: Largest image we decode, Pillow's own decompression-bomb limit (~89 million pixels, e.g.
#: 9,400 x 9,400): far above any radiograph (a 43 x 43 cm detector at 100 um pitch is 4,300 px,
#: a mammogram ~4,000 x 5,600), while a "bomb" of a few KB that expands to gigabytes is refused
#: before a single pixel is decoded. Pillow warns at this size; we treat that as an error.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485

_ORIENTATION = 0x0112  # the EXIF tag exif_transpose reads


def colourfulness(rgb: Image.Image) -> float:
    """Hasler & Suesstrunk (2003) colourfulness, on a small copy (0 for grey pictures)."""
    factor = max(1, min(rgb.size) // 128)
    # reduce(1) is a full copy (0.3 ms for a 224 px film, a tenth of scoring one): skip it.
    small = rgb.reduce(factor) if factor > 1 else rgb
    if _bands_equal(small):
        # Grey stored as RGB (every film of the training set): R = G = B, so every chroma term
        # is exactly 0 and so is the measure.
        return 0.0
    return colourfulness_of_array(np.asarray(small).astype(np.float32))


def _bands_equal(rgb: Image.Image) -> bool:
    """R = G = B everywhere, compared inside Pillow: half the time of comparing numpy copies,
    which go through Pillow's chunked ``tobytes`` (0.06 against 0.12 ms for a 224 px film)."""
    red, green, blue = rgb.split()[:3]
    return (ImageChops.difference(red, green).getbbox() is None
            and ImageChops.difference(green, blue).getbbox() is None)


def colourfulness_of_array(rgb: np.ndarray, max_value: float = 255.0) -> float:
    """The same measure for an (H, W, 3+) array whose channels span 0..``max_value``.

    Used for colour DICOM, whose samples may be 16-bit: they are put on the 8-bit scale first
    so one threshold serves every source.
    """
    step = max(1, min(rgb.shape[:2]) // 128)
    small = rgb[::step, ::step, :3].astype(np.float32) * (255.0 / max_value)
    rg = small[..., 0] - small[..., 1]
    yb = 0.5 * (small[..., 0] + small[..., 1]) - small[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def _grey_times_alpha(rgba: Image.Image, band_rows: int = 512) -> np.ndarray:
    """uint8 grey of an RGBA picture composited over black (grey x alpha / 255, rounded),
    a band of rows at a time so the temporaries stay small."""
    width, height = rgba.size
    out = np.empty((height, width), dtype=np.uint8)
    for top in range(0, height, band_rows):
        bottom = min(top + band_rows, height)
        la = np.asarray(rgba.crop((0, top, width, bottom)).convert("LA"), dtype=np.uint16)
        out[top:bottom] = (la[..., 0] * la[..., 1] + 127) // 255
    return out


def _to_grey_array(img: Image.Image) -> tuple[np.ndarray, int, float]:
    """(2-D array, bit depth, colourfulness) for any Pillow mode."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(img, dtype=np.uint16), 16, 0.0
    if mode == "I":
        arr = np.asarray(img, dtype=np.int32)  # mode I is 32-bit: int64 doubled a big file's peak
        lo, hi = int(arr.min()), int(arr.max())
        if lo >= 0 and hi <= 65535:
            return arr.astype(np.uint16), 16, 0.0
        return arr.astype(np.float32), 32, 0.0
    if mode == "F":
        return np.asarray(img, dtype=np.float32), 32, 0.0
    if mode == "L":
        return grey_array(img), 8, 0.0
    if mode == "1":
        return np.asarray(img.convert("L"), dtype=np.uint8), 1, 0.0
    if mode in ("LA", "La", "PA", "P", "RGBA", "RGBa") or "A" in mode or "transparency" in img.info:
        # Transparent pixels become black (the radiograph background), not white noise:
        # grey x alpha, which is what compositing over black gives. Done in grey, not RGBA:
        # a 9,400 x 9,400 RGBA PNG peaked at 5.7 GB through RGBA composites and RGB copies.
        # Colourfulness is measured on a reduced composite (it samples anyway).
        rgba = img if img.mode == "RGBA" else img.convert("RGBA")
        small = rgba.reduce(max(1, min(rgba.size) // 256))
        chroma = colourfulness(Image.alpha_composite(Image.new("RGBA", small.size, (0, 0, 0, 255)), small).convert("RGB"))
        return _grey_times_alpha(rgba), 8, chroma
    elif mode != "RGB":
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV, palette without alpha
    chroma = colourfulness(img)
    return grey_array(img.convert("L")), 8, chroma


def _jpeg_check(path: str, name: str, width: int, height: int) -> tuple[JpegCheck, bytes]:
    """The walk over the JPEG's compressed data (damaged: decoded, but flagged) and the file's
    bytes; refuses one whose data is mostly missing."""
    with open(path, "rb") as fh:
        data = fh.read()
    check = check_jpeg(data)
    if check.too_little_data:
        raise ImageLoadError(
            f"{name} holds far too little image data for the {width:,} x {height:,} pixels it "
            "declares: most of the picture is missing (truncated or damaged).", path)
    return check, data


def _fast_grey_jpeg(img: Image.Image, check: JpegCheck, data: bytes) -> Optional[np.ndarray]:
    """The pixels of an upright, undamaged grey JPEG decoded straight into numpy (in two halves
    on two cores when it is large and written with restart markers), or None for the ordinary
    path. The same bytes either way (tests/test_fast_paths.py)."""
    if img.mode != "L" or check.damage or check.layout is None or img.getexif().get(_ORIENTATION, 1) != 1:
        return None
    arr = decode_in_halves(data, check.layout, *img.size)
    if arr is None:
        arr = np.empty((img.height, img.width), dtype=np.uint8)
        if not decode_grey_into(img, arr):
            arr = grey_array(img)
    return arr


def load_raster(path: str) -> XRayImage:
    """Decode a raster file to an XRayImage at full resolution."""
    name = os.path.basename(path)
    damaged = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # "with": the file is closed on every path (multi-page TIFFs and failed decodes
            # would otherwise keep it open, and locked on Windows, until garbage collection).
            with Image.open(path) as img:
                fmt = img.format or "?"
                if fmt not in SUPPORTED_RASTER_FORMATS:
                    raise ImageLoadError(
                        f"{name} is a {fmt} image, which XRay Viewer does not open. "
                        "Use JPEG, PNG, TIFF, BMP or DICOM.", path)
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise ImageLoadError(
                        f"{name} claims to be {width:,} x {height:,} pixels, far larger than any "
                        "radiograph; it was not opened to protect the computer's memory.", path)
                check_dimensions(width, height, name, path)
                arr = None
                if fmt in ("JPEG", "MPO"):
                    check, data = _jpeg_check(path, name, width, height)
                    damaged = bool(check.damage)
                    if fmt == "JPEG":  # an MPO's bytes hold further pictures after the first
                        arr = _fast_grey_jpeg(img, check, data)
                if arr is not None:
                    bits, chroma = 8, 0.0
                else:
                    img.load()
                    ImageOps.exif_transpose(img, in_place=True)  # a copy otherwise, even when upright
                    arr, bits, chroma = _to_grey_array(img)
                original_mode = img.mode
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageLoadError(
            f"{name} is far larger than any radiograph; it was not opened to protect the "
            "computer's memory.", path) from None
    except UnidentifiedImageError:
        raise ImageLoadError(
            f"{name} is not an image XRay Viewer can read (unknown or damaged format). "
            "Use JPEG, PNG, TIFF, BMP or DICOM.", path) from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError, IndexError, TypeError) as exc:
        detail = "the file is truncated" if "truncated" in str(exc).lower() else "the file is damaged"
        raise ImageLoadError(f"{name} could not be read: {detail}.", path) from None
    if arr.ndim != 2 or arr.size == 0:
        raise ImageLoadError(f"{name} holds no usable picture.", path)
    check_pixels(arr, name, path)
    # 8-bit pictures are shown (and fed to the model) as stored, as the seed did; deeper ones
    # have no natural white point, so their default window spans the data.
    if arr.dtype == np.uint8:
        center, width_ = full_range_window(np.array([0, 255], dtype=np.uint8))
    else:
        center, width_ = full_range_window(arr)
    return XRayImage(
        pixels=arr,
        source_format=SUPPORTED_RASTER_FORMATS[fmt],
        bit_depth=bits,
        window_center=center,
        window_width=width_,
        path=path,
        colourfulness=chroma,
        original_mode=original_mode,
        file_size=os.path.getsize(path),
        data_damaged=damaged,
    )
