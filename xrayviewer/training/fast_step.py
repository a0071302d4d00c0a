"""A cheaper training step for the same network (imports TensorFlow: load lazily).

Two parts of a training step of the shipped networks cost more than their arithmetic needs
on the reference 2-core CPU (`benchmarks/RESULTS.md` has the measurements):

1. **Batch normalisation.** Keras 3's ``BatchNormalization`` computes a training step's
   statistics and normalisation as separate TensorFlow ops (moments, then a multiply-add),
   each a pass over the activations with its own gradient. TensorFlow's fused kernel does the
   same arithmetic in one pass forward and one backward.
2. **Augmentation.** The network's own augmentation layers (rotation, shift, zoom, contrast,
   brightness) warp all three channels of every input, but the three are one grey film
   repeated (``imaging.to_model_input`` builds them from the training cache's single grey
   channel). Each layer draws one transform per film and treats channels alike, so warping
   the first channel and repeating it gives the same input.

Both are the same function, not the same floats: the fused kernel sums in another order, and
the contrast layer's per-channel mean differs in its last bit (measured: 1.2e-7). So a run
with them does not reproduce, bit for bit, weights trained without them. That is why a recipe
opts in (``Recipe.fast_step``) and older recipes keep Keras' ops: each recipe's command still
reproduces its own bundles exactly.

The saved model is untouched: its layers stay Keras ``BatchNormalization`` and the
``augment`` block (config, weights, inference path); only their training-mode ``call`` is
replaced on the instances while ``fit`` runs. Inference (validation, calibration, conversion)
runs Keras' own code either way.
"""

from __future__ import annotations

import contextlib
import types

from ..model.architectures import AUGMENT_LAYER


def _fused_batch_norm_call(self, inputs, training=None, mask=None):
    """Keras' training-mode BatchNormalization.call on the fused kernel: the same output and
    the same moving-statistics update (momentum, biased variance) as Keras' own."""
    if not (training and self.trainable) or mask is not None or not _fusable(self, inputs):
        return type(self).call(self, inputs, training=training, mask=mask)
    import tensorflow as tf

    gamma = self.gamma if self.scale else tf.ones(inputs.shape[-1], tf.float32)
    beta = self.beta if self.center else tf.zeros(inputs.shape[-1], tf.float32)
    y, mean, variance = tf.compat.v1.nn.fused_batch_norm(inputs, gamma, beta, epsilon=self.epsilon,
                                                         is_training=True)
    # The kernel normalises with the biased variance but returns the unbiased one (n / (n - 1)
    # larger); Keras keeps the biased one in its moving statistics, so this does too.
    n = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), tf.float32)
    variance = variance * (n - 1.0) / n
    self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
    self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
    return y


def _fusable(layer, inputs) -> bool:
    """The fused kernel's case: a 4-D channels-last float32 map, statistics over all but the
    last axis, no renormalisation. Anything else keeps Keras' ops."""
    axis = layer.axis if isinstance(layer.axis, int) else (layer.axis[0] if len(layer.axis) == 1 else None)
    rank = len(inputs.shape)
    return (rank == 4 and axis in (-1, rank - 1) and not getattr(layer, "renorm", False)
            and _dtype_name(inputs.dtype) == "float32")


def _dtype_name(dtype) -> str:
    from ..model.runtime import import_keras

    return import_keras().backend.standardize_dtype(dtype)


def _grey_augment_call(self, inputs, training=None, mask=None):
    """The augmentation block, in training, warping the first channel only and repeating it
    (the inputs' three channels are one grey film; the module docstring says why this is the
    same input). At inference the block is Keras' own (it passes inputs through)."""
    if not training or len(inputs.shape) != 4 or inputs.shape[-1] == 1:
        return type(self).call(self, inputs, training=training, mask=mask)
    from ..model.runtime import import_keras

    ops = import_keras().ops
    x = inputs[..., :1]
    for layer in self.layers:
        x = layer(x, training=training)
    return ops.tile(x, [1, 1, 1, inputs.shape[-1]])


@contextlib.contextmanager
def fast_training_step(model, enabled: bool = True):
    """While the block runs, ``model``'s BatchNormalization layers train on the fused kernel
    and its augmentation block warps one channel (nothing changes when ``enabled`` is false).
    The layers get Keras' own ``call`` back on exit, so what is saved afterwards is a plain
    Keras model. Yields how many layers were swapped."""
    from ..model.runtime import import_keras

    keras = import_keras()
    swapped = []
    if enabled:
        for layer in model._flatten_layers(include_self=False):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.call = types.MethodType(_fused_batch_norm_call, layer)
                swapped.append(layer)
            elif isinstance(layer, keras.Sequential) and layer.name == AUGMENT_LAYER:
                layer.call = types.MethodType(_grey_augment_call, layer)
                swapped.append(layer)
    try:
        yield len(swapped)
    finally:
        for layer in swapped:
            del layer.call


__all__ = ["fast_training_step"]
