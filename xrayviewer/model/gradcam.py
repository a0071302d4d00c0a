"""Grad-CAM (Selvaraju et al., 2017), after keras-io's grad_cam.py: an explanation is a function.

``grad_cam`` returns, per input, where the last convolutional layer's evidence for pneumonia
lies; ``resize_heatmap`` aligns it with the full-resolution image; ``overlay`` blends it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .runtime import import_keras, import_tensorflow


def grad_cam(model, batch: np.ndarray, layer_name: str) -> np.ndarray:
    """(n, h, w) heatmaps in [0, 1] at the layer's resolution (16 x 16 for ``default``).

    The explained quantity is the pneumonia logit, read before the sigmoid when the model ends
    in a sigmoid Dense layer (all recipes do). Recovering it from the probability instead
    fails for confident predictions: float32 sigmoid saturates at exactly 1.0 for logits
    above ~17, and any clipping there has zero gradient, which gave an all-zero map for the
    images the model is surest about.
    """
    tf = import_tensorflow()
    keras = import_keras()
    conv_out = model.get_layer(layer_name).output
    head = model.layers[-1]
    linear_head = (isinstance(head, keras.layers.Dense)
                   and getattr(head.activation, "__name__", "") == "sigmoid")
    grad_model = keras.Model(model.input, [conv_out, head.input if linear_head else model.output])
    x = tf.convert_to_tensor(np.asarray(batch, dtype=np.float32))
    with tf.GradientTape() as tape:
        conv, out = grad_model(x, training=False)
        if linear_head:
            target = tf.matmul(out, head.kernel)[:, 0]
            if head.use_bias:
                target = target + head.bias[0]
        else:
            p = tf.clip_by_value(out[:, 0], 1e-7, 1 - 1e-7)
            target = tf.math.log(p) - tf.math.log1p(-p)
    grads = tape.gradient(target, conv)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * conv, axis=-1)).numpy()
    peak = cam.reshape(len(cam), -1).max(axis=1).reshape(-1, 1, 1)
    return np.where(peak > 0, cam / np.maximum(peak, 1e-12), 0.0).astype(np.float32)


def resize_heatmap(cam: np.ndarray, height: int, width: int) -> np.ndarray:
    """Stretch a heatmap over the full image (the model saw the whole image squashed to a
    square, so the map stretches back the same way), smoothly interpolated."""
    img = Image.fromarray(np.asarray(cam, dtype=np.float32), mode="F")
    return np.asarray(img.resize((width, height), Image.BICUBIC), dtype=np.float32).clip(0, 1)


def explain_image(model, image, layer_name: str = "last_conv") -> np.ndarray:
    """Grad-CAM for one ``XRayImage``: float32 (image.height, image.width) in [0, 1], aligned
    pixel for pixel with ``image.pixels`` (and with ``image.display()``)."""
    from ..imaging import preprocess

    cam = grad_cam(model, preprocess(image)[None], layer_name)[0]
    return resize_heatmap(cam, image.height, image.width)


def _jet(v: np.ndarray) -> np.ndarray:
    """The jet colour map (blue -> cyan -> yellow -> red) as uint8 RGB, without matplotlib."""
    r = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return (np.stack([r, g, b], axis=-1) * 255).astype(np.uint8)


def overlay(grey_u8: np.ndarray, heatmap: np.ndarray, opacity: float = 0.4) -> np.ndarray:
    """RGB uint8 image: the grey picture with the heatmap blended in, weighted by its strength
    so that cold regions keep the radiograph visible."""
    grey = np.repeat(np.asarray(grey_u8, dtype=np.float32)[..., None], 3, axis=-1)
    colour = _jet(heatmap).astype(np.float32)
    alpha = (float(opacity) * np.clip(heatmap, 0, 1))[..., None]
    return (grey * (1 - alpha) + colour * alpha).clip(0, 255).astype(np.uint8)
