"""LiteRT scoring: every saved bundle carries a .tflite checked against Keras, the Keras
fallback, and numpy Grad-CAM equal to TensorFlow's GradientTape Grad-CAM on a fixed scale."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, TINY_DATASET
from xrayviewer.imaging import load_image, preprocess
from xrayviewer.model import ModelLoadError, Predictor, read_model_info
from xrayviewer.model.architectures import GRADCAM_LAYER
from xrayviewer.model.bundle import litert_path, metadata_path, ood_path, sha256_of
from xrayviewer.model.convert import MAX_DIFFERENCE, linear_head
from xrayviewer.model.gradcam import display_heatmap, grad_cam_evidence, linear_grad_cam

pytestmark = pytest.mark.slow
SAMPLES = REPO / "resources" / "samples"
NORMAL_SAMPLE, PNEUMONIA_SAMPLE = SAMPLES / "IM-0199-0001.jpeg", SAMPLES / "person992_bacteria_2919.jpeg"


def _inputs() -> np.ndarray:
    files = [NORMAL_SAMPLE, PNEUMONIA_SAMPLE] + sorted(TINY_DATASET.rglob("*.jpeg"))[:6]
    return np.stack([preprocess(load_image(f)) for f in files])


def _copy_bundle(keras_path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f in (keras_path, metadata_path(keras_path), ood_path(keras_path), litert_path(keras_path)):
        if f.exists():
            shutil.copy(f, folder / f.name)
    return folder / keras_path.name


def test_saved_bundle_has_a_checked_tflite(tiny_model):
    info = read_model_info(tiny_model)
    entry = info.meta["litert"]
    assert litert_path(tiny_model).is_file() and info.has_litert
    assert entry["file"] == litert_path(tiny_model).name
    assert entry["sha256"] == sha256_of(litert_path(tiny_model))
    assert 0.0 <= entry["score_difference_vs_keras"] <= MAX_DIFFERENCE
    assert 0.0 <= entry["max_difference_vs_keras"] <= MAX_DIFFERENCE * entry["activation_scale"]
    assert "bundled sample" in entry["checked_on"]
    assert info.meta["gradcam"]["layer"] == GRADCAM_LAYER and len(info.meta["gradcam"]["weights"]) > 0
    assert entry["input_channels"] == 1  # the grey film once (convert.grey_input_network)


def test_the_grey_network_scores_as_keras_and_refuses_a_colour_input(tiny_model):
    """The .tflite takes the grey film once (its first convolution folded over the three equal
    channels); the same three-channel model inputs give Keras' scores, and an input whose
    channels differ (which no preprocessing of ours makes) is refused, not mis-scored."""
    from xrayviewer.model.litert_runner import LiteRTRunner, fit_channels

    runner = LiteRTRunner(litert_path(tiny_model).read_bytes(), threads=1)
    assert runner.channels == 1
    x = _inputs()
    rgb_prob, rgb_conv = runner.forward(x)
    grey_prob, grey_conv = runner.forward(x[..., :1])
    assert np.array_equal(rgb_prob, grey_prob) and np.array_equal(rgb_conv, grey_conv)
    tinted = x.copy()
    tinted[0, 10, 10, 2] += 0.1
    with pytest.raises(ValueError, match="channels differ"):
        runner.forward(tinted)
    # A network that takes three channels (a bundle converted before) gets them from grey.
    assert np.array_equal(fit_channels(x[..., :1], 3), x)


def test_a_three_channel_tflite_from_before_still_scores_like_keras(tiny_model, tmp_path):
    """Bundles converted before 2026-12-07 carry a network that takes three channels: the
    predictor feeds it from the grey channel and the scores still match Keras."""
    from xrayviewer.model.architectures import with_last_conv_output
    from xrayviewer.model.runtime import import_keras, import_tensorflow

    keras, tf = import_keras(), import_tensorflow()
    dual = with_last_conv_output(keras.saving.load_model(tiny_model, compile=False))
    graph = tf.function(lambda v: dual(v, training=False), autograph=False,
                        input_signature=[tf.TensorSpec([None, 128, 128, 3], tf.float32)])
    old = tf.lite.TFLiteConverter.from_concrete_functions([graph.get_concrete_function()], dual).convert()
    bundle = _copy_bundle(tiny_model, tmp_path / "old")
    litert_path(bundle).write_bytes(old)
    meta = json.loads(metadata_path(bundle).read_text())
    meta["litert"]["sha256"] = sha256_of(litert_path(bundle))
    del meta["litert"]["input_channels"]
    metadata_path(bundle).write_text(json.dumps(meta))
    lite = Predictor.load(bundle)
    assert lite.runtime == "litert" and lite.network._runner().channels == 3
    files = [str(NORMAL_SAMPLE), str(PNEUMONIA_SAMPLE)]
    expected = Predictor.load(tiny_model).predict_files(files)  # the grey network's scores
    got = lite.predict_files(files)
    assert max(abs(a.prediction.probability - b.prediction.probability) for a, b in zip(got, expected)) <= 1e-5


def test_litert_and_keras_agree_and_keras_is_the_fallback(tiny_model, monkeypatch):
    lite = Predictor.load(tiny_model)
    assert lite.runtime == "litert"
    monkeypatch.setenv("XRAYVIEWER_BACKEND", "keras")
    keras = Predictor.load(tiny_model)
    assert keras.runtime == "keras"
    x = _inputs()
    a, b = lite.predict_batch(x), keras.predict_batch(x)
    assert max(abs(p.probability - q.probability) for p, q in zip(a, b)) <= 1e-5
    # This 1-epoch model's OOD covariance (256 features, ~15 training images) is near-singular
    # and amplifies float noise to a few per cent (the bundled model: 4e-7, see
    # benchmarks/litert_agreement.py): the flags must still agree.
    assert [p.out_of_distribution for p in a] == [q.out_of_distribution for q in b]


def test_a_bundle_without_tflite_is_scored_by_keras_and_can_be_given_one(tiny_model, tmp_path):
    from xrayviewer.model.add_litert import add_litert

    path = _copy_bundle(tiny_model, tmp_path / "old")
    litert_path(path).unlink()
    meta = json.loads(metadata_path(path).read_text())
    meta.pop("litert"), meta.pop("gradcam")
    metadata_path(path).write_text(json.dumps(meta))
    old = Predictor.load(path)
    assert old.runtime == "keras"
    x = _inputs()[:3]
    add_litert(path)
    new = Predictor.load(path)
    assert new.runtime == "litert" and read_model_info(path).meta["sha256"] == meta["sha256"]
    assert max(abs(p.probability - q.probability)
               for p, q in zip(old.predict_batch(x), new.predict_batch(x))) <= 1e-5


def test_a_replaced_tflite_is_refused(tiny_model, tmp_path):
    path = _copy_bundle(tiny_model, tmp_path / "tampered")
    data = bytearray(litert_path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    litert_path(path).write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="does not match its metadata"):
        Predictor.load(path)


def test_a_conversion_that_fails_its_check_saves_the_bundle_without_tflite(tiny_model, tmp_path, monkeypatch):
    """Converted models that differ from Keras by more than 1e-5 are not shipped: the bundle is
    saved (the training is not lost) and Keras scores it."""
    from xrayviewer.model import convert, save_bundle
    from xrayviewer.model.runtime import import_keras

    keras = import_keras()
    model = keras.saving.load_model(tiny_model, compile=False)
    monkeypatch.setattr(convert, "largest_difference", lambda *a: (2e-5, 0.0, 1.0))
    meta = {k: v for k, v in read_model_info(tiny_model).meta.items() if k not in ("litert",)}
    path = save_bundle(model, meta, tmp_path, "unchecked")
    assert not litert_path(path).exists() and "litert" not in read_model_info(path).meta
    assert Predictor.load(path).runtime == "keras"


def test_conversion_bounds_the_score_absolutely_and_the_activations_by_their_size():
    from xrayviewer.model.convert import difference_accepted

    assert difference_accepted(9e-6, 9e-6, 0.5)
    assert not difference_accepted(2e-5, 0.0, 1.0)  # the probability a reader sees: 1e-5, whatever else
    assert difference_accepted(5e-7, 1.9e-5, 5.06)  # default-norm seed 0: activations up to ~5
    assert not difference_accepted(5e-7, 6e-5, 5.06)
    assert not difference_accepted(float("nan"), 0.0, 1.0) and not difference_accepted(0.0, float("nan"), 1.0)


def test_numpy_gradcam_equals_gradient_tape_gradcam(tiny_model):
    """The stored Dense weights and the forward pass's activations give TensorFlow's Grad-CAM
    (GradientTape) to 1e-4, raw and on the display scale."""
    from xrayviewer.model.runtime import import_keras

    keras = import_keras()
    model = keras.saving.load_model(tiny_model, compile=False)
    lite = Predictor.load(tiny_model)
    x = _inputs()
    tape = grad_cam_evidence(model, x, GRADCAM_LAYER)
    numpy_cam = linear_grad_cam(lite.network.forward(x)[1], lite.info.linear_head["weights"])
    assert tape.shape == numpy_cam.shape == (len(x), 16, 16)
    assert tape.max() > 0
    assert np.abs(tape - numpy_cam).max() <= 1e-4
    assert np.abs(display_heatmap(tape) - lite.explain_cells(x)).max() <= 1e-4


def test_a_head_that_is_not_linear_keeps_the_tensorflow_path():
    from xrayviewer.model.architectures import build_model

    assert linear_head(build_model("seed")) is None  # max-pool + Flatten after the explained layer
    assert linear_head(build_model("default")) is not None


def test_heatmaps_share_one_scale_across_films():
    """The bundled model, a normal and a pneumonia sample: the pneumonia film reaches full red
    where its evidence is strongest, the normal film does not (its map is not stretched to its
    own maximum), and a film's map is the same alone or beside another."""
    p = Predictor.load()
    x = np.stack([preprocess(load_image(NORMAL_SAMPLE)), preprocess(load_image(PNEUMONIA_SAMPLE))])
    normal, pneumonia = p.predict_batch(x)
    assert normal.label == "NORMAL" and pneumonia.label == "PNEUMONIA"
    both = p.explain_cells(x)
    assert both[1].max() == pytest.approx(1.0)
    assert both[0].max() < 0.95
    assert np.abs(p.explain_cells(x[:1])[0] - both[0]).max() <= 1e-6
