"""A corpus of hostile inputs, written at test time (nothing large is committed).

``write_corpus(folder)`` writes one file (or special file) per kind and returns the kinds:
what each is and what a user must see for it. ``"error"``: an error row (no probability);
``"scored"``: a probability; ``"damaged"``: a probability flagged "image data damaged".
Run by tests/test_hostile_corpus.py through ``xrayviewer predict`` and the window; can also be
run by hand: ``python tests/hostile_corpus.py OUT_DIR``.
"""

from __future__ import annotations

import io
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from imaging_factories import gradient, png_header_only, write_dicom

TINY_DATASET = Path(__file__).parent / "fixtures" / "tiny_dataset"
GOOD_FILM = sorted((TINY_DATASET / "NORMAL").glob("*.jpeg"))[0]
GOOD_NAME = "good_film.jpeg"


@dataclass(frozen=True)
class Kind:
    name: str  # file name inside the corpus folder (str; one is made of non-UTF-8 bytes)
    expect: str  # "error" | "scored" | "damaged"
    words: tuple[str, ...] = ()  # words the error must contain (case-insensitive)


def _film(size: int = 256) -> np.ndarray:
    """The good film as 8-bit grey at ``size`` square (a real chest X-ray's structure)."""
    with Image.open(GOOD_FILM) as im:
        return np.asarray(im.convert("L").resize((size, size), Image.BILINEAR), dtype=np.uint8)


def _jpeg_bytes(arr: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes of JPEG whose header says width x height (the rest never came)."""
    data = bytearray(_jpeg_bytes(gradient(16, 16)))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    sos = data.find(b"\xff\xda")
    seg = struct.unpack(">H", data[sos + 2:sos + 4])[0]
    # Keep the header, ~40 bytes of scan data, then the end marker.
    return bytes(data[:sos + 2 + seg + 40]) + b"\xff\xd9"


def _corrupt_midstream(arr: np.ndarray) -> bytes:
    """A JPEG whose entropy-coded data has random bytes in the middle: it decodes, streaked."""
    data = bytearray(_jpeg_bytes(arr))
    sos = data.find(b"\xff\xda")
    start = sos + (len(data) - sos) // 2
    data[start:start + 300] = np.random.default_rng(13).integers(0, 256, 300, dtype=np.uint8).tobytes()
    return bytes(data)


def _tiff(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "TIFF")
    return buf.getvalue()


def _png(arr: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, **kw).save(buf, "PNG")
    return buf.getvalue()


def _dicom(folder: Path, name: str, pixels=None, **kw) -> bytes:
    """Bytes of a small DICOM made by imaging_factories.write_dicom (removed afterwards)."""
    tmp = folder / (".tmp-" + name)
    write_dicom(tmp, _film(128).astype(np.uint16) * 16 if pixels is None else pixels, **kw)
    data = tmp.read_bytes()
    tmp.unlink()
    return data


def _dicom_with(folder: Path, name: str, edit, **kw) -> bytes:
    """A DICOM whose dataset ``edit(ds)`` spoils, saved without pydicom's checks."""
    import pydicom

    raw = io.BytesIO(_dicom(folder, name, **kw))
    ds = pydicom.dcmread(raw)
    edit(ds)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _bad_modality_lut(ds) -> None:
    from pydicom.dataset import Dataset

    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]  # promises 4,096 entries
    item.ModalityLUTType = "HU"
    item.LUTData = b"\x00\x01" * 5  # holds five
    item["LUTData"].VR = "OW"
    ds.ModalityLUTSequence = [item]


def _bad_voi_lut(ds) -> None:
    from pydicom.dataset import Dataset

    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.LUTData = b"\x00\x01" * 3
    item["LUTData"].VR = "OW"
    ds.VOILUTSequence = [item]
    for kw in ("WindowCenter", "WindowWidth"):
        if kw in ds:
            del ds[kw]


def _rescale_text(folder: Path) -> bytes:
    """RescaleSlope 'abc' (pydicom refuses to write it, so the bytes are edited)."""
    data = _dicom(folder, "abc.dcm", slope=7.25, intercept=0)
    assert data.count(b"7.25") == 1
    return data.replace(b"7.25", b"abc ")


def _raw_dataset(folder: Path) -> bytes:
    """Just the data set: no preamble, no "DICM", no file meta (implicit VR little endian)."""
    import pydicom
    from pydicom.uid import ImplicitVRLittleEndian

    ds = pydicom.dcmread(io.BytesIO(_dicom(folder, "raw.dcm", transfer_syntax=ImplicitVRLittleEndian)))
    from pydicom.filebase import DicomBytesIO

    del ds.file_meta
    out = DicomBytesIO()
    out.is_little_endian, out.is_implicit_VR = True, True
    pydicom.filewriter.write_dataset(out, ds)
    return out.getvalue()


def _no_preamble(folder: Path) -> bytes:
    """A DICOM file with its file meta but without the 128-byte preamble and "DICM"."""
    return _dicom(folder, "nopre.dcm", preamble=False)


def write_corpus(folder) -> list[Kind]:
    """Write every kind into ``folder`` (created); returns the kinds in writing order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    film = _film()
    kinds: list[Kind] = []

    def add(name: str, expect: str, data: bytes | None, *words: str) -> None:
        if data is not None:
            (folder / name).write_bytes(data)
        kinds.append(Kind(name, expect, tuple(words)))

    good = GOOD_FILM.read_bytes()
    add(GOOD_NAME, "scored", good)

    # ---- truncated, corrupt, renamed --------------------------------------------------------
    add("empty.jpeg", "error", b"", "empty")
    add("half.jpeg", "error", good[: len(good) // 2], "truncated")
    add("header_only.jpeg", "error", good[:300])
    add("garbled.jpeg", "error", good[:400] + np.random.default_rng(1).integers(0, 256, 3000, np.uint8).tobytes())
    add("report.jpg", "error", b"Findings: clear lungs.\n" * 40, "JPEG")
    add("noise.png", "error", np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    png = bytearray(_png(film))
    png[30] ^= 0xFF
    add("bad_crc.png", "error", bytes(png))
    whole_png = _png(film)
    add("half.png", "error", whole_png[: len(whole_png) // 2])
    gif = io.BytesIO()
    Image.fromarray(film).save(gif, "GIF")
    add("really_a_gif.png", "error", gif.getvalue(), "GIF")
    add("zip_renamed.tiff", "error", b"PK\x03\x04" + bytes(200))
    add("corrupt_midstream.jpeg", "damaged", _corrupt_midstream(film))

    # ---- bombs and no usable picture ----------------------------------------------------------
    png_header_only(folder / "bomb.png", 50_000, 50_000)
    kinds.append(Kind("bomb.png", "error"))
    png_header_only(folder / "wide_bomb.png", 20_000, 10_000)
    kinds.append(Kind("wide_bomb.png", "error"))
    add("tiny_9000.jpeg", "error", _jpeg_declaring(9000, 9000))
    add("zeros16.png", "error", _png(np.zeros((256, 256), np.uint16)), "blank")
    add("max16.png", "error", _png(np.full((256, 256), 65535, np.uint16)), "blank")
    add("white.jpeg", "error", _jpeg_bytes(np.full((256, 256), 255, np.uint8)), "blank")
    transparent = np.zeros((256, 256, 4), np.uint8)
    transparent[..., :3] = film[..., None]
    add("transparent.png", "error", _png(transparent), "blank")
    add("one_pixel.png", "error", _png(np.full((1, 1), 128, np.uint8)), "pixels")
    add("sliver_3x50000.png", "error", _png(gradient(50_000, 3)), "pixels")
    add("small_40x40.png", "error", _png(film[::6, ::6][:40, :40]), "pixels")
    add("banner_1200x200.png", "error", _png(np.tile(film[:200], (1, 5))[:, :1200]), "narrow")
    nan = film.astype(np.float32)
    nan[100:120, 100:120] = np.nan
    add("nan.tiff", "error", _tiff(nan), "not numbers")
    inf = film.astype(np.float32)
    inf[0, 0] = np.inf
    add("inf.tiff", "error", _tiff(inf), "not numbers")

    # ---- accepted oddities ---------------------------------------------------------------------
    add("deep16.png", "scored", _png(film.astype(np.uint16) * 257))
    Image.fromarray(film).convert("P").save(folder / "palette.png")
    kinds.append(Kind("palette.png", "scored"))
    Image.fromarray(film).convert("CMYK").save(folder / "cmyk.jpeg")
    kinds.append(Kind("cmyk.jpeg", "scored"))
    Image.fromarray(film).convert("1").save(folder / "bilevel.bmp")
    kinds.append(Kind("bilevel.bmp", "scored"))
    pages = [Image.fromarray(film), Image.fromarray(255 - film)]
    pages[0].save(folder / "two_pages.tiff", save_all=True, append_images=pages[1:])
    kinds.append(Kind("two_pages.tiff", "scored"))
    add("progressive.jpeg", "scored", _jpeg_bytes(film, progressive=True))
    add("float.tiff", "scored", _tiff(film.astype(np.float32) / 255.0))

    # ---- odd file names -------------------------------------------------------------------------
    add("x" * 245 + ".jpeg", "scored", good)  # 250 characters
    add('comma, "quote" and space.jpeg', "scored", good)
    add("röntgen_胸部_🫁.jpeg", "scored", good)
    bad_utf8 = os.fsdecode(b"latin1_\xe9\xff.jpeg")  # not valid UTF-8: surrogate escapes in Python
    add(bad_utf8, "scored", good)
    add("line\nbreak.jpeg", "scored", good)

    # ---- special files --------------------------------------------------------------------------
    os.symlink(folder / GOOD_NAME, folder / "link_to_good.jpeg")
    kinds.append(Kind("link_to_good.jpeg", "scored"))
    os.symlink(folder / "nowhere.jpeg", folder / "dangling.jpeg")
    kinds.append(Kind("dangling.jpeg", "error", ("does not exist",)))
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.jpeg")
        kinds.append(Kind("pipe.jpeg", "error", ("not a regular file",)))
    if os.path.exists("/dev/zero"):
        os.symlink("/dev/zero", folder / "devzero.dcm")
        kinds.append(Kind("devzero.dcm", "error"))

    # ---- DICOM -----------------------------------------------------------------------------------
    add("good16.dcm", "scored", _dicom(folder, "good16.dcm", bits_stored=12, center=2048, width=4096))
    add("mono1.dcm", "scored", _dicom(folder, "mono1.dcm", photometric="MONOCHROME1"))
    add("no_preamble.dcm", "scored", _no_preamble(folder))
    add("raw_dataset", "scored", _raw_dataset(folder))  # no extension: offered by content? named explicitly
    add("ct.dcm", "scored", _dicom(folder, "ct.dcm", modality="CT"))  # scored, flagged by population
    add("no_pixels.dcm", "error", _dicom(folder, "no_pixels.dcm", include_pixels=False), "no pixel data")
    add("random_after_dicm.dcm", "error",
        bytes(128) + b"DICM" + np.random.default_rng(5).integers(0, 256, 4000, np.uint8).tobytes(), "damaged")
    whole = _dicom(folder, "cut.dcm")
    add("cut_in_half.dcm", "error", whole[: len(whole) // 2], "cut short")
    with open(folder / "zeros_128mb.dcm", "wb") as fh:  # sparse: no 128 MB on disk
        fh.truncate(128 * 2**20)
    kinds.append(Kind("zeros_128mb.dcm", "error", ("not a DICOM",)))
    add("bad_modality_lut.dcm", "error", _dicom_with(folder, "mlut.dcm", _bad_modality_lut), "modality LUT")
    add("bad_voi_lut.dcm", "error", _dicom_with(folder, "vlut.dcm", _bad_voi_lut), "VOI LUT")
    add("rescale_abc.dcm", "error", _rescale_text(folder), "rescale")
    add("huge_dims.dcm", "error", _dicom(folder, "huge.dcm", gradient(8, 8), rows=60000, cols=60000))
    add("short_pixels.dcm", "error", _dicom(folder, "short.dcm", rows=512, cols=512))
    add("jpeg2000_garbage.dcm", "error",
        _dicom(folder, "j2k.dcm", pixel_data=bytes(range(256)) * 8, encapsulated=True,
               transfer_syntax="1.2.840.10008.1.2.4.90"))
    add("constant.dcm", "error", _dicom(folder, "const.dcm", np.full((128, 128), 700, np.uint16)), "blank")
    add("text.dcm", "error", b"not a dicom file at all\n" * 30)
    return kinds


if __name__ == "__main__":
    for k in write_corpus(sys.argv[1]):
        print(f"{k.expect:8} {k.name!r}")
