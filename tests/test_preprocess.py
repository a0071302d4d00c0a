"""The model's input: one preprocessing, identical in prediction and in the training cache."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import TINY_DATASET, shared_data
from imaging_factories import gradient, write_dicom
from xrayviewer.imaging import (INPUT_SHAPE, load_image, preprocess, preprocess_uint8, to_model_input)
from xrayviewer.training.cache import build_cache
from xrayviewer.training.dataset import Sample

TINY_FILES = sorted(TINY_DATASET.glob("*/*.jpeg"))


def _check_model_input(x):
    assert x.shape == (128, 128, 3) == INPUT_SHAPE
    assert x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert np.array_equal(x[..., 0], x[..., 1]) and np.array_equal(x[..., 1], x[..., 2])


def test_preprocess_contract_on_real_jpeg():
    im = load_image(TINY_FILES[0])
    x = preprocess(im)
    _check_model_input(x)
    assert x.max() > 0.5 and x.min() < 0.2  # a real radiograph uses the range
    assert np.array_equal(x, to_model_input(preprocess_uint8(im)))
    np.testing.assert_allclose(x[..., 0] * 255.0, preprocess_uint8(im), atol=1e-3)


@pytest.mark.parametrize("kind", ["png16", "dicom16", "rgb", "tiny", "wide"])
def test_preprocess_contract_any_source(tmp_path, kind):
    if kind == "png16":
        Image.fromarray(gradient(300, 200, dtype=np.uint16, lo=0, hi=60000)).save(tmp_path / "a.png")
        path = tmp_path / "a.png"
    elif kind == "dicom16":
        path = write_dicom(tmp_path / "a.dcm", gradient(300, 200, dtype=np.uint16, lo=0, hi=4095), bits_stored=12,
                           center=2048, width=4096)
    elif kind == "rgb":
        rgb = np.zeros((90, 160, 3), np.uint8)
        rgb[..., 0] = gradient(90, 160)  # red shades (one flat colour is refused as blank)
        Image.fromarray(rgb).save(tmp_path / "a.png")
        path = tmp_path / "a.png"
    elif kind == "tiny":  # the smallest the loader accepts (64 px a side), upscaled
        Image.fromarray(gradient(64, 70)).save(tmp_path / "a.png")
        path = tmp_path / "a.png"
    else:  # the widest it accepts (4:1)
        Image.fromarray(gradient(500, 2000)).save(tmp_path / "a.png")
        path = tmp_path / "a.png"
    _check_model_input(preprocess(load_image(path)))


def test_preprocess_follows_the_displayed_picture_bone_white():
    """MONOCHROME1 and MONOCHROME2 give the model the same input (bone white in both)."""
    a = preprocess(load_image(shared_data("dicom", "chest_cr_monochrome1.dcm")))
    b = preprocess(load_image(shared_data("dicom", "chest_cr_monochrome2.dcm")))
    assert np.array_equal(a, b)


def test_preprocess_is_resize_of_display(tmp_path):
    ref = gradient(256, 256)
    Image.fromarray(ref).save(tmp_path / "g.png")
    u8 = preprocess_uint8(load_image(tmp_path / "g.png"))
    # Halving a smooth ramp: each output pixel is close to the mean of its 2x2 source block.
    blocks = ref.reshape(128, 2, 128, 2).mean(axis=(1, 3))
    assert np.abs(u8.astype(float) - blocks).max() <= 2.0


def test_training_cache_equals_prediction_preprocessing(tmp_path):
    bad = tmp_path / "broken.jpeg"
    bad.write_bytes(b"not a jpeg")
    deep = tmp_path / "deep.png"
    Image.fromarray(gradient(200, 180, dtype=np.uint16, lo=100, hi=50000)).save(deep)
    dcm = write_dicom(tmp_path / "x.dcm", gradient(150, 150, dtype=np.uint16, lo=0, hi=4095), bits_stored=12,
                      photometric="MONOCHROME1")
    paths = [str(p) for p in TINY_FILES[:6]] + [str(bad), str(deep), str(dcm)]
    samples = [Sample(p, i % 2, f"p{i}") for i, p in enumerate(paths)]
    cache, ok, bad_list = build_cache(samples, tmp_path / "cache")
    assert ok == [0, 1, 2, 3, 4, 5, 7, 8]
    assert [p for p, _ in bad_list] == [str(bad)]
    assert "broken.jpeg" in bad_list[0][1]
    got = cache.read(ok)
    for row, i in enumerate(ok):
        expected = preprocess_uint8(load_image(paths[i]))
        assert np.array_equal(got[row], expected), paths[i]
        # ... and the float input training feeds is exactly what prediction feeds.
        assert np.array_equal(to_model_input(got[row]), preprocess(load_image(paths[i])))
    # Shuffled positioned reads return the right items.
    order = [8, 0, 5]
    assert np.array_equal(cache.read(order)[0], preprocess_uint8(load_image(paths[8])))

    # A second build reuses the cache (same files) and gives the same answer.
    cache2, ok2, bad2 = build_cache(samples, tmp_path / "cache")
    assert ok2 == ok and [tuple(b) for b in bad2] == [tuple(b) for b in bad_list]
    assert np.array_equal(cache2.read(ok), got)


def test_cache_rebuilt_when_a_file_changes(tmp_path):
    img = tmp_path / "a.png"
    first = np.full((64, 64), 10, np.uint8)
    first[0, 0] = 0  # not blank (a one-valued image is refused)
    Image.fromarray(first).save(img)
    samples = [Sample(str(img), 0, "a")]
    cache, _, _ = build_cache(samples, tmp_path / "cache")
    assert cache.read([0]).max() == 10
    second = np.full((64, 64), 200, np.uint8)
    second[0, 0] = 255
    Image.fromarray(second).save(img)
    import os
    st = os.stat(img)
    os.utime(img, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    cache2, _, _ = build_cache(samples, tmp_path / "cache")
    assert cache2.read([0]).min() == 200
