"""Issue 14's recipe candidates and experiment tools: framing augmentation, the in-network
per-image standardisation, label smoothing, and the per-epoch external monitor and weight
snapshots of ``train --monitor --keep-snapshots``."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from conftest import TINY_DATASET
from xrayviewer.training import RECIPES
from xrayviewer.training.augment import framing, framing_xy
from xrayviewer.training.cache import build_cache
from xrayviewer.training.dataset import scan_dataset


def _framed_body(n=64):
    """A bright 'body' filling the middle 75% of the width, black at both sides."""
    img = np.zeros((128, 128), dtype=np.uint8)
    img[8:120, 16:112] = 180
    return np.stack([img] * n)


def _dark_side_fraction(batch):
    sides = np.concatenate([batch[:, :, :12], batch[:, :, -12:]], axis=2)
    return (sides < 15).mean(axis=(1, 2))


def test_framing_varies_the_side_background_and_is_reproducible():
    batch = _framed_body()
    out = framing(batch, np.random.default_rng(5))
    assert out.shape == batch.shape and out.dtype == np.uint8
    assert np.array_equal(out, framing(batch, np.random.default_rng(5)))
    before = _dark_side_fraction(batch)[0]  # 1.0: every side pixel is background
    after = _dark_side_fraction(out)
    # A zoom-in pulls the body into the side columns: the shortcut feature now varies widely
    # within one class instead of being fixed by how the film was framed.
    assert before == 1.0 and after.min() < 0.5 and (after < before).mean() > 0.15
    # Some films stay as they were (20%), and the body stays in the middle of every film.
    assert (after == before).any()
    assert (out[:, 64, 64] == 180).all()
    assert framing(batch[:0], np.random.default_rng(0)).shape == (0, 128, 128)


def test_default_frame_batches_are_reframed_and_tone_augmented(tmp_path):
    from xrayviewer.training.sequence import training_batches

    scan = scan_dataset(TINY_DATASET)
    cache, ok, _ = build_cache(scan.samples, tmp_path)
    idx = np.array(ok[:16])
    labels = np.array([s.label for s in np.asarray(scan.samples, dtype=object)[idx]], dtype=np.float32)
    plain = training_batches(RECIPES["default-v1"], cache, idx, labels, seed=1)[0][0]
    tone = training_batches(RECIPES["default-tone"], cache, idx, labels, seed=1)[0][0]
    frame = training_batches(RECIPES["default-frame"], cache, idx, labels, seed=1)[0][0]
    assert frame.shape == plain.shape == (16, 128, 128, 3)
    assert not np.array_equal(frame, tone) and not np.array_equal(frame, plain)
    r = RECIPES["default-frame"]
    assert r.framing_augment and r.tone_augment and r.network == "default"


@pytest.mark.slow
def test_standardised_network_ignores_exposure_and_contrast():
    from xrayviewer.model.architectures import build_model
    from xrayviewer.model.runtime import import_keras

    keras = import_keras()
    model = build_model("default-std")
    assert model.count_params() == 139905  # no weights added: prediction cost unchanged
    first_conv_input = keras.Model(model.input, model.get_layer("standardize").output)
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 0.7, size=(4, 128, 128, 3)).astype(np.float32)
    brighter = 1.3 * x + 0.05  # another exposure and contrast, same picture
    a = np.asarray(first_conv_input(x, training=False))
    b = np.asarray(first_conv_input(brighter, training=False))
    np.testing.assert_allclose(a, b, atol=5e-3)  # the convolutions see the same thing
    assert abs(a.mean()) < 1e-3 and abs(a.std() - 1) < 1e-2
    assert "standardize" not in [layer.name for layer in build_model("default").layers]


@pytest.mark.slow
def test_monitor_logs_external_auc_and_snapshots_hold_every_epoch(tiny_dataset, tmp_path):
    from xrayviewer.model.architectures import build_model
    from xrayviewer.training import TrainConfig, fit

    cfg = TrainConfig(dataset_dir=str(tiny_dataset), out_dir=str(tmp_path / "m"), recipe="default-norm", epochs=2,
                      seed=0, name="gen", val_fraction=0.35, cache_dir=str(tmp_path / "cache"),
                      monitor_dir=str(TINY_DATASET), keep_snapshots=True)
    result = fit(cfg)
    meta = json.loads(result.model_path.with_suffix(".json").read_text())
    assert meta["recipe"] == "default-norm" and meta["config"]["monitor_dir"] == str(TINY_DATASET)
    history = meta["training"]["history"]
    assert len(history) == 2 and all(0.0 <= h["monitor_auc"] <= 1.0 for h in history)
    snaps = np.load(result.model_path.with_name("gen.epochs.npz"))
    model = build_model("default-std")
    n = len(model.get_weights())
    assert sorted(snaps.files) == sorted(f"e{k}_{i}" for k in (1, 2) for i in range(n))
    # The snapshot of the last epoch is a full set of weights for the recipe's network.
    model.set_weights([snaps[f"e2_{i}"] for i in range(n)])
    assert not any(p.name.endswith(".tmp.npz") for p in result.model_path.parent.iterdir())


def test_label_smoothing_is_the_only_loss_change():
    smoothed = {"default-norm", "default-std-frame"}
    assert all(RECIPES[name].label_smoothing == 0.1 for name in smoothed)
    assert all(r.label_smoothing == 0.0 for name, r in RECIPES.items() if name not in smoothed)


def test_default_std_frame_is_default_norm_plus_framing_and_a_weight_mean():
    both, norm = RECIPES["default-std-frame"], RECIPES["default-norm"]
    assert both.framing_augment and not norm.framing_augment and both.average_last == 5
    same = ("epochs", "schedule_epochs", "batch_size", "learning_rate", "class_weights", "cosine_decay",
            "patience", "network", "tone_augment", "label_smoothing", "mixup_alpha")
    assert all(getattr(both, k) == getattr(norm, k) for k in same)
    averaged = {"default-std-frame", "default-frame-mean", "default-tone-mean", "default-frame-bal",
                "default-frame-illum", "default-frame-xy", "default-frame-slim", "default-frame-xy-slim",
                "default-frame-wide", "default-frame-mirror", "default-frame-xy-slim-fast",
                "default-frame-xy-slim-stride"}
    assert all(r.average_last == 0 for name, r in RECIPES.items() if name not in averaged)


def test_the_mean_recipes_change_only_which_weights_are_kept():
    import dataclasses
    for name, parent in (("default-frame-mean", "default-frame"), ("default-tone-mean", "default-tone")):
        mine, theirs = dataclasses.asdict(RECIPES[name]), dataclasses.asdict(RECIPES[parent])
        differs = {k for k in mine if mine[k] != theirs[k]}
        assert differs == {"name", "description", "average_last"}
        assert mine["average_last"] == 5
    # Rule 27's candidate changes one thing more: balanced sampling instead of class weights.
    mine, theirs = dataclasses.asdict(RECIPES["default-frame-bal"]), dataclasses.asdict(RECIPES["default-frame-mean"])
    assert {k for k in mine if mine[k] != theirs[k]} == {"name", "description", "class_weights", "balanced_sampling"}


def test_mean_weights_averages_each_array_and_keeps_its_dtype():
    from xrayviewer.training.averaging import RecentWeights, mean_weights

    a = [np.array([0.0, 2.0], np.float32), np.array([1, 3], np.int64)]
    b = [np.array([2.0, 4.0], np.float32), np.array([3, 5], np.int64)]
    m = mean_weights([a, b])
    np.testing.assert_array_equal(m[0], [1.0, 3.0])
    assert m[0].dtype == np.float32 and m[1].dtype == np.int64
    recent = RecentWeights(2)
    for epoch, w in enumerate([b, a, b], start=1):  # only the last two count
        recent.add(epoch, w)
    weights, span = recent.mean()
    assert span == (2, 3) and np.array_equal(weights[0], m[0])
    with pytest.raises(ValueError):
        mean_weights([])


@pytest.mark.slow
def test_a_weight_mean_recipe_saves_the_mean_of_its_last_epochs(tiny_dataset, tmp_path):
    """fit() keeps exactly the mean of the last epochs' weights (snapshot_eval's swa-last5),
    records which epochs, and the bundle's scores come from those weights."""
    from xrayviewer.model.architectures import build_model
    from xrayviewer.model.runtime import import_keras
    from xrayviewer.training import TrainConfig, fit
    from xrayviewer.training.averaging import mean_weights

    cfg = TrainConfig(dataset_dir=str(tiny_dataset), out_dir=str(tmp_path / "m"), recipe="default-std-frame",
                      epochs=3, seed=0, name="avg", val_fraction=0.35, cache_dir=str(tmp_path / "cache"),
                      keep_snapshots=True)
    result = fit(cfg)
    meta = json.loads(result.model_path.with_suffix(".json").read_text())
    assert meta["training"]["kept"] == {"rule": "weight-mean", "epochs": [1, 3]}  # fewer than 5 run: all
    n = len(build_model("default-std").get_weights())
    z = np.load(result.model_path.with_name("avg.epochs.npz"))
    snaps = [[z[f"e{k}_{i}"] for i in range(n)] for k in (1, 2, 3)]
    saved = import_keras().models.load_model(result.model_path, compile=False).get_weights()
    expected = mean_weights(snaps)
    assert len(saved) == len(expected)
    for got, want in zip(saved, expected):
        np.testing.assert_array_equal(got, want)
    assert not all(np.array_equal(a, b) for a, b in zip(saved, snaps[-1]))  # not just the last epoch


def _external_eval():
    from benchmarks import external_eval

    return external_eval


def test_external_eval_thresholds_come_from_internal_validation_and_paired_difference_has_sign():
    ev = _external_eval()
    rng = np.random.default_rng(0)
    y_val = np.r_[np.zeros(100), np.ones(300)].astype(int)
    p_val = np.clip(np.where(y_val == 1, 0.8, 0.2) + rng.normal(0, 0.1, y_val.size), 0, 1)
    y_ext = np.r_[np.zeros(60), np.ones(90)].astype(int)
    weak = np.clip(np.where(y_ext == 1, 0.7, 0.45) + rng.normal(0, 0.15, y_ext.size), 0, 1)
    strong = np.clip(np.where(y_ext == 1, 0.8, 0.2) + rng.normal(0, 0.1, y_ext.size), 0, 1)
    groups = [f"p{i // 2}" for i in range(y_ext.size)]  # two films per patient
    scores = {"threshold": 0.5,
              "val": {"y": y_val, "p": p_val, "groups": [f"v{i}" for i in range(y_val.size)]},
              "ext": {"y": y_ext, "p": weak, "groups": groups}}
    res = ev.evaluate_scores(scores, n_boot=50)
    # val95 is fitted on internal validation: it gives >= 0.95 sensitivity there...
    assert res["internal"]["at"]["val95"]["sensitivity"] >= 0.95
    # ...and the same threshold is applied, unchanged, to the external set.
    assert res["external"]["at"]["val95"]["threshold"] == res["internal"]["at"]["val95"]["threshold"]
    assert res["external"]["at"]["ext-oracle"]["sensitivity"] >= 0.93
    lo, hi = res["external"]["auc_ci95"]
    assert lo <= res["external"]["auc"] <= hi
    d = ev.paired_auc_difference(y_ext, weak, strong, groups, n_boot=200)
    assert d["difference"] > 0.1 and d["ci95"][0] > 0 and d["share_ahead"] == 1.0
    assert ev.paired_auc_difference(y_ext, strong, weak, groups, n_boot=50)["difference"] < 0


def test_illumination_changes_broad_brightness_keeps_black_and_is_reproducible():
    from xrayviewer.training.augment import illumination

    batch = _framed_body()
    out = illumination(batch, np.random.default_rng(3))
    assert out.shape == batch.shape and out.dtype == np.uint8
    assert np.array_equal(out, illumination(batch, np.random.default_rng(3)))
    # A gain, not an offset: the background outside the body stays black in every film.
    assert (out[batch == 0] == 0).all()
    # The body's brightness now varies across each changed film, smoothly (neighbours within
    # a few grey levels), and some films are left as they were.
    changed = [i for i in range(len(batch)) if not np.array_equal(out[i], batch[i])]
    assert 0 < len(changed) < len(batch)
    body = out[changed][:, 40:90, 50:78].astype(int)
    assert (body.max(axis=(1, 2)) - body.min(axis=(1, 2)) >= 4).all()
    assert np.abs(np.diff(body, axis=2)).max() <= 4
    assert illumination(batch[:0], np.random.default_rng(0)).shape == (0, 128, 128)


def test_default_frame_illum_is_default_frame_mean_plus_illumination():
    mean, illum = RECIPES["default-frame-mean"], RECIPES["default-frame-illum"]
    assert illum.illumination_augment and not mean.illumination_augment
    assert replace(illum, name=mean.name, description=mean.description,
                   illumination_augment=False) == mean


def _dark_rows(batch, rows):
    return (batch[:, rows, 40:88] < 15).mean(axis=(1, 2))


def test_framing_xy_varies_the_top_and_bottom_alone_as_well_as_the_sides():
    from xrayviewer.training.augment import framing_xy

    batch = _framed_body()
    out = framing_xy(batch, np.random.default_rng(5))
    assert out.shape == batch.shape and out.dtype == np.uint8
    assert np.array_equal(out, framing_xy(batch, np.random.default_rng(5)))
    top, bottom = _dark_rows(out, slice(0, 12)), _dark_rows(out, slice(116, 128))
    # Before: 8 black rows of 12 at each end, in every film. After: some films are cropped
    # (the body reaches the edge), others gain wider bands, and the top and bottom vary
    # independently because the content also moves up or down.
    assert _dark_rows(batch, slice(0, 12)).min() == pytest.approx(8 / 12)
    assert top.min() == 0 and top.max() == 1 and bottom.min() == 0 and bottom.max() == 1
    assert (np.abs(top - bottom) > 0.3).mean() > 0.15
    # framing(), default-frame-mean's, zooms about the middle: its top and bottom stay alike.
    framed = framing(batch, np.random.default_rng(5))
    assert np.abs(_dark_rows(framed, slice(0, 12)) - _dark_rows(framed, slice(116, 128))).max() <= 1 / 12
    assert framing_xy(batch[:0], np.random.default_rng(0)).shape == (0, 128, 128)


def test_default_frame_xy_is_default_frame_mean_with_vertical_framing(tmp_path):
    mean, xy = RECIPES["default-frame-mean"], RECIPES["default-frame-xy"]
    assert xy.vertical_framing and not mean.vertical_framing
    assert replace(xy, name=mean.name, description=mean.description, vertical_framing=False) == mean
    a, b = _first_batches((mean, xy), tmp_path)
    assert a.shape == b.shape and not np.array_equal(a, b)


def _first_batches(recipes, tmp_path):
    """Each recipe's first training batch of 16 tiny-dataset films, drawn with the same seed."""
    from xrayviewer.training.sequence import training_batches

    scan = scan_dataset(TINY_DATASET)
    cache, ok, _ = build_cache(scan.samples, tmp_path)
    idx = np.array(ok[:16])
    labels = np.array([s.label for s in np.asarray(scan.samples, dtype=object)[idx]], dtype=np.float32)
    return [training_batches(r, cache, idx, labels, seed=1)[0][0] for r in recipes]


def _top_band(batch):
    """Rows of black above the body, per film (the middle columns)."""
    dark = (batch[:, :, 40:88] < 15).all(axis=2)
    return np.argmin(dark, axis=1)


def test_framing_wide_draws_bands_and_crops_framing_xy_never_reaches(tmp_path):
    from xrayviewer.training.augment import framing_wide

    batch = _framed_body(256)
    wide = framing_wide(batch, np.random.default_rng(5))
    assert np.array_equal(wide, framing_wide(batch, np.random.default_rng(5)))
    xy = framing_xy(batch, np.random.default_rng(5))
    # The body's top edge (row 8) lands at most 0.75 x (8 - 64) + 64 + 8% x 128 = row 32 under
    # framing_xy, and at up to row 43 under framing_wide (x0.65, 12%).
    assert _top_band(xy).max() <= 33 < _top_band(wide).max() <= 44
    # Zooms in to x1.5 crop the body past the film's edges more often.
    assert (_top_band(wide) == 0).mean() > (_top_band(xy) == 0).mean()

    both, xy_recipe = RECIPES["default-frame-wide"], RECIPES["default-frame-xy"]
    assert both.wide_framing and not xy_recipe.wide_framing
    assert replace(both, name=xy_recipe.name, description=xy_recipe.description, wide_framing=False) == xy_recipe
    a, b = _first_batches((xy_recipe, both), tmp_path)
    assert a.shape == b.shape and not np.array_equal(a, b)


def test_mirror_flips_about_half_the_films_left_to_right_and_nothing_else(tmp_path):
    from xrayviewer.training.augment import mirror

    batch = _framed_body(200)
    batch[:, 30:60, 10:40] = 255  # a bright patch on the viewer's left of every film
    out = mirror(batch, np.random.default_rng(3))
    assert out.shape == batch.shape and out.dtype == np.uint8
    assert np.array_equal(out, mirror(batch, np.random.default_rng(3)))
    flipped = np.array([np.array_equal(o, b[:, ::-1]) for o, b in zip(out, batch)])
    kept = np.array([np.array_equal(o, b) for o, b in zip(out, batch)])
    assert (flipped | kept).all() and 0.35 < flipped.mean() < 0.65
    assert (out[flipped][:, 30:60, 88:118] == 255).all() and batch.sum() == out.sum()
    assert mirror(batch[:0], np.random.default_rng(0)).shape == (0, 128, 128)

    xy, both = RECIPES["default-frame-xy"], RECIPES["default-frame-mirror"]
    assert both.mirror_augment and not xy.mirror_augment
    assert replace(both, name=xy.name, description=xy.description, mirror_augment=False) == xy
    a, b = _first_batches((xy, both), tmp_path)
    # Mirroring runs last, so each film is the shipped recipe's, mirrored or not.
    assert any(np.array_equal(x, y[:, ::-1]) and not np.array_equal(x, y) for x, y in zip(a, b))
    assert all(np.array_equal(x, y) or np.array_equal(x, y[:, ::-1]) for x, y in zip(a, b))


def test_default_frame_xy_slim_is_default_frame_xy_on_the_slim_network():
    xy, both, slim = RECIPES["default-frame-xy"], RECIPES["default-frame-xy-slim"], RECIPES["default-frame-slim"]
    assert both.architecture == slim.architecture == "default-slim" and both.vertical_framing
    assert replace(both, name=xy.name, description=xy.description, architecture=xy.architecture) == xy


def test_default_frame_xy_slim_fast_is_the_slim_recipe_on_the_fast_step():
    # Rule 42: the one change is how a step is computed (training.fast_step), not what.
    slim, fast = RECIPES["default-frame-xy-slim"], RECIPES["default-frame-xy-slim-fast"]
    assert fast.fast_step and not slim.fast_step
    assert replace(fast, name=slim.name, description=slim.description, fast_step=False) == slim


def test_default_frame_xy_slim_stride_steps_its_stem_and_changes_nothing_else():
    # Rule 43: the stem convolution steps two pixels (no stem max pool); the stages see 64 x 64.
    from xrayviewer.model.architectures import build_model

    fast, stride = RECIPES["default-frame-xy-slim-fast"], RECIPES["default-frame-xy-slim-stride"]
    assert replace(stride, name=fast.name, description=fast.description, architecture=fast.architecture) == fast
    strided, slim = build_model("default-slim-stride"), build_model("default-slim")
    assert strided.get_layer("stem_conv").strides == (2, 2)
    assert tuple(strided.get_layer("s1_sep1").input.shape[1:3]) == tuple(slim.get_layer("s1_sep1").input.shape[1:3])
    assert strided.count_params() == slim.count_params()  # same weights, only the stem's stride differs


@pytest.mark.slow
def test_the_slim_recipe_trains_a_narrower_network_that_scores_and_explains_on_litert(tiny_dataset, tmp_path):
    """default-frame-slim is default-frame-mean on three-quarter widths: fewer multiply-adds to
    score, and a bundle the app uses like the shipped one (checked .tflite, numpy Grad-CAM)."""
    from benchmarks.network_cost import multiply_adds
    from xrayviewer.imaging import load_image, preprocess
    from xrayviewer.model import Predictor
    from xrayviewer.model.architectures import GRADCAM_LAYER, build_model
    from xrayviewer.model.gradcam import grad_cam_evidence, linear_grad_cam
    from xrayviewer.model.runtime import import_keras
    from xrayviewer.training import TrainConfig, fit

    slim, mean = RECIPES["default-frame-slim"], RECIPES["default-frame-mean"]
    assert replace(slim, name=mean.name, description=mean.description, architecture="default") == mean
    ratio = multiply_adds(build_model("default-slim"))[0] / multiply_adds(build_model("default"))[0]
    assert 0.55 < ratio < 0.65
    cfg = TrainConfig(dataset_dir=str(tiny_dataset), out_dir=str(tmp_path / "m"), recipe="default-frame-slim",
                      epochs=1, seed=0, name="slim", val_fraction=0.35, cache_dir=str(tmp_path / "cache"))
    path = fit(cfg).model_path
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["recipe"] == "default-frame-slim" and len(meta["gradcam"]["weights"]) == 192
    lite = Predictor.load(path)
    assert lite.runtime == "litert"
    x = np.stack([preprocess(load_image(f)) for f in sorted(tiny_dataset.rglob("*.jpeg"))[:4]])
    tape = grad_cam_evidence(import_keras().saving.load_model(path, compile=False), x, GRADCAM_LAYER)
    assert np.abs(tape - linear_grad_cam(lite.network.forward(x)[1], lite.info.linear_head["weights"])).max() <= 1e-4


def test_probe_changes_keep_the_input_shape_and_do_what_they_say():
    from benchmarks.illumination_probe import apply_gain, centre_bump, gain_fields
    from benchmarks.nuisance_probe import CHANGES, changed

    batch = _framed_body(3)
    fields = gain_fields(np.random.default_rng(0), 3, 0.08)
    assert fields.shape == (3, 128, 128) and (fields > 0).all()
    assert np.array_equal(fields, gain_fields(np.random.default_rng(0), 3, 0.08))  # every model, the same fields
    lit = apply_gain(batch, 1 + 0.1 * centre_bump())
    assert lit[0, 64, 64] == 198 and lit[0, 10, 20] < 185 and (lit[batch == 0] == 0).all()
    rng = np.random.default_rng(1)
    for name in CHANGES:
        out = changed(name, batch, rng)
        assert out.shape == batch.shape and out.dtype == np.uint8, name
    down = changed("content down 8 px", batch, rng)
    assert (down[:, :16] == 0).all() and (down[:, 16:128] == batch[:, 8:120]).all()
    assert np.array_equal(changed("mirror (heart on the right)", batch, rng), batch[:, :, ::-1])
