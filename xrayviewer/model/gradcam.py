"""Grad-CAM (Selvaraju et al., 2017), after keras-io's grad_cam.py: an explanation is a function.

Two ways to the same map, in the same units (logit per cell of the explained layer):

- ``linear_grad_cam``: numpy, from the forward pass's last-conv activations and the Dense
  weights stored in the bundle. Exact for the shipped recipes, whose head after the explained
  layer is linear up to the logit (global average pooling, dropout, one Dense unit): there the
  gradient d(logit)/dA[i, j, c] = w_c / (h * w) does not depend on the input.
- ``grad_cam_evidence``: TensorFlow's GradientTape, for any other head (the seed's max-pool +
  Flatten).

``RED_AT`` fixes the display scale across films (each map scaled to its own maximum
painted red spots on normal films): 1.0 ("red") is as strong as the hottest spot of a film
the bundled model scores at its threshold. ``display_heatmap`` maps a
raw map onto that scale; ``resize_heatmap`` aligns it with the full-resolution image;
``overlay`` blends it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: The overlay's opacity at the heatmap's strongest point, unless the reader changes it:
#: the window's, the snapshots' and ``predict --heatmap``'s.
OVERLAY_OPACITY = 0.45



def linear_grad_cam(conv: np.ndarray, weights) -> np.ndarray:
    """(n, h, w) Grad-CAM from activations ``conv`` (n, h, w, c) of a layer followed by global
    average pooling and one Dense unit with kernel ``weights`` (c,): relu(sum_c w_c A_c / (h w)).
    Dropout is the identity when scoring, and the bias has no gradient."""
    conv = np.asarray(conv, dtype=np.float64)
    _, h, w, _ = conv.shape
    # einsum, not @: a matrix product goes to OpenBLAS, whose worker threads then spin on the
    # cores that decode and score (ood._distance says what that cost).
    cam = np.einsum("nhwc,c->nhw", conv, np.asarray(weights, dtype=np.float64) / (h * w))
    return np.maximum(cam, 0.0).astype(np.float32)


#: The Grad-CAM value (logit per cell of the explained layer) shown as full red: the hottest
#: cell of a film that the bundled model scores at its threshold. Measured by
#: benchmarks/gradcam_scale.py on 1,044 training films (every 5th of chest_xray/train), median
#: over the 30 scored closest to the threshold. A retrained network scales its activations
#: differently, so it is measured again when a model ships: 0.113 for the
#: default-frame-xy-slim-stride bundle shipped 2026-12-08 (threshold 0.58); 0.123-0.126 for the
#: default-frame-xy bundle before it (threshold 0.51-0.52); 0.110 for the default-frame-mean
#: bundle before it (threshold 0.47); 0.126-0.134 for the default-tone bundle before that
#: (0.131 re-measured by the script), under both of that bundle's calibrations.
RED_AT = 0.11


def display_heatmap(cam: np.ndarray, unit: float = RED_AT) -> np.ndarray:
    """A raw Grad-CAM on the fixed scale: cam / unit clipped to [0, 1]."""
    return np.clip(np.asarray(cam, dtype=np.float32) / np.float32(unit), 0.0, 1.0)


def grad_cam(model, batch: np.ndarray, layer_name: str) -> np.ndarray:
    """(n, h, w) heatmaps in [0, 1], each scaled to its own maximum (a shape, not a strength:
    the app shows ``display_heatmap`` of ``grad_cam_evidence`` instead)."""
    cam = grad_cam_evidence(model, batch, layer_name)
    peak = cam.reshape(len(cam), -1).max(axis=1).reshape(-1, 1, 1)
    return np.where(peak > 0, cam / np.maximum(peak, 1e-12), 0.0).astype(np.float32)


def grad_cam_evidence(model, batch: np.ndarray, layer_name: str) -> np.ndarray:
    """(n, h, w) raw Grad-CAM with TensorFlow, relu(sum_c mean(d logit / dA_c) A_c), in the
    units of ``linear_grad_cam``, at the layer's resolution (16 x 16 for ``default``).

    The explained quantity is the pneumonia logit, read before the sigmoid when the model ends
    in a sigmoid Dense layer (all recipes do). Recovering it from the probability instead
    fails for confident predictions: float32 sigmoid saturates at exactly 1.0 for logits
    above ~17, and any clipping there has zero gradient, which gave an all-zero map for the
    images the model is surest about.
    """
    from .runtime import import_keras, import_tensorflow

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
    return tf.nn.relu(tf.reduce_sum(weights * conv, axis=-1)).numpy().astype(np.float32)


def resize_heatmap(cam: np.ndarray, height: int, width: int) -> np.ndarray:
    """Stretch a heatmap over the full image (the model saw the whole image squashed to a
    square, so the map stretches back the same way), smoothly interpolated."""
    img = Image.fromarray(np.asarray(cam, dtype=np.float32), mode="F")
    return np.asarray(img.resize((width, height), Image.BICUBIC), dtype=np.float32).clip(0, 1)


def explain_image(model, image, layer_name: str = "last_conv") -> np.ndarray:
    """Grad-CAM (own-maximum scale) for one ``XRayImage``: float32 (image.height,
    image.width) in [0, 1], aligned pixel for pixel with ``image.pixels`` (and ``display()``)."""
    from ..imaging import preprocess

    cam = grad_cam(model, preprocess(image)[None], layer_name)[0]
    return resize_heatmap(cam, image.height, image.width)


#: What the colours mean on the fixed scale, for the window's legend and the CLI's PNGs.
LEGEND_LOW = "none"
LEGEND_HIGH = "as strong as the strongest spot on a film at the threshold"


def _jet(v: np.ndarray) -> np.ndarray:
    """The jet colour map (blue -> cyan -> yellow -> red) as uint8 RGB, without matplotlib."""
    r = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return (np.stack([r, g, b], axis=-1) * 255).astype(np.uint8)


def overlay(grey_u8: np.ndarray, heatmap: np.ndarray, opacity: float = OVERLAY_OPACITY) -> np.ndarray:
    """RGB uint8 image: the grey picture with the heatmap blended in, weighted by its strength
    so that cold regions keep the radiograph visible."""
    grey = np.repeat(np.asarray(grey_u8, dtype=np.float32)[..., None], 3, axis=-1)
    colour = _jet(heatmap).astype(np.float32)
    alpha = (float(opacity) * np.clip(heatmap, 0, 1))[..., None]
    return (grey * (1 - alpha) + colour * alpha).clip(0, 255).astype(np.uint8)
