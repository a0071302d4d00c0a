"""Keras -> LiteRT: the ``.tflite`` every saved bundle carries, made and checked with TensorFlow.

This is the only place that converts; it runs where TensorFlow already is (``save_bundle``:
training, recalibration, site calibration; or ``python -m xrayviewer.model.add_litert
BUNDLE.keras`` for a bundle made before LiteRT). Scoring then needs no TensorFlow (``networks.LiteRTNetwork``).

The converted network has the two outputs prediction uses: the score and the last
convolution's activations (OOD features and Grad-CAM come from the same forward pass). It is
accepted only if it reproduces Keras on the check inputs to within ``MAX_DIFFERENCE``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .architectures import FEATURE_LAYER, GRADCAM_LAYER

log = logging.getLogger(__name__)

#: Largest |Keras - LiteRT| accepted on the check inputs: for the score (the probability a
#: reader sees, issue 15's bound) absolutely, and for the last convolution's activations (OOD
#: features, Grad-CAM) relative to their largest magnitude, at least 1. Why relative: float32
#: carries 7 digits whatever the size of a number, and the activations of a network that
#: standardises its input (``default-std``) reach ~5, where LiteRT's and TensorFlow's different
#: summation orders leave 2e-5 (4e-6 relative) while the score agrees to 5e-7.
MAX_DIFFERENCE = 1e-5


@dataclass(frozen=True)
class Conversion:
    model_bytes: bytes
    max_difference: float  # largest |Keras - LiteRT| over score and activations, check inputs
    checked_on: str  # what the inputs were, in words
    score_difference: float = 0.0  # largest |Keras - LiteRT| of the score alone
    activation_scale: float = 1.0  # largest |activation| on the check inputs (at least 1)
    input_channels: int = 3  # 1: the grey film once (grey_input_network); 3: three equal copies


def difference_accepted(score_difference: float, activation_difference: float, activation_scale: float) -> bool:
    """Whether a conversion reproduces Keras closely enough to score with (MAX_DIFFERENCE)."""
    return (score_difference <= MAX_DIFFERENCE
            and activation_difference <= MAX_DIFFERENCE * max(1.0, activation_scale))


def has_explained_layer(model) -> bool:
    return any(layer.name == GRADCAM_LAYER for layer in model.layers)


def convert(model) -> Conversion:
    """Convert ``model`` (its score and last-conv outputs) and check it against Keras.

    Raises ValueError when the LiteRT model differs from Keras by more than MAX_DIFFERENCE.
    """
    from .architectures import with_last_conv_output
    from .runtime import import_tensorflow, startup_chatter_filtered

    tf = import_tensorflow()
    dual = with_last_conv_output(model)
    served = grey_input_network(model)
    if served is not None:
        # Through Keras' own export: the grey network is made of new layers, and from a traced
        # function (below) their variables stayed unfrozen (READ_VARIABLE ops that fail or
        # give NaN in LiteRT, seen with TensorFlow 2.21). 6.5 s for the bundled model here.
        converter = tf.lite.TFLiteConverter.from_keras_model(served)
    else:
        # From a traced function, not from_keras_model: the same network and outputs, in half
        # the time (5.0-5.9 s against 9.9-11.8 s for the bundled model on the loaded 2-core
        # machine), since no SavedModel is exported first.
        served = dual
        graph = tf.function(lambda x: dual(x, training=False), autograph=False,
                            input_signature=[tf.TensorSpec([None, *dual.input_shape[1:]], tf.float32)])
        converter = tf.lite.TFLiteConverter.from_concrete_functions([graph.get_concrete_function()], dual)
    # The converter prints its MLIR passes to stderr (and Keras its traces to stdout): neither
    # is for the person training a model; a failure arrives as an exception.
    with contextlib.redirect_stdout(io.StringIO()), startup_chatter_filtered(drop_all=True):
        model_bytes = converter.convert()
    inputs, words = check_inputs()
    score, activations, scale = largest_difference(dual, model_bytes, inputs)
    if not difference_accepted(score, activations, scale):
        raise ValueError(f"the LiteRT model differs from Keras by {score:.2e} in the score and {activations:.2e} "
                         f"in the activations (largest {scale:.3g}) on {words} (at most {MAX_DIFFERENCE:g}, "
                         "for the activations relative to their largest)")
    return Conversion(model_bytes=model_bytes, max_difference=max(score, activations), checked_on=words,
                      score_difference=score, activation_scale=max(1.0, scale),
                      input_channels=int(served.input_shape[-1]))


def grey_input_network(model):
    """The same network taking the grey film once instead of three equal copies, or None.

    The shared preprocessing feeds every film as one grey picture copied into R, G and B
    (``imaging.to_model_input``). For such inputs a first convolution over three channels
    equals one over a single channel whose kernel is the sum of the three
    (sum_c W_c * x = (sum_c W_c) * x), so the converted network takes one channel: the same
    outputs (checked against Keras like any conversion), a third of the first layer's
    multiply-adds and of the input copy (2.48 -> 2.36 ms a film on one thread, measured).

    Only a plain chain is rebuilt: the inference-inactive augmentation block, a LayerNormalization
    over the whole picture (its mean and variance do not change when the channels are equal),
    then the first Conv2D and everything after it, each layer fed by the one before. Anything
    else returns None and the network is converted with its three-channel input.
    """
    from .runtime import import_keras

    keras = import_keras()
    layers = model.layers[1:] if isinstance(model.layers[0], keras.layers.InputLayer) else model.layers
    if not layers or len(model.inputs) != 1 or model.input_shape[-1] != 3:
        return None
    previous = model.inputs[0]
    x = inputs = keras.Input((*model.input_shape[1:-1], 1), name="grey")
    activations = None
    folded = False
    for layer in layers:
        if layer.input is not previous:  # not a chain (a branch, a second input): leave it alone
            return None
        previous = layer.output
        if not folded:
            if layer.name == "augment" or isinstance(layer, keras.layers.Dropout):
                continue  # identity when scoring
            if isinstance(layer, keras.layers.LayerNormalization) and sorted(layer.axis) == [1, 2, 3]:
                pass
            elif (type(layer) is keras.layers.Conv2D and layer.groups == 1
                  and layer.data_format == "channels_last"):
                copy = keras.layers.Conv2D.from_config(_renamed(layer.get_config()))
                x = copy(x)
                weights = layer.get_weights()
                weights[0] = weights[0].sum(axis=2, keepdims=True)  # (kh, kw, 3, filters) -> (kh, kw, 1, filters)
                copy.set_weights(weights)
                folded = True
                continue
            else:
                return None
        copy = type(layer).from_config(_renamed(layer.get_config()))
        x = copy(x)
        copy.set_weights(layer.get_weights())
        if layer.name == GRADCAM_LAYER:
            activations = x
    if not folded or activations is None:
        return None
    return keras.Model(inputs, [x, activations], name=f"{model.name}-grey")


def _renamed(config: dict) -> dict:
    """A copied layer's config under its own name, so no two layers of the process share one."""
    return dict(config, name=f"{config['name']}-grey")


def check_inputs() -> tuple[np.ndarray, str]:
    """The bundled sample films (the self-test's reference sample among them) plus two fixed
    random inputs, so the check never rests on one image."""
    from ..imaging import ImageLoadError, find_images, load_image, preprocess
    from ..paths import samples_dir

    rows, names = [], []
    for p in find_images([samples_dir()]):
        try:
            rows.append(preprocess(load_image(p)))
            names.append(os.path.basename(p))
        except ImageLoadError:
            continue
    rng = np.random.default_rng(0)
    # Random, but grey like every input the preprocessing makes (three equal channels).
    rows += list(np.repeat(rng.uniform(0, 1, (2, 128, 128, 1)), 3, axis=-1).astype(np.float32))
    words = f"{len(names)} bundled sample film(s) ({', '.join(names)}) and 2 random grey inputs"
    return np.stack(rows).astype(np.float32), words


def largest_difference(dual, model_bytes: bytes, inputs: np.ndarray) -> tuple[float, float, float]:
    """(largest |Keras - LiteRT| of the score, of the activations, largest |activation|) of
    ``dual``'s two outputs on ``inputs``."""
    from .litert_runner import run_tflite

    k_prob, k_conv = dual(inputs, training=False)
    l_prob, l_conv = run_tflite(model_bytes, inputs)
    k_conv = np.asarray(k_conv, np.float64)
    return (float(np.max(np.abs(np.asarray(k_prob, np.float64).reshape(-1) - l_prob))),
            float(np.max(np.abs(k_conv - l_conv))), float(np.max(np.abs(k_conv))))


def linear_head(model) -> Optional[dict]:
    """What numpy Grad-CAM needs, when the head after the explained layer is linear up to the
    score: global average pooling, dropout (identity when scoring), one sigmoid Dense unit.
    Then d(logit)/d(activation[i, j, c]) = w_c / (h * w) whatever the input, and Grad-CAM is a
    weighted sum of the activations. None for any other head (the seed's max-pool + Flatten):
    such a bundle explains with TensorFlow."""
    from .runtime import import_keras

    keras = import_keras()
    names = [layer.name for layer in model.layers]
    if GRADCAM_LAYER not in names:
        return None
    after = model.layers[names.index(GRADCAM_LAYER) + 1:]
    kinds = [type(layer).__name__ for layer in after]
    if not kinds or kinds[0] != "GlobalAveragePooling2D" or after[0].name != FEATURE_LAYER:
        return None
    if any(k != "Dropout" for k in kinds[1:-1]) or kinds[-1] != "Dense":
        return None
    dense = after[-1]
    if not (isinstance(dense, keras.layers.Dense) and dense.units == 1
            and getattr(dense.activation, "__name__", "") == "sigmoid"):
        return None
    # The chain must be exactly conv -> GAP -> dropout* -> Dense, one input each.
    for prev, layer in zip([model.get_layer(GRADCAM_LAYER), *after], after):
        if layer.input is not prev.output:
            return None
    kernel = np.asarray(dense.kernel, dtype=np.float64).reshape(-1)
    bias = float(np.asarray(dense.bias).reshape(-1)[0]) if dense.use_bias else 0.0
    return {"layer": GRADCAM_LAYER, "head": "global-average-pooling, dropout, dense",
            "weights": [float(w) for w in kernel], "bias": bias}


def bundle_litert_parts(model) -> tuple[Optional[Conversion], dict]:
    """For ``save_bundle``: the checked conversion (None when the network cannot have one, or
    its check failed: the bundle is then scored by Keras) and the metadata entries to add."""
    if not has_explained_layer(model):
        return None, {}
    extra: dict = {}
    head = linear_head(model)
    if head is not None:
        extra["gradcam"] = head
    try:
        conversion = convert(model)
    except Exception as exc:  # noqa: BLE001 - the bundle is still saved, for Keras to score
        log.warning("No LiteRT model for this bundle (%s); Keras will score it.", exc)
        return None, extra
    return conversion, extra


