"""Grad-CAM: the map follows the evidence, and lines up with the full-resolution image.

A tiny network (named like the app's recipes: 'last_conv', 'features', 'pneumonia') is trained
here on synthetic 128 x 128 pictures whose positive class carries one bright blob somewhere
on a textured background. Its heatmap must sit on the blob and move with it.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from xrayviewer.imaging import load_image
from xrayviewer.model.architectures import FEATURE_LAYER, GRADCAM_LAYER
from xrayviewer.model.gradcam import explain_image, grad_cam, overlay, resize_heatmap

pytestmark = pytest.mark.slow

SIZE = 128


RADIUS, AMPLITUDE = 12.0, 0.7


def _background(rng) -> np.ndarray:
    """Smooth random texture in [0.1, 0.3]: something to ignore."""
    coarse = rng.uniform(0.1, 0.3, (8, 8)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((SIZE, SIZE), Image.BILINEAR))


def _blob(img: np.ndarray, cy: float, cx: float) -> np.ndarray:
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    mask = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * RADIUS ** 2))
    return np.clip(img + AMPLITUDE * mask, 0, 1)


def _dataset(rng, n=240):
    x = np.empty((n, SIZE, SIZE, 3), np.float32)
    y = np.zeros(n, np.float32)
    for i in range(n):
        img = _background(rng)
        if i % 2:
            img = _blob(img, rng.uniform(16, SIZE - 16), rng.uniform(16, SIZE - 16))
            y[i] = 1
        x[i] = img[..., None]
    return x, y


@pytest.fixture(scope="module")
def blob_model():
    from xrayviewer.model.runtime import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(1)
    layers = keras.layers
    inputs = keras.Input((SIZE, SIZE, 3))
    x = layers.Conv2D(8, 5, strides=2, padding="same", activation="relu")(inputs)  # 64
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)  # 32
    x = layers.Conv2D(16, 3, padding="same")(x)
    x = layers.ReLU(name=GRADCAM_LAYER)(x)  # 32 x 32 maps
    x = layers.GlobalAveragePooling2D(name=FEATURE_LAYER)(x)  # as the default recipe
    outputs = layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy", metrics=["accuracy"])
    x_train, y_train = _dataset(np.random.default_rng(0))
    model.fit(x_train, y_train, epochs=12, batch_size=32, verbose=0)
    x_test, y_test = _dataset(np.random.default_rng(1), 60)
    acc = float(np.mean((np.asarray(model(x_test, training=False))[:, 0] > 0.5) == y_test))
    assert acc >= 0.9, f"the toy model did not learn the blob (accuracy {acc:.2f})"
    return model


def _half_mass(cam: np.ndarray) -> tuple[float, float]:
    w = cam.shape[1]
    return float(cam[:, : w // 2].sum()), float(cam[:, w // 2:].sum())


def test_heatmap_follows_the_blob(blob_model):
    rng = np.random.default_rng(5)
    for trial in range(3):
        base = _background(rng)
        cy = rng.uniform(30, SIZE - 30)
        left = _blob(base, cy, 30)[..., None].repeat(3, -1)
        right = _blob(base, cy, SIZE - 30)[..., None].repeat(3, -1)
        cams = grad_cam(blob_model, np.stack([left, right]), GRADCAM_LAYER)
        assert cams.shape == (2, 32, 32) and cams.dtype == np.float32
        assert 0.0 <= cams.min() and cams.max() <= 1.0
        l_left, l_right = _half_mass(cams[0])
        r_left, r_right = _half_mass(cams[1])
        # Most of the evidence lies on the blob's side, and moves with the blob.
        assert l_left > 3 * l_right, (trial, l_left, l_right)
        assert r_right > 3 * r_left, (trial, r_left, r_right)
        # The hottest cell is near the blob (cells are 4 px).
        for cam, cx in ((cams[0], 30), (cams[1], SIZE - 30)):
            iy, ix = np.unravel_index(np.argmax(cam), cam.shape)
            assert abs((ix + 0.5) * 4 - cx) < 20 and abs((iy + 0.5) * 4 - cy) < 20


def test_heatmap_aligned_with_full_resolution_image(blob_model, tmp_path):
    """A non-square film: the map comes back (H, W) and its peak sits on the blob in the
    full-resolution image's own coordinates (the model saw the film squashed to a square)."""
    h, w = 300, 500
    rng = np.random.default_rng(3)
    base = np.asarray(Image.fromarray(_background(rng), mode="F").resize((w, h), Image.BILINEAR))
    cy, cx = 80, 380  # upper right
    yy, xx = np.mgrid[0:h, 0:w]
    # An elliptical blob that becomes round after the squash to 128 x 128.
    mask = np.exp(-(((yy - cy) * SIZE / h) ** 2 + ((xx - cx) * SIZE / w) ** 2) / (2 * RADIUS ** 2))
    img = np.clip(base + AMPLITUDE * mask, 0, 1)
    path = tmp_path / "wide.png"
    Image.fromarray((img * 255).astype(np.uint8)).save(path)
    image = load_image(path)
    heat = explain_image(blob_model, image, GRADCAM_LAYER)
    assert heat.shape == (h, w) == (image.height, image.width)
    assert heat.dtype == np.float32 and 0.0 <= heat.min() and heat.max() <= 1.0
    py, px = np.unravel_index(np.argmax(heat), heat.shape)
    assert abs(py - cy) < 0.12 * h and abs(px - cx) < 0.12 * w, (py, px)
    rgb = overlay(image.display(), heat, 0.45)
    assert rgb.shape == (h, w, 3) and rgb.dtype == np.uint8


def test_resize_heatmap_maps_cells_to_their_place():
    cam = np.zeros((16, 16), np.float32)
    cam[2, 12] = 1.0  # row 2, column 12
    h, w = 240, 640
    big = resize_heatmap(cam, h, w)
    assert big.shape == (h, w) and big.dtype == np.float32
    py, px = np.unravel_index(np.argmax(big), big.shape)
    # The cell's centre: ((2 + 0.5) / 16 * H, (12 + 0.5) / 16 * W).
    assert abs(py - 2.5 / 16 * h) <= h / 32 and abs(px - 12.5 / 16 * w) <= w / 32
    assert big.min() >= 0.0 and big.max() <= 1.0


def test_overlay_keeps_cold_regions_grey():
    grey = np.full((50, 70), 100, np.uint8)
    heat = np.zeros((50, 70), np.float32)
    heat[10:20, 30:40] = 1.0
    out = overlay(grey, heat, 0.5)
    assert out.shape == (50, 70, 3) and out.dtype == np.uint8
    assert (out[0, 0] == 100).all()  # no heat: the radiograph unchanged
    assert out[15, 35, 0] != out[15, 35, 2]  # hot: coloured


def test_saturated_prediction_still_explained(blob_model):
    """A very confident network (float32 sigmoid exactly 1.0) must still get a map: Grad-CAM
    differentiates the logit before the sigmoid, not a clipped probability."""
    from xrayviewer.model.runtime import import_keras

    keras = import_keras()
    sure = keras.models.clone_model(blob_model)
    weights = blob_model.get_weights()
    sure.set_weights(weights[:-2] + [weights[-2] * 200.0, weights[-1] * 200.0])
    rng = np.random.default_rng(9)
    x = _blob(_background(rng), 64, 30)[None, ..., None].repeat(3, -1)
    assert float(np.asarray(sure(x, training=False))[0, 0]) == 1.0  # saturated
    cam = grad_cam(sure, x, GRADCAM_LAYER)[0]
    assert cam.max() == pytest.approx(1.0)
    left, right = _half_mass(cam)
    assert left > 3 * right
