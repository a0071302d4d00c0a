"""The recipes' architectures (build only, no training)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models():
    from xrayviewer.model.architectures import build_model

    return {"seed": build_model("seed"), "default": build_model("default")}


def _shape(t):
    return tuple(t.shape)


def test_seed_input_and_flatten_shapes(models):
    seed = models["seed"]
    assert _shape(seed.input) == (None, 128, 128, 3)
    flatten = [layer for layer in seed.layers if type(layer).__name__ == "Flatten"]
    assert len(flatten) == 1
    assert _shape(flatten[0].input) == (None, 5, 5, 256)
    assert _shape(flatten[0].output) == (None, 5 * 5 * 256)


def test_seed_conv_stack(models):
    convs = [layer for layer in models["seed"].layers if type(layer).__name__ == "Conv2D"]
    assert [c.kernel_size for c in convs] == [(5, 5), (5, 5), (5, 5), (7, 7)]
    assert [c.filters for c in convs] == [32, 64, 128, 256]
    pools = [layer for layer in models["seed"].layers if type(layer).__name__ == "MaxPooling2D"]
    assert len(pools) == 4


def test_seed_head_is_one_sigmoid_unit(models):
    dense = [layer for layer in models["seed"].layers if type(layer).__name__ == "Dense"]
    assert len(dense) == 1
    assert dense[0].units == 1
    assert dense[0].activation.__name__ == "sigmoid"
    assert _shape(models["seed"].output) == (None, 1)
    assert dense[0].input.shape[-1] == 6400


@pytest.mark.parametrize("recipe", ["seed", "default"])
def test_named_layers_for_gradcam_and_ood(models, recipe):
    m = models[recipe]
    last_conv = m.get_layer("last_conv")
    features = m.get_layer("features")
    assert len(last_conv.output.shape) == 4  # a spatial map Grad-CAM can weight
    assert last_conv.output.shape[-1] == 256
    assert len(features.output.shape) == 2


def test_default_is_much_smaller_than_seed(models):
    seed, default = models["seed"].count_params(), models["default"].count_params()
    assert seed > 1_500_000
    assert default < seed / 5
    assert _shape(models["default"].input) == (None, 128, 128, 3)
    assert _shape(models["default"].output) == (None, 1)
    dense = models["default"].get_layer("pneumonia")
    assert dense.units == 1 and dense.activation.__name__ == "sigmoid"


def test_default_has_no_horizontal_flip(models):
    aug = models["default"].get_layer("augment")
    names = [type(layer).__name__ for layer in aug.layers]
    assert "RandomFlip" not in names


def test_unknown_network_is_clear():
    from xrayviewer.model.architectures import build_model

    with pytest.raises(ValueError, match="seed, default"):
        build_model("resnet")
