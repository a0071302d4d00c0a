"""The faster decode and scoring paths (issue 15) give the same bytes, verdicts and
probabilities as the plain ones they replaced: the model input must not move at all."""

from __future__ import annotations

import io
import random
import struct
import threading

import numpy as np
import pytest
from PIL import Image

from conftest import TINY_DATASET
from xrayviewer.imaging import load_image, preprocess, preprocess_uint8
from xrayviewer.imaging.jpeg_check import _RST, check_jpeg
from xrayviewer.imaging.pillow_arrays import grey_array
from xrayviewer.imaging.raster import colourfulness, colourfulness_of_array

TINY_FILES = sorted(TINY_DATASET.glob("*/*.jpeg"))


def _film(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A film-like grey picture: smooth anatomy, a hard edge, a burned-in label, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    body = 120 + 80 * np.sin(x / width * 3.1) * np.cos(y / height * 2.3)
    body[:, : width // 9] = 10  # collimation edge
    body[height // 20: height // 10, width - width // 6: width - width // 12] = 250  # the "R" marker
    return np.clip(body + rng.normal(0, 6, body.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("size", [(67, 64), (224, 224), (1531, 1277)])
def test_grey_array_holds_the_pictures_bytes(size):
    picture = Image.fromarray(_film(*size))
    for img in (picture, picture.crop((1, 0, size[0] - 2, size[1] - 1))):
        out = grey_array(img)
        assert out.dtype == np.uint8 and out.flags.c_contiguous and out.flags.writeable
        assert np.array_equal(out, np.asarray(img))


@pytest.mark.parametrize("mode, size", [("L", (1531, 1277)), ("RGB", (1024, 900)), ("L", (224, 224))])
def test_loaded_pixels_and_model_input_are_plain_pillows(tmp_path, mode, size):
    """load_image + preprocess_uint8 equal Pillow's own decode, grey conversion and resize,
    byte for byte (the training cache stores the same bytes: tests/test_preprocess.py)."""
    path = tmp_path / "film.jpeg"
    Image.fromarray(_film(*size)).convert(mode).save(path, quality=90)
    with Image.open(path) as img:
        plain = img.convert("L")
        expected_pixels = np.asarray(plain)
        expected_input = np.asarray(plain.resize((128, 128), Image.BILINEAR, reducing_gap=3.0))
    image = load_image(path)
    assert np.array_equal(image.pixels, expected_pixels)
    assert np.array_equal(preprocess_uint8(image), expected_input)


def test_colourfulness_is_zero_for_grey_stored_as_rgb_and_unchanged_for_colour():
    grey_rgb = Image.fromarray(_film(300, 260)).convert("RGB")
    assert colourfulness(grey_rgb) == 0.0
    rng = np.random.default_rng(1)
    colour = Image.fromarray(rng.integers(0, 256, (260, 300, 3), dtype=np.uint8))
    small = colour.reduce(max(1, min(colour.size) // 128))
    assert colourfulness(colour) == colourfulness_of_array(np.asarray(small, dtype=np.float32)) > 30
    one_pixel_tinted = np.asarray(grey_rgb).copy()
    one_pixel_tinted[5, 5, 0] ^= 1  # no longer exactly grey: measured, not assumed
    assert colourfulness(Image.fromarray(one_pixel_tinted)) > 0.0


def _scan_end_byte_walk(data: bytes, start: int, restart_interval: int, restarts=None):
    """The marker walk before issue 15's speed-up (one byte pair at a time, in Python), made
    to hand over the restart markers' offsets as the walk now does."""
    i, expected_rst = start, 0
    while True:
        j = data.find(b"\xff", i)
        if j < 0 or j + 1 >= len(data):
            return len(data), len(data) - start, "the compressed data ends without an end marker"
        nxt = data[j + 1]
        if nxt == 0x00 or nxt == 0xFF:
            i = j + 1 if nxt == 0xFF else j + 2
            continue
        if nxt in _RST:
            if restart_interval == 0 or nxt - 0xD0 != expected_rst:
                return j, j - start, "restart markers out of order in the compressed data"
            expected_rst = (expected_rst + 1) % 8
            if restarts is not None:
                restarts.append(j)
            i = j + 2
            continue
        return j, j - start, ""


def _jpeg_bytes(restart: bool) -> bytes:
    buf = io.BytesIO()
    extra = {"restart_marker_blocks": 4} if restart else {}
    Image.fromarray(_film(256, 200, seed=3)).save(buf, "JPEG", quality=95, **extra)
    return buf.getvalue()


def test_marker_search_gives_the_byte_walks_verdicts(monkeypatch):
    import xrayviewer.imaging.jpeg_check as jc

    rng = random.Random(0)
    streams = []
    for restart in (False, True):
        good = _jpeg_bytes(restart)
        streams.append(good)
        sos = good.index(b"\xff\xda")
        for _ in range(60):  # damage inside the entropy-coded data: bytes, fills, markers, cuts
            data = bytearray(good)
            at = rng.randrange(sos + 20, len(data) - 4)
            kind = rng.randrange(5)
            if kind == 0:
                data[at:at + 8] = bytes(rng.randrange(256) for _ in range(8))
            elif kind == 1:
                data[at:at] = b"\xff\xff\xff"  # fill bytes, then whatever follows
            elif kind == 2:
                data[at:at] = bytes([0xFF, rng.choice([0xD0, 0xD3, 0xD7, 0xD9, 0xC4, 0x01])])
            elif kind == 3:
                del data[at:]
                if rng.random() < 0.5:
                    data += b"\xff"  # ends on a lone 0xFF
            else:
                data[at:at + 2] = b"\xff\x00"
            streams.append(bytes(data))
    assert any(check_jpeg(s).damage for s in streams) and not check_jpeg(streams[0]).damage
    new = [check_jpeg(s) for s in streams]
    monkeypatch.setattr(jc, "_scan_end", _scan_end_byte_walk)
    old = [check_jpeg(s) for s in streams]
    assert new == old


def test_the_walk_hands_over_every_restart_marker_of_an_intact_file():
    data = _jpeg_bytes(restart=True)
    layout = check_jpeg(data).layout
    assert layout.restart_offsets and layout.scans == 1 and layout.frame_marker == 0xC0
    assert all(data[o] == 0xFF and data[o + 1] == 0xD0 + n % 8 for n, o in enumerate(layout.restart_offsets))
    assert data[layout.scan_start - 2 - 8: layout.scan_start - 8] == b"\xff\xda"  # one component: SOS is 10 bytes
    damaged = bytearray(data)
    damaged[layout.restart_offsets[3] + 1] = 0xD7  # a marker out of order
    assert check_jpeg(bytes(damaged)).damage and check_jpeg(bytes(damaged)).layout is None


def test_restart_interval_is_read_from_the_file():
    data = _jpeg_bytes(restart=True)
    dri = data.index(b"\xff\xdd")
    assert struct.unpack(">H", data[dri + 4: dri + 6])[0] > 0  # the case the walk must follow
    assert not check_jpeg(data).damage


def test_scoring_with_loader_threads_keeps_order_errors_and_probabilities(tiny_model, tmp_path):
    from xrayviewer.model import Predictor

    broken = tmp_path / "broken.jpeg"
    broken.write_bytes(TINY_FILES[0].read_bytes()[:200])
    paths = [str(TINY_FILES[0]), str(broken), *map(str, TINY_FILES[1:6]), str(tmp_path / "missing.jpeg"),
             str(TINY_FILES[6])]
    predictor = Predictor.load(tiny_model)
    alone = {p: predictor.predict_image(load_image(p)) for p in paths if "broken" not in p and "missing" not in p}
    for loaders, batch in ((2, 3), (1, 32), (2, 1)):
        results = list(predictor.iter_files(paths, batch_size=batch, loaders=loaders))
        assert [r.path for r in results] == paths
        assert [bool(r.error) for r in results] == [p.endswith(("broken.jpeg", "missing.jpeg")) for p in paths]
        for r in results:
            if r.prediction is not None:
                expected = alone[r.path]
                assert r.prediction.probability == pytest.approx(expected.probability, abs=1e-6)
                assert r.prediction.raw_probability == pytest.approx(expected.raw_probability, abs=1e-6)
                assert r.prediction.reasons == expected.reasons
    batch = np.stack([preprocess(load_image(p)) for p in alone])
    by_batch = predictor.predict_batch(batch)
    by_files = [r.prediction for r in predictor.predict_files(list(alone))]
    assert [p.probability for p in by_files] == pytest.approx([p.probability for p in by_batch], abs=1e-6)


def test_cancelling_stops_the_loaders(tiny_model):
    from xrayviewer.model import Predictor
    from xrayviewer.progress import Cancelled

    predictor = Predictor.load(tiny_model)
    seen = []
    with pytest.raises(Cancelled):
        predictor.predict_files(list(map(str, TINY_FILES)) * 20, batch_size=4,
                                on_progress=lambda p: seen.append(p.done), should_cancel=lambda: len(seen) >= 5)
    assert len(seen) == 5
    assert not [t for t in threading.enumerate() if t.name.startswith("xv-load")]  # none left running


def test_reads_log_opened_on_one_thread_is_used_on_another(tmp_path):
    from xrayviewer.reads import ReadsLog

    opened = []
    worker = threading.Thread(target=lambda: opened.append(ReadsLog(tmp_path / "reads.sqlite", handed_over=True)))
    worker.start()
    worker.join()
    with opened[0] as log:
        log.record_event("model-switch", reader="r", details={"k": 1})
        assert [e["kind"] for e in log.events()] == ["model-switch"]


def test_stderr_survives_loader_threads_opening_interpreters_together(tmp_path):
    """Two threads filtering native start-up chatter at once must leave fd 2 where it was:
    a race once left `evaluate` writing its progress and errors into a deleted file."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import os, sys, threading, time
        from xrayviewer.model.runtime import startup_chatter_filtered
        def open_one():
            for _ in range(50):
                with startup_chatter_filtered():
                    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
                    time.sleep(0.0005)
        threads = [threading.Thread(target=open_one) for _ in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        print("STDERR STILL HERE", file=sys.stderr)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "STDERR STILL HERE"  # the chatter dropped, the rest through


def test_ood_descriptor_and_distance_equal_their_definitions():
    """The vectorised OOD arithmetic (uint8 bin indices, BLAS quadratic form) gives the figures
    their plain definitions give: a flagged film stays flagged."""
    from xrayviewer.model.ood import BINS, GRID, THUMB, _distance, image_descriptor
    from xrayviewer.imaging import to_model_grey, to_model_input

    rng = np.random.default_rng(5)
    grey = rng.integers(0, 256, (5, 128, 128), dtype=np.uint8)
    grey[0] = 255  # the top bin's edge: value 1.0 falls in the last bin
    x = to_model_grey(grey)
    desc = image_descriptor(x)
    assert np.array_equal(desc, image_descriptor(to_model_input(grey)))  # one channel or three
    for i in range(len(x)):
        hist, _ = np.histogram(np.minimum(x[i] * BINS, BINS - 1).astype(int), bins=BINS, range=(0, BINS))
        assert np.array_equal(desc[i, THUMB * THUMB:THUMB * THUMB + BINS], (hist / x[i].size).astype(np.float32))
    assert desc[0, THUMB * THUMB + BINS - 1] == 1.0 and desc.shape == (5, THUMB * THUMB + BINS + GRID * GRID)
    d = rng.normal(size=(7, 40))
    a = rng.normal(size=(40, 40))
    precision, mean = a @ a.T, rng.normal(size=40)
    slow = [np.sqrt((v - mean) @ precision @ (v - mean)) for v in d]
    assert np.allclose(_distance(d, mean, precision), slow, rtol=1e-12)


def _restart_film(path, width: int, height: int, mode: str = "L", **save) -> bytes:
    """A film written the way scanners and PACS exports often write them: a restart marker
    every row of 8 x 8 blocks (Pillow: ``restart_marker_rows``) unless ``save`` says otherwise."""
    save.setdefault("restart_marker_rows", 1)
    Image.fromarray(_film(width, height, seed=width)).convert(mode).save(path, "JPEG", quality=92, **save)
    return path.read_bytes()


@pytest.mark.parametrize("size, save", [((1531, 1277), {}), ((1000, 1000), {}), ((1982, 1804), {}),
                                        ((1203, 2417), {}),
                                        # a marker every 7 blocks: cuts only where one meets a row's end
                                        ((1531, 1277), {"restart_marker_rows": 0, "restart_marker_blocks": 7})])
def test_a_restart_marked_film_decoded_in_halves_is_byte_for_byte_one_decode(tmp_path, monkeypatch, size, save):
    """The halves path (issue 15's full-resolution latency) is taken, and gives Pillow's pixels."""
    from xrayviewer.imaging import jpeg_bands

    monkeypatch.setattr(jpeg_bands, "spare_core", lambda: True)  # the halves even on a 1-core runner
    path = tmp_path / "film.jpeg"
    data = _restart_film(path, *size, **save)
    cut = jpeg_bands.halves(data, check_jpeg(data).layout)
    assert cut is not None and 0 < cut[0] < size[1] and cut[0] % 8 == 0
    taken = []
    real = jpeg_bands.decode_in_halves
    monkeypatch.setattr("xrayviewer.imaging.raster.decode_in_halves",
                        lambda *a: taken.append(real(*a)) or taken[-1])
    image = load_image(path)
    with Image.open(path) as img:
        plain = np.asarray(img)
    assert taken and taken[0] is not None and image.pixels is taken[0]
    assert np.array_equal(image.pixels, plain)
    assert image.bit_depth == 8 and image.original_mode == "L" and not image.data_damaged
    # and each half on its own is a valid JPEG of its rows
    for rows, band in ((slice(0, cut[0]), cut[1]), (slice(cut[0], None), cut[2])):
        with Image.open(io.BytesIO(band)) as img:
            assert np.array_equal(np.asarray(img), plain[rows])


@pytest.mark.parametrize("case", ["no markers", "markers too sparse", "colour", "progressive", "small"])
def test_films_that_cannot_be_cut_exactly_decode_whole_to_the_same_pixels(tmp_path, case):
    from xrayviewer.imaging import jpeg_bands

    path = tmp_path / "film.jpeg"
    size, mode, save = (1531, 1277), "L", {}
    if case == "no markers":
        save = {"restart_marker_rows": 0}
    elif case == "markers too sparse":  # 6 markers: no cut after a multiple of 8 intervals
        save = {"restart_marker_rows": 0, "restart_marker_blocks": 5000}
    elif case == "colour":
        mode = "RGB"
    elif case == "progressive":
        save = {"progressive": True}
    else:
        size = (900, 700)  # under MIN_PIXELS: a second thread costs more than it saves
    data = _restart_film(path, *size, mode=mode, **save)
    layout = check_jpeg(data).layout
    if case == "small":
        assert jpeg_bands.decode_in_halves(data, layout, *size) is None
    else:
        assert jpeg_bands.halves(data, layout) is None
    with Image.open(path) as img:
        plain = np.asarray(img.convert("L"))
    assert np.array_equal(load_image(path).pixels, plain)


def test_a_turned_restart_marked_film_is_still_turned_upright(tmp_path):
    """EXIF orientation 6 (rotate 90): the fast paths step aside and exif_transpose turns it."""
    from PIL import ImageOps

    path = tmp_path / "film.jpeg"
    exif = Image.Exif()
    exif[0x0112] = 6
    _restart_film(path, 1531, 1277, exif=exif.tobytes())
    with Image.open(path) as img:
        upright = np.asarray(ImageOps.exif_transpose(img))
    image = load_image(path)
    assert image.pixels.shape == (1531, 1277) and np.array_equal(image.pixels, upright)


def test_a_damaged_restart_marked_film_is_flagged_and_not_cut(tmp_path, monkeypatch):
    path = tmp_path / "film.jpeg"
    data = bytearray(_restart_film(path, 1531, 1277))
    at = check_jpeg(bytes(data)).layout.restart_offsets[40]
    data[at + 1] = 0xD0 + (data[at + 1] - 0xD0 + 3) % 8  # a marker out of order: libjpeg resyncs
    path.write_bytes(bytes(data))
    called = []
    monkeypatch.setattr("xrayviewer.imaging.raster.decode_in_halves", lambda *a: called.append(a))
    image = load_image(path)
    assert image.data_damaged and not called
    with Image.open(path) as img:
        assert np.array_equal(image.pixels, np.asarray(img))  # whatever libjpeg makes of it, once


def test_decoding_into_numpy_leaves_an_already_decoded_picture_alone(tmp_path):
    from xrayviewer.imaging.pillow_arrays import decode_grey_into

    path = tmp_path / "film.jpeg"
    _restart_film(path, 300, 200)
    with Image.open(path) as img:
        out = np.empty((200, 300), dtype=np.uint8)
        assert decode_grey_into(img, out)
        assert np.array_equal(out, np.asarray(img))
    with Image.open(path) as img:
        img.load()
        before = np.asarray(img).copy()
        assert not decode_grey_into(img, np.zeros((200, 300), dtype=np.uint8))
        assert np.array_equal(np.asarray(img), before)  # its own pixels, not the zeros


@pytest.mark.parametrize("size", [(1531, 1277), (1982, 1804), (2000, 1000), (1001, 1003), (4000, 700), (700, 4000)])
def test_the_halved_reduce_is_pillows_resize_byte_for_byte(monkeypatch, size):
    """preprocess_uint8 on a large film (two cores) equals the one Pillow call it replaced."""
    import importlib

    from xrayviewer.imaging.image import XRayImage

    pre = importlib.import_module("xrayviewer.imaging.preprocess")  # the package re-exports a function of that name

    monkeypatch.setattr(pre, "spare_core", lambda: True)
    pixels = _film(*size, seed=size[1])
    from xrayviewer.imaging.windowing import full_range_window

    center, width = full_range_window(np.array([0, 255], dtype=np.uint8))
    image = XRayImage(pixels=pixels, source_format="JPEG", bit_depth=8, window_center=center, window_width=width)
    assert image.display() is pixels
    expected = np.asarray(Image.fromarray(pixels).resize((128, 128), Image.BILINEAR, reducing_gap=3.0))
    assert np.array_equal(pre.preprocess_uint8(image), expected)


def test_side_by_side_returns_both_results_and_raises_the_helpers_error():
    from xrayviewer.imaging.two_cores import side_by_side

    threads = []
    assert side_by_side(lambda: 1, lambda: threads.append(threading.get_ident()) or 2) == (1, 2)
    assert threads and threads[0] != threading.get_ident()  # the second half ran on another thread

    def fails():
        raise ValueError("the helper's")

    with pytest.raises(ValueError, match="the helper's"):
        side_by_side(lambda: 1, fails)


def test_the_blank_check_still_sees_a_single_pixel_off_its_sample():
    """check_pixels samples every 7th pixel first; a picture whose only difference lies off
    that grid is still a picture, and a uniform one still blank."""
    from xrayviewer.imaging import ImageLoadError
    from xrayviewer.imaging.usable import check_pixels

    for dtype in (np.uint8, np.uint16, np.float32):
        flat = np.full((300, 300), 9, dtype=dtype)
        with pytest.raises(ImageLoadError, match="blank"):
            check_pixels(flat, "flat")
        flat[150, 3] = 10  # row 150 and column 3 are not multiples of 7
        check_pixels(flat, "one pixel")
