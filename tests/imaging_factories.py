"""Tiny image and DICOM writers the imaging tests share (fixtures are written into tmp_path)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def gradient(h: int = 64, w: int = 96, dtype=np.uint8, lo: int = 0, hi: int = 255) -> np.ndarray:
    """A smooth 2-D ramp (survives JPEG nearly unchanged)."""
    y, x = np.mgrid[0:h, 0:w]
    ramp = (x / max(w - 1, 1)) * 0.7 + (y / max(h - 1, 1)) * 0.3
    return (lo + ramp * (hi - lo)).round().astype(dtype)


def write_dicom(path, pixels: np.ndarray, *, photometric: str = "MONOCHROME2", bits_stored: int | None = None,
                slope: float | None = None, intercept: float | None = None, center=None, width=None,
                frames: int | None = None, signed: bool = False, preamble: bool = True,
                transfer_syntax: str | None = None, pixel_data: bytes | None = None,
                encapsulated: bool = False, modality: str = "CR", view: str = "PA",
                include_pixels: bool = True, rows: int | None = None, cols: int | None = None,
                tags: dict | None = None) -> Path:
    """Write a small DICOM file with pydicom (Explicit VR Little Endian unless told otherwise).
    ``tags``: more attributes by keyword (PatientAge="004Y"), set last so they override."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    path = Path(path)
    arr = np.asarray(pixels)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax or ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.ViewPosition = view
    ds.BodyPartExamined = "CHEST"
    ds.PatientName = "Test^Patient"
    ds.PatientID = "T-0001"
    ds.StudyDate = "20240102"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    frame_shape = arr.shape[-2:]
    ds.Rows = rows if rows is not None else int(frame_shape[0])
    ds.Columns = cols if cols is not None else int(frame_shape[1])
    itemsize = arr.dtype.itemsize
    ds.BitsAllocated = 8 * itemsize
    ds.BitsStored = bits_stored or 8 * itemsize
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if frames is not None:
        ds.NumberOfFrames = frames
    if slope is not None:
        ds.RescaleSlope = slope
    if intercept is not None:
        ds.RescaleIntercept = intercept
    if center is not None:
        ds.WindowCenter = center
    if width is not None:
        ds.WindowWidth = width
    for keyword, value in (tags or {}).items():
        setattr(ds, keyword, value)
    if include_pixels:
        if pixel_data is not None:
            data = pixel_data
        else:
            data = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        if encapsulated:
            from pydicom.encaps import encapsulate

            data = encapsulate([data])
        ds.PixelData = data
        if encapsulated:
            ds["PixelData"].VR = "OB"
            ds["PixelData"].is_undefined_length = True
        else:
            ds["PixelData"].VR = "OW" if itemsize == 2 else "OB"
    ds.save_as(path, enforce_file_format=preamble)
    return path


def png_header_only(path, width: int, height: int) -> Path:
    """A valid-looking PNG that claims width x height grey pixels but holds a few bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    Path(path).write_bytes(body)
    return Path(path)


def allow_tiny_images(monkeypatch) -> None:
    """Let tests of decoding semantics use images of a few pixels (quick to write and to
    check pixel by pixel); the loader refuses them otherwise (tests/test_imaging_hostile.py)."""
    from xrayviewer.imaging import usable

    monkeypatch.setattr(usable, "MIN_SIDE", 1)
