"""DICOM radiographs through pydicom: modality rescale, VOI window/LUT, MONOCHROME1."""

from __future__ import annotations

import datetime
import io
import math
import os
import re
import struct

import numpy as np

from .errors import ImageLoadError
from .image import DicomInfo, XRayImage
from .raster import MAX_PIXELS, colourfulness_of_array
from .usable import check_dimensions, check_pixels
from .windowing import full_range_window


def is_dicom_file(path: str) -> bool:
    """True when the file carries the DICOM Part 10 signature ("DICM" at byte 128)."""
    if not os.path.isfile(path):  # opening a pipe met while walking a folder would block
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _starts_like_dataset(head: bytes, file_size: int) -> bool:
    """Whether bytes without the "DICM" signature begin like a DICOM data set: an element tag
    of group 0002 (file meta) or 0008 (identification, where every image's data set starts),
    then an explicit VR or an implicit length that fits in the file. A file of zeros, text or
    another format does not, and is refused at once (pydicom, forced, spent 38 s walking
    128 MB of zeros)."""
    if len(head) < 8:
        return False
    group, _element = struct.unpack("<HH", head[:4])
    if group not in (0x0002, 0x0008):
        return False
    vr = head[4:6]
    if vr.isalpha() and vr.isupper():
        return True  # explicit VR
    return struct.unpack("<I", head[4:8])[0] <= file_size  # implicit VR: a length that fits


def is_bare_dicom(path: str) -> bool:
    """A DICOM file without its 128-byte preamble: the "DICM" signature at byte 0, or a data
    set straight away (some PACS exports and old archives)."""
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
        return head[:4] == b"DICM" or _starts_like_dataset(head, os.path.getsize(path))
    except OSError:
        return False


def _read_dataset(path: str, name: str):
    """pydicom's data set for ``path``, also without the 128-byte preamble (with or without
    the "DICM" signature and file meta), or ImageLoadError."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    source = path
    if not is_dicom_file(path):
        with open(path, "rb") as fh:
            head = fh.read(8)
        if head[:4] == b"DICM":  # the signature without the preamble before it
            with open(path, "rb") as fh:
                source = io.BytesIO(bytes(128) + fh.read())
        elif not _starts_like_dataset(head, os.path.getsize(path)):
            raise ImageLoadError(
                f"{name} is not a DICOM file (no DICOM signature, and it does not start like a "
                "DICOM data set), nor an image XRay Viewer can read.", path)
    try:
        ds = pydicom.dcmread(source, force=True)
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError, AttributeError,
            struct.error, IndexError, OverflowError, MemoryError):
        raise ImageLoadError(f"{name} is not a readable DICOM file (damaged or truncated).", path) from None
    meta = getattr(ds, "file_meta", None)
    if meta is None or "TransferSyntaxUID" not in meta:
        # A bare data set (no file meta): its encoding is how pydicom just read it.
        from pydicom.dataset import FileMetaDataset
        from pydicom.uid import (
            ExplicitVRBigEndian,
            ExplicitVRLittleEndian,
            ImplicitVRLittleEndian,
        )

        implicit, little = ds.original_encoding
        if meta is None:
            ds.file_meta = meta = FileMetaDataset()
        meta.TransferSyntaxUID = (ImplicitVRLittleEndian if implicit else
                                  ExplicitVRLittleEndian if little else ExplicitVRBigEndian)
    return ds


def _no_pixels_message(ds, name: str) -> str:
    """Why a DICOM data set without pixel data is not an image, as precisely as it says."""
    rows, cols = _int(ds, "Rows"), _int(ds, "Columns")
    if rows and cols:
        return (f"{name} has no pixel data although its header describes a {cols:,} x {rows:,} image: "
                "the pixel data was left out or cut off. Export it again from the PACS.")
    if not any(k in ds for k in ("SOPClassUID", "Modality", "StudyInstanceUID", "PatientID")):
        return (f"{name} starts like a DICOM file but its header is damaged: no readable DICOM "
                "attributes follow the signature.")
    sop = ds.get("SOPClassUID")
    what = getattr(sop, "name", "") if sop else ""
    return (f"{name} is a DICOM file without an image (no pixel data): it may be a report, "
            "a structured document or a presentation state" + (f" ({what})." if what else "."))


def _int(ds, keyword: str) -> int:
    try:
        return int(ds.get(keyword, 0) or 0)
    except (TypeError, ValueError):
        return 0


def _expected_pixel_bytes(ds, rows: int, cols: int, frames: int) -> int:
    """Bytes native (uncompressed) pixel data of this size and depth takes; 0 if unknown."""
    bits = _int(ds, "BitsAllocated")
    samples = _int(ds, "SamplesPerPixel") or 1
    if bits <= 0:
        return 0
    return (rows * cols * frames * samples * bits + 7) // 8


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


def _modality_values(arr, ds, name: str, path: str):
    """The stored values through the modality rescale (slope/intercept) or modality LUT."""
    from pydicom.pixels import apply_modality_lut

    if "ModalityLUTSequence" not in ds:
        for keyword in ("RescaleSlope", "RescaleIntercept"):
            if keyword in ds and ds[keyword].value not in (None, "") and not _is_finite_number(ds[keyword].value):
                raise ImageLoadError(
                    f"{name}: its {keyword} ({str(ds[keyword].value)[:20]!r}) is not a number, so its "
                    "pixel values cannot be converted (rescale). Export it again from the PACS.", path)
    return _through_table(apply_modality_lut, arr, ds, "modality LUT (the table that converts stored values)",
                          name, path)


def _voi_values(pixels, ds, name: str, path: str):
    from pydicom.pixels import apply_voi_lut

    return _through_table(apply_voi_lut, pixels, ds, "VOI LUT (the table that sets its display grey levels)",
                          name, path)


def _through_table(apply, values, ds, table: str, name: str, path: str):
    """``apply(values, ds)`` (one of pydicom's LUT functions); a malformed table in the file
    (struct.error, IndexError, ValueError... from pydicom) becomes this file's error in words."""
    try:
        return apply(values, ds)
    except Exception:
        raise ImageLoadError(
            f"{name}: its {table} is damaged or does not match the pixel data. "
            "Export it again from the PACS.", path) from None


def _is_finite_number(value) -> bool:
    number = _first(value)
    return number is not None and math.isfinite(number)


def load_dicom(path: str) -> XRayImage:
    """Read a DICOM file into an XRayImage whose display follows the file's own window."""
    name = os.path.basename(path)
    ds = _read_dataset(path, name)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise ImageLoadError(_no_pixels_message(ds, name), path)
    rows, cols = _int(ds, "Rows"), _int(ds, "Columns")
    if rows * cols > MAX_PIXELS:
        raise ImageLoadError(f"{name} is {cols:,} x {rows:,} pixels, larger than any radiograph.", path)
    check_dimensions(cols, rows, name, path)
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    syntax_name = getattr(syntax, "name", str(syntax or ""))
    frames = max(1, _int(ds, "NumberOfFrames"))
    expected = _expected_pixel_bytes(ds, rows, cols, frames)
    if "PixelData" in ds and not getattr(syntax, "is_compressed", False) and expected:
        have = len(ds.PixelData or b"")
        if have < expected:
            raise ImageLoadError(
                f"{name} is cut short: its pixel data holds {have:,} of the {expected:,} bytes its "
                "header promises (an unfinished copy?). Export it again from the PACS.", path)
    try:
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
        stored_bits = min(_int(ds, "BitsStored") or 8, 32)
        chroma = colourfulness_of_array(arr, float(2 ** stored_bits - 1))
        arr = (arr[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
    if arr.ndim != 2 or arr.size == 0:
        raise ImageLoadError(f"{name} holds no usable picture.", path)

    bits = _int(ds, "BitsStored") or 8
    pixels = _modality_values(arr, ds, name, path)
    center = _first(ds.get("WindowCenter"))
    width = _first(ds.get("WindowWidth"))
    if (center is None or width is None or width <= 0) and "VOILUTSequence" in ds:
        # A non-linear VOI LUT: bake it into the pixels, then show its whole output range.
        pixels = _voi_values(pixels, ds, name, path)
        center = width = None
    check_pixels(pixels, name, path)
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
