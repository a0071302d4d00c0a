"""DICOM radiographs through pydicom: modality rescale, VOI window/LUT, MONOCHROME1."""

from __future__ import annotations

import datetime
import os
import re

import numpy as np

from .errors import ImageLoadError
from .image import DicomInfo, XRayImage
from .raster import MAX_PIXELS, colourfulness_of_array
from .windowing import full_range_window


def is_dicom_file(path: str) -> bool:
    """True when the file carries the DICOM Part 10 signature ("DICM" at byte 128)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _first(value) -> float | None:
    """First number of a possibly multi-valued DICOM attribute."""
    if value is None:
        return None
    try:
        return float(value[0]) if hasattr(value, "__len__") and not isinstance(value, str) else float(value)
    except (TypeError, ValueError, IndexError):
        return None


def _can_decode(syntax) -> bool:
    """Whether an installed pixel-data decoder handles this transfer syntax."""
    try:
        from pydicom.pixels import get_decoder

        return bool(syntax) and get_decoder(syntax).is_available
    except Exception:  # unknown syntax, or a pydicom without the decoder registry
        return False


def _text(ds, keyword: str) -> str:
    value = ds.get(keyword, "")
    return str(value) if value is not None else ""


_AGE_UNIT_YEARS = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0}


def parse_age_string(value) -> float | None:
    """Years in a DICOM Age String ("004Y", "018M", "010W", "003D"); None when unreadable.

    Some modalities write a bare number ("62"); it is read as years, the common meaning.
    """
    text = str(value or "").strip().upper()
    match = re.fullmatch(r"(\d{1,3})\s*([DWMY]?)", text)
    if not match:
        return None
    return int(match.group(1)) * _AGE_UNIT_YEARS[match.group(2) or "Y"]


def _date(value):
    text = str(value or "").strip()
    try:
        return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def patient_age_years(ds) -> float | None:
    """The patient's age at the study, in years: the PatientAge tag, else the study (or
    acquisition) date minus the birth date; None when the file says neither."""
    age = parse_age_string(ds.get("PatientAge", ""))
    if age is not None:
        return age
    born = _date(ds.get("PatientBirthDate", ""))
    taken = _date(ds.get("StudyDate", "")) or _date(ds.get("AcquisitionDate", ""))
    if born is None or taken is None or taken < born:
        return None
    return (taken - born).days / 365.25


def load_dicom(path: str) -> XRayImage:
    """Read a DICOM file into an XRayImage whose display follows the file's own window."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    name = os.path.basename(path)
    try:
        ds = pydicom.dcmread(path, force=not is_dicom_file(path))
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError, AttributeError):
        raise ImageLoadError(f"{name} is not a readable DICOM file (damaged or truncated).", path) from None
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise ImageLoadError(
            f"{name} is a DICOM file without an image (no pixel data): it may be a report, "
            "a structured document or a presentation state.", path)
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if rows * cols > MAX_PIXELS:
        raise ImageLoadError(f"{name} is {cols:,} x {rows:,} pixels, larger than any radiograph.", path)
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    syntax_name = getattr(syntax, "name", str(syntax or ""))
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        arr = ds.pixel_array
    except (NotImplementedError, RuntimeError) as exc:
        if not _can_decode(syntax):
            raise ImageLoadError(
                f"{name} is compressed as '{syntax_name}', which XRay Viewer cannot decode. "
                "Export it uncompressed or as JPEG baseline from the PACS.", path) from exc
        # A decoder for this transfer syntax exists but failed. Either the data is broken or it
        # uses a variant the bundled decoders lack (Pillow's JPEG decodes 8-bit, not 12-bit,
        # "JPEG Extended"); pydicom's error does not say which, so the message names both.
        raise ImageLoadError(
            f"{name}: the compressed DICOM image data ('{syntax_name}') could not be decoded. "
            "It is damaged, or uses a variant of this compression that XRay Viewer does not "
            "support (such as 12-bit JPEG). Export it again, uncompressed, from the PACS.",
            path) from None
    except Exception:  # pydicom raises many types for broken pixel data
        raise ImageLoadError(
            f"{name}: the DICOM image data is damaged or incomplete. Export it again from the PACS.",
            path) from None

    if frames > 1:
        arr = arr[0]  # a radiograph is one frame; show the first of a multi-frame object
    photometric = _text(ds, "PhotometricInterpretation").upper()
    chroma = 0.0
    if arr.ndim == 3:  # colour DICOM (RGB, YBR already converted by pydicom): show its luminance
        # Keep how colourful it was: a colour picture is not a radiograph, and the model's
        # out-of-distribution rule needs to know even though the display is grey.
        stored_bits = int(ds.get("BitsStored", 8) or 8)
        chroma = colourfulness_of_array(arr, float(2 ** stored_bits - 1))
        arr = (arr[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
    if arr.ndim != 2 or arr.size == 0:
        raise ImageLoadError(f"{name} holds no usable picture.", path)

    bits = int(ds.get("BitsStored", 8) or 8)
    pixels = apply_modality_lut(arr, ds)  # rescale slope/intercept or modality LUT
    center = _first(ds.get("WindowCenter"))
    width = _first(ds.get("WindowWidth"))
    if (center is None or width is None or width <= 0) and "VOILUTSequence" in ds:
        # A non-linear VOI LUT: bake it into the pixels, then show its whole output range.
        pixels = apply_voi_lut(pixels, ds)
        center = width = None
    if center is None or width is None or width <= 0:
        # No window in the file. 8-bit data is shown as stored, like an 8-bit JPEG (and so a
        # MONOCHROME1 copy of a MONOCHROME2 image displays identically, value for value);
        # deeper data has no natural white point, so the window spans its range.
        if bits <= 8 and pixels.min() >= 0 and pixels.max() <= 255:
            center, width = full_range_window(np.array([0, 255]))
        else:
            center, width = full_range_window(pixels)
    if pixels.dtype not in (np.uint8, np.uint16):
        if np.issubdtype(pixels.dtype, np.integer) and pixels.min() >= 0 and pixels.max() <= 65535:
            pixels = pixels.astype(np.uint8 if pixels.max() <= 255 and bits <= 8 else np.uint16)
        else:
            pixels = pixels.astype(np.float32)

    info = DicomInfo(
        modality=_text(ds, "Modality"),
        photometric_interpretation=photometric,
        view_position=_text(ds, "ViewPosition"),
        body_part=_text(ds, "BodyPartExamined"),
        transfer_syntax=syntax_name,
        number_of_frames=frames,
        patient_name=_text(ds, "PatientName"),
        patient_id=_text(ds, "PatientID"),
        study_date=_text(ds, "StudyDate"),
        patient_age_years=patient_age_years(ds),
    )
    return XRayImage(
        pixels=np.ascontiguousarray(pixels),
        source_format="DICOM",
        bit_depth=bits,
        window_center=float(center),
        window_width=float(width),
        path=path,
        invert=photometric == "MONOCHROME1",
        original_mode=photometric,
        dicom=info,
        file_size=os.path.getsize(path),
        colourfulness=chroma,
    )
