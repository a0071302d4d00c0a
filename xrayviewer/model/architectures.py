"""The networks a training recipe can name (``training.recipes.Recipe.network``). Each
builder returns an uncompiled functional Keras model.

Every model names two layers the rest of the app relies on:
- ``last_conv``: the last convolutional activation (Grad-CAM reads it);
- ``features``: the pooled feature vector before the classifier (the out-of-distribution
  check fits its statistics on it).
"""

from __future__ import annotations

from ..imaging.preprocess import INPUT_SHAPE
from .runtime import import_keras

GRADCAM_LAYER = "last_conv"
FEATURE_LAYER = "features"
#: The augmentation block inside the networks (passes inputs through at inference).
AUGMENT_LAYER = "augment"


def build_seed():
    """The research notebook's CNN, exactly: four conv blocks, Flatten, one sigmoid unit."""
    keras = import_keras()
    layers = keras.layers
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = inputs
    blocks = [(32, 5, "same"), (64, 5, "same"), (128, 5, "same"), (256, 7, "valid")]
    for i, (filters, kernel, padding) in enumerate(blocks, start=1):
        x = layers.Conv2D(filters, kernel, padding=padding, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=GRADCAM_LAYER if i == len(blocks) else f"relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name=FEATURE_LAYER)(x)
    outputs = layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    return keras.Model(inputs, outputs, name="seed")


def _augmentation(keras):
    """Acquisition-like variation, active only in training (Keras skips it at inference).

    No horizontal flip: it would put the heart on the wrong side, which never happens in a
    real PA/AP film and would teach the network an impossible anatomy.
    """
    layers = keras.layers
    return keras.Sequential(
        [
            layers.RandomRotation(0.025, fill_mode="constant"),  # +/- 9 degrees
            layers.RandomTranslation(0.06, 0.06, fill_mode="constant"),
            layers.RandomZoom((-0.12, 0.12), fill_mode="constant"),
            layers.RandomContrast(0.3, value_range=(0.0, 1.0)),
            layers.RandomBrightness(0.12, value_range=(0.0, 1.0)),
        ],
        name=AUGMENT_LAYER,
    )


#: Channel widths of the shipped network: the stem, then its three stages.
DEFAULT_WIDTHS = (32, 64, 128, 256)
#: Three-quarter widths (network ``default-slim``): 0.60 of the multiply-adds (57 M against
#: 96 M an image, benchmarks.network_cost), which LiteRT spends most of a file's scoring time on.
SLIM_WIDTHS = (24, 48, 96, 192)


def build_default(standardize: bool = False, widths: tuple = DEFAULT_WIDTHS, name: str = "", stem_stride: int = 1):
    """The shipped recipe: depthwise-separable blocks, global average pooling, dropout.

    About 140 k weights instead of the seed's 1.9 M (most of those sat in the 6,400-wide
    Flatten->Dense), so it overfits the training hospital less and trains ~2x faster on CPU.

    ``standardize`` (network ``default-std``) rescales every input to zero mean and unit
    variance over its own pixels first, so a film's overall exposure and contrast cannot carry
    the label. It is a built-in LayerNormalization without learned scale or offset, inside the
    saved model: the shared preprocessing (and its id) stays as it is, so train and serve
    still agree byte for byte.

    ``widths`` sets the stem's and the three stages' channels (``default-slim`` narrows them).

    ``stem_stride=2`` (network ``default-slim-stride``) lets the stem convolution step two
    pixels instead of convolving every pixel and max-pooling after its normalisation: the same
    64 x 64 map for the stages, at a quarter of the stem's work. On the 2-core CPU the stem at
    128 x 128 (its convolution, batch norm, ReLU and pooling) is the costliest part of a
    training step (benchmarks/RESULTS.md, 2026-12-08).
    """
    keras = import_keras()
    layers = keras.layers
    inputs = keras.Input(INPUT_SHAPE, name="image")
    x = _augmentation(keras)(inputs)
    if standardize:
        x = layers.LayerNormalization(axis=[1, 2, 3], center=False, scale=False, epsilon=1e-4,
                                      name="standardize")(x)
    # BatchNorm momentum 0.9 (Keras default 0.99): with ~140 steps an epoch and weights moving
    # fast under a 2e-3 learning rate, 0.99 moving statistics lag so far behind that inference
    # outputs a constant for the first epochs (seen here: validation AUC 0.50 for 3 epochs).
    bn = {"momentum": 0.9}
    x = layers.Conv2D(widths[0], 3, strides=stem_stride, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn", **bn)(x)
    x = layers.ReLU(name="stem_relu")(x)
    if stem_stride == 1:
        x = layers.MaxPooling2D(2, name="stem_pool")(x)  # 64 x 64
    stages = [(width, 2) for width in widths[1:]]  # 64 -> 32 -> 16 px
    for s, (width, repeats) in enumerate(stages, start=1):
        for r in range(1, repeats + 1):
            last = s == len(stages) and r == repeats
            x = layers.SeparableConv2D(width, 3, padding="same", use_bias=False, name=f"s{s}_sep{r}")(x)
            x = layers.BatchNormalization(name=f"s{s}_bn{r}", **bn)(x)
            x = layers.ReLU(name=GRADCAM_LAYER if last else f"s{s}_relu{r}")(x)
        if s < len(stages):
            x = layers.MaxPooling2D(2, name=f"s{s}_pool")(x)
    x = layers.GlobalAveragePooling2D(name=FEATURE_LAYER)(x)
    x = layers.Dropout(0.4, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    return keras.Model(inputs, outputs, name=name or ("default-std" if standardize else "default"))


def with_last_conv_output(model):
    """The same network returning (probability, last conv activations): one forward pass
    gives the probability and the pooled OOD features. Used by prediction, fit and
    recalibration alike."""
    keras = import_keras()
    return keras.Model(model.input, [model.output, model.get_layer(GRADCAM_LAYER).output])


#: The network builders by name (what a recipe's ``network`` names; the recipes themselves,
#: with their training settings, are ``training.recipes.RECIPES``).
NETWORKS = {
    "seed": build_seed,
    "default": build_default,
    "default-std": lambda: build_default(standardize=True),
    "default-slim": lambda: build_default(widths=SLIM_WIDTHS, name="default-slim"),
    "default-slim-stride": lambda: build_default(widths=SLIM_WIDTHS, name="default-slim-stride", stem_stride=2),
}


def build_model(network: str):
    """A fresh network of the named kind (a key of NETWORKS)."""
    try:
        builder = NETWORKS[network]
    except KeyError:
        raise ValueError(f"Unknown network {network!r}; choose one of {', '.join(NETWORKS)}.") from None
    return builder()
