"""training.fast_step: the cheaper training step computes what Keras' own step computes.

A recipe with ``fast_step`` trains its BatchNormalization layers on TensorFlow's fused kernel
and augments one grey channel instead of three. That is only worth having if it is the same
training, so each swap is checked against Keras on its own, where float rounding cannot be
amplified: the fused batch norm's output, gradients and moving statistics on one layer, and
the augmentation's output and random draws on the shipped augmentation block. (Whole-network
gradients are no judge: in the shipped network a last-bit change of the input already moves
some gradients by 4e-4 of their size, because max pooling and ReLU route a gradient by which
of two nearly equal values wins.) Then, on the shipped slim network, that the swap happens
inside Keras' compiled training step, changes its floats, and is undone afterwards.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from xrayviewer.training.recipes import RECIPES

pytestmark = pytest.mark.slow


def _keras():
    from xrayviewer.model.runtime import import_keras

    return import_keras()


def test_fused_batch_norm_matches_keras_output_gradients_and_moving_statistics():
    import tensorflow as tf

    from xrayviewer.training.fast_step import _fused_batch_norm_call

    keras = _keras()
    x = tf.constant(np.random.default_rng(0).normal(0.3, 2.0, (4, 16, 16, 8)).astype(np.float32))
    results = []
    for fused in (False, True):
        layer = keras.layers.BatchNormalization(momentum=0.9)
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 1.5, 8).astype(np.float32))
        layer.beta.assign(np.linspace(-0.2, 0.2, 8).astype(np.float32))
        if fused:
            layer.call = types.MethodType(_fused_batch_norm_call, layer)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.sin(y))  # a smooth loss: no ReLU kink to route gradients
        grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
        results.append([y.numpy(), *(g.numpy() for g in grads), layer.moving_mean.numpy(),
                        layer.moving_variance.numpy()])
    names = ["output", "d/dx", "d/dgamma", "d/dbeta", "moving mean", "moving variance"]
    for name, keras_value, fused_value in zip(names, *results):
        np.testing.assert_allclose(fused_value, keras_value, rtol=1e-4, atol=1e-5, err_msg=name)
    # The moving variance is Keras' biased one (the kernel returns the unbiased n / (n - 1)).
    biased = x.numpy().var(axis=(0, 1, 2))
    np.testing.assert_allclose(results[1][-1], 0.9 * 1.0 + 0.1 * biased, rtol=1e-5)


def test_grey_augmentation_matches_keras_output_and_draws():
    import tensorflow as tf

    from xrayviewer.imaging import to_model_input
    from xrayviewer.model.architectures import build_model
    from xrayviewer.training.fast_step import _grey_augment_call

    keras = _keras()
    grey = (np.random.default_rng(1).random((6, 128, 128)) * 255).astype(np.uint8)
    x = tf.constant(to_model_input(grey))
    outputs, states = [], []
    for one_channel in (False, True):
        keras.utils.set_random_seed(7)  # the same seed generator states in both
        augment = build_model("default").get_layer("augment")
        if one_channel:
            augment.call = types.MethodType(_grey_augment_call, augment)
        outputs.append([augment(x, training=True).numpy() for _ in range(3)])
        states.append([v.numpy() for v in augment.variables])
    for keras_batch, grey_batch in zip(*outputs):
        assert np.abs(grey_batch - keras_batch).max() <= 1e-6
        assert np.array_equal(grey_batch[..., 0], grey_batch[..., 2])
    assert not all(np.array_equal(a, b) for a, b in zip(outputs[0][0], outputs[0][1]))  # draws move on
    for a, b in zip(*states):  # ... and both consumed the random stream alike
        np.testing.assert_array_equal(a, b)
    # At inference the block passes its input through, as Keras' does.
    np.testing.assert_array_equal(augment(x, training=False).numpy(), x.numpy())


def test_the_swap_runs_inside_keras_training_step_and_is_undone():
    from xrayviewer.imaging import to_model_input
    from xrayviewer.model.architectures import build_model
    from xrayviewer.training.fast_step import fast_training_step

    keras = _keras()
    rng = np.random.default_rng(0)
    x = to_model_input((rng.random((8, 128, 128)) * 255).astype(np.uint8))
    y = (np.arange(8) % 2).astype(np.float32)
    runs = []
    for fast in (False, True):
        keras.utils.set_random_seed(7)
        model = build_model("default-slim")
        model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="binary_crossentropy")
        with fast_training_step(model, enabled=fast) as swapped:
            loss = float(model.train_on_batch(x, y))
        runs.append((model, swapped, loss))
    (plain, none_swapped, plain_loss), (fast, swapped, fast_loss) = runs
    bn = [layer for layer in fast._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    assert none_swapped == 0 and swapped == len(bn) + 1  # every BN, and the augmentation block
    assert fast_loss == pytest.approx(plain_loss, rel=1e-5)
    assert not all(np.array_equal(a, b) for a, b in zip(plain.get_weights(), fast.get_weights())), \
        "the fast step left every weight bit-identical: Keras' compiled step did not use it"
    # Keras' own call is back: inference and saving see a plain Keras model.
    assert all("call" not in vars(layer) for layer in fast._flatten_layers())


def test_only_the_opted_in_recipes_take_the_fast_step():
    # Older recipes keep Keras' ops, so their commands still reproduce their bundles bit for bit.
    assert [name for name, recipe in RECIPES.items() if recipe.fast_step] == ["default-frame-xy-slim-fast",
                                                                              "default-frame-xy-slim-stride"]


def test_a_fast_step_recipe_saves_a_plain_bundle_the_app_scores(tiny_dataset, tmp_path):
    """fit() with the fast step: the saved model is plain Keras layers (loads without this
    module), converted and checked for LiteRT like any other bundle."""
    import json

    from xrayviewer.model import Predictor
    from xrayviewer.training import TrainConfig, fit

    cfg = TrainConfig(dataset_dir=str(tiny_dataset), out_dir=str(tmp_path / "m"), recipe="default-frame-xy-slim-fast",
                      epochs=1, seed=0, name="fast", val_fraction=0.35, cache_dir=str(tmp_path / "cache"))
    path = fit(cfg).model_path
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["recipe"] == "default-frame-xy-slim-fast"
    model = _keras().saving.load_model(path, compile=False)
    assert {type(layer).__name__ for layer in model._flatten_layers()} >= {"BatchNormalization", "Sequential"}
    assert Predictor.load(path).runtime == "litert"
