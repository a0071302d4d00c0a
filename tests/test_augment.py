"""Tone and sharpness augmentation (the default-tone recipe): training batches vary the way
another site's processing would; validation and prediction inputs never do."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from xrayviewer.training import DEFAULT_RECIPE, RECIPES, get_recipe, recipe_of
from xrayviewer.training.augment import tone_and_sharpness
from xrayviewer.training.cache import build_cache
from xrayviewer.training.dataset import scan_dataset

from conftest import TINY_DATASET


def _ramp_batch(n=16):
    """Smooth test pictures with structure (a gradient and a bright disc)."""
    yy, xx = np.mgrid[:128, :128]
    base = 40 + xx * 1.2 + 80 * (((yy - 64) ** 2 + (xx - 64) ** 2) < 30 ** 2)
    return np.stack([np.clip(base + 3 * i, 0, 255) for i in range(n)]).astype(np.uint8)


def test_augmentation_keeps_shape_and_type_and_is_reproducible():
    batch = _ramp_batch()
    a = tone_and_sharpness(batch, np.random.default_rng(7))
    b = tone_and_sharpness(batch, np.random.default_rng(7))
    assert a.shape == batch.shape and a.dtype == np.uint8
    assert np.array_equal(a, b), "the same seed must give the same training run"
    assert not np.array_equal(a, tone_and_sharpness(batch, np.random.default_rng(8)))
    assert tone_and_sharpness(batch[:0], np.random.default_rng(0)).shape == (0, 128, 128)


def test_augmentation_changes_tone_but_keeps_the_picture():
    batch = _ramp_batch(64)
    out = tone_and_sharpness(batch, np.random.default_rng(0)).astype(np.float32)
    src = batch.astype(np.float32)
    changed = np.abs(out - src).mean(axis=(1, 2))
    assert (changed > 1.0).mean() > 0.8, "most images should be visibly re-processed"
    # Still the same picture: bright disc brighter than the dark corner, strongly correlated.
    assert (out[:, 64, 64] > out[:, 5, 5]).all()
    corr = [np.corrcoef(o.ravel(), s.ravel())[0, 1] for o, s in zip(out, src)]
    assert min(corr) > 0.9


def test_only_training_batches_are_augmented(tmp_path):
    from xrayviewer.imaging import to_model_input
    from xrayviewer.training.sequence import CachedBatches

    scan = scan_dataset(TINY_DATASET)
    cache, ok, _ = build_cache(scan.samples, tmp_path)
    idx = np.array(ok[:8])
    labels = np.zeros(len(idx))
    plain = to_model_input(cache.read(idx))
    val = CachedBatches(cache, idx, labels, 8, shuffle=False)
    train = CachedBatches(cache, idx, labels, 8, shuffle=False, augment=tone_and_sharpness)
    assert np.array_equal(val[0][0], plain)
    assert not np.array_equal(train[0][0], plain)
    assert train[0][0].shape == plain.shape and train[0][0].dtype == np.float32


def test_default_means_default_frame_xy_slim_stride_and_old_bundles_keep_their_recipe():
    r = RECIPES["default-frame-xy-slim-stride"]
    assert r.network == "default-slim-stride" and r.tone_augment and r.framing_augment and r.vertical_framing
    assert r.average_last == 5 and r.fast_step
    assert get_recipe("default") is r and DEFAULT_RECIPE == "default-frame-xy-slim-stride"
    # What `--recipe default` trains is what the bundled model was trained with.
    from xrayviewer.model.bundle import bundled_model_path
    assert json.loads(bundled_model_path().with_suffix(".json").read_text())["recipe"] == DEFAULT_RECIPE
    assert RECIPES["default-v1"].network == "default" and not RECIPES["default-v1"].tone_augment
    assert RECIPES["seed"].network == "seed"
    # Bundles written while "default" was the un-augmented recipe still say which one they are.
    assert recipe_of({"recipe": "default"}) == "default-v1"
    assert recipe_of({"recipe": "default-tone"}) == "default-tone"
    assert recipe_of({"recipe": "seed"}) == "seed"
    with pytest.raises(ValueError, match="Unknown recipe"):
        get_recipe("tone")


def test_cli_offers_every_recipe():
    out = subprocess.run([sys.executable, "-m", "xrayviewer", "train", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for name in ["default", *RECIPES]:
        assert name in out


@pytest.mark.slow
def test_fit_default_tone_one_epoch(tiny_dataset, tmp_path):
    from xrayviewer.training import TrainConfig, fit

    cfg = TrainConfig(dataset_dir=str(tiny_dataset), out_dir=str(tmp_path / "m"), recipe="default-tone", epochs=1,
                      seed=0, name="tone", val_fraction=0.35, cache_dir=str(tmp_path / "cache"))
    result = fit(cfg)
    meta = json.loads(result.model_path.with_suffix(".json").read_text())
    assert meta["recipe"] == "default-tone"
    assert meta["training"]["params"] == 139905  # the default network



def test_epoch_plan_caps_the_shipped_run_but_not_an_override():
    from xrayviewer.training.recipes import epoch_plan

    assert epoch_plan(get_recipe("default")) == (21, 24)  # stops before its schedule ends
    assert epoch_plan(get_recipe("default"), 3) == (3, 3)  # a short run still anneals fully
    assert epoch_plan(get_recipe("seed")) == (20, 20)
    assert epoch_plan(get_recipe("default-v1")) == (24, 24)


def test_mixup_batches_blend_inputs_labels_and_class_weights_alike(tmp_path):
    from xrayviewer.training.sequence import training_batches

    scan = scan_dataset(TINY_DATASET)
    cache, ok, _ = build_cache(scan.samples, tmp_path)
    idx = np.array(ok[:16])
    labels = np.array([s.label for s in np.asarray(scan.samples, dtype=object)[idx]], dtype=np.float32)
    assert 0 < labels.sum() < len(labels)
    recipe = RECIPES["default-mix"]
    x, y, w = training_batches(recipe, cache, idx, labels, seed=3)[0]
    assert x.shape == (16, 128, 128, 3) and x.dtype == np.float32
    assert ((y >= 0) & (y <= 1)).all() and ((y > 0.01) & (y < 0.99)).any()  # some labels are blends
    # The class weights follow the labels: a blend's weight lies between the two classes' weights
    # in the same proportion as its label between 0 and 1.
    n, pos = len(labels), labels.sum()
    w0, w1 = n / (2 * (n - pos)), n / (2 * pos)
    np.testing.assert_allclose(w, w0 + (w1 - w0) * y, rtol=1e-5)
    # Every blend is a mixture of two real (tone-augmented) films, not noise: within [0, 1].
    assert x.min() >= 0 and x.max() <= 1
    # Without mixup nothing changes: the recipe it extends yields (input, label) pairs.
    plain = training_batches(RECIPES["default-tone"], cache, idx, labels, seed=3)[0]
    assert len(plain) == 2 and set(np.unique(plain[1])) <= {0.0, 1.0}


@pytest.mark.slow
def test_fit_default_mix_one_epoch(tiny_dataset, tmp_path):
    from xrayviewer.training import TrainConfig, fit

    cfg = TrainConfig(dataset_dir=str(tiny_dataset), out_dir=str(tmp_path / "m"), recipe="default-mix", epochs=1,
                      seed=0, name="mix", val_fraction=0.35, cache_dir=str(tmp_path / "cache"))
    meta = json.loads(fit(cfg).model_path.with_suffix(".json").read_text())
    assert meta["recipe"] == "default-mix" and 0 < meta["threshold"] <= 1


def test_mixup_training_accuracy_scores_blends_against_their_dominant_label():
    # Otherwise the training panel's accuracy curve would sit near 0.5 for a network that learns.
    from xrayviewer.model.runtime import import_keras
    from xrayviewer.training.fit import _training_metrics

    keras = import_keras()
    y_true, y_pred = np.array([[0.8], [0.1], [0.97], [0.3]]), np.array([[0.9], [0.2], [0.7], [0.6]])
    plain, _ = _training_metrics(keras, blended_labels=False)
    mixed, auc = _training_metrics(keras, blended_labels=True)
    plain.update_state(y_true, y_pred)
    mixed.update_state(y_true, y_pred)
    auc.update_state(y_true, y_pred)
    assert float(plain.result()) == 0.0  # blended labels never equal a 0/1 prediction
    assert float(mixed.result()) == 0.75  # 3 of 4 on the side of their dominant label
    assert float(auc.result()) == pytest.approx(1.0, abs=0.01)  # both positives above both negatives


def test_every_recipe_names_a_network_that_exists():
    """A recipe (training settings) names its network; a typo would surface only when someone
    trains it, an hour in."""
    from xrayviewer.model.architectures import NETWORKS

    assert {r.network for r in RECIPES.values()} <= set(NETWORKS)


def test_balanced_sampling_shows_each_class_half_the_time_and_repeats_the_smaller():
    from xrayviewer.training.sequence import CachedBatches, training_batches

    # A split like the real one: about 1 normal in 4. The cache is not read: only the order.
    labels = np.array([0] * 25 + [1] * 75, dtype=np.float32)
    idx = np.arange(100)
    balanced = CachedBatches(None, idx, labels, 10, shuffle=True, seed=3, balanced=True)
    for _ in range(3):  # every epoch, freshly drawn
        drawn = labels[balanced._order]
        assert len(drawn) == 100 and (drawn == 0).sum() == 50
        normals = np.bincount(balanced._order[drawn == 0], minlength=25)[:25]
        assert normals.min() == 2 and normals.max() == 2  # each normal twice, none left out
        balanced.on_epoch_end()
    plain = CachedBatches(None, idx, labels, 10, shuffle=True, seed=3)
    assert sorted(plain._order) == list(range(100))  # unchanged without it: each file once
    recipe = RECIPES["default-frame-bal"]
    assert recipe.balanced_sampling and not recipe.class_weights and recipe.shifts_prior
    assert training_batches(recipe, None, idx, labels).balanced
    assert RECIPES["default-frame-mean"].shifts_prior and not RECIPES["seed"].shifts_prior
