"""The cyclic learning-rate schedule and its cycle-end weight mean (issue 14, rule 28)."""

import dataclasses
import json

import numpy as np
import pytest

from xrayviewer.training.cycles import cycle_ends, cycle_plan, cyclic_rate
from xrayviewer.training.recipes import RECIPES


def test_each_cycle_anneals_from_its_peak_towards_zero():
    cycles, steps, peak = (2, 1, 1), 10, 2e-3
    rates = [cyclic_rate(s, steps, cycles, peak, 0.5) for s in range(40)]
    assert rates[0] == pytest.approx(peak)                       # the first cycle starts at the peak
    assert rates[20] == pytest.approx(peak / 2)                  # later cycles restart at half of it
    assert rates[30] == pytest.approx(peak / 2)
    assert max(rates[19], rates[29], rates[39]) < peak / 50  # each cycle ends near zero
    assert all(a >= b for a, b in zip(rates[:20], rates[1:20]))  # falls within a cycle
    assert rates[10] == pytest.approx(peak / 2)                  # a cosine: half-way is half the peak
    assert cyclic_rate(1000, steps, cycles, peak, 0.5) == pytest.approx(0.0, abs=1e-12)  # stays at the end


def test_the_cycle_plan_keeps_the_recipe_or_anneals_once_for_another_length():
    assert cycle_plan((12, 3, 3, 3), 21) == (12, 3, 3, 3)
    assert cycle_plan((12, 3, 3, 3), 2) == (2,)  # a short --epochs look anneals once, keeps its last epoch
    assert cycle_ends((12, 3, 3, 3)) == (12, 15, 18, 21)


def test_the_cyclic_recipe_changes_only_the_schedule_and_the_weights_kept():
    mine = dataclasses.asdict(RECIPES["default-frame-cyc"])
    theirs = dataclasses.asdict(RECIPES["default-frame"])
    assert {k for k in mine if mine[k] != theirs[k]} == {
        "name", "description", "schedule_epochs", "cosine_decay", "patience", "cycles"}
    assert sum(mine["cycles"]) == mine["epochs"] == 21 and mine["average_last"] == 0
    assert all(not r.cycles for name, r in RECIPES.items() if name != "default-frame-cyc")


@pytest.mark.slow
def test_a_cyclic_recipe_saves_the_mean_of_its_cycle_ends(tiny_dataset, tmp_path, monkeypatch):
    """fit() follows the cycles, keeps exactly the mean of the cycle-end weights, records which
    epochs, and the saved bundle loads without any custom schedule class."""
    from xrayviewer.model.architectures import build_model
    from xrayviewer.model.runtime import import_keras
    from xrayviewer.training import TrainConfig, fit
    from xrayviewer.training import recipes
    from xrayviewer.training.averaging import mean_weights

    tiny = dataclasses.replace(RECIPES["default-frame-cyc"], name="tiny-cyc", epochs=3, cycles=(1, 1, 1),
                               batch_size=4)  # several steps an epoch: the rate moves within each cycle
    monkeypatch.setitem(recipes.RECIPES, "tiny-cyc", tiny)
    cfg = TrainConfig(dataset_dir=str(tiny_dataset), out_dir=str(tmp_path / "m"), recipe="tiny-cyc",
                      epochs=None, seed=0, name="cyc", val_fraction=0.35, cache_dir=str(tmp_path / "cache"),
                      keep_snapshots=True)
    result = fit(cfg)
    meta = json.loads(result.model_path.with_suffix(".json").read_text())
    assert meta["training"]["kept"] == {"rule": "cycle-end-mean", "epochs": [1, 2, 3]}
    assert meta["training"]["epochs_run"] == 3  # no early stopping inside a cycle
    steps = int(np.ceil(meta["split"]["train_images"] / tiny.batch_size))
    for e, h in enumerate(meta["training"]["history"], start=1):  # the rate each epoch ended on
        assert h["learning_rate"] == pytest.approx(cyclic_rate(e * steps - 1, steps, (1, 1, 1), tiny.learning_rate, 0.5),
                                                   rel=1e-5)
    n = len(build_model("default").get_weights())
    z = np.load(result.model_path.with_name("cyc.epochs.npz"))
    snaps = [[z[f"e{k}_{i}"] for i in range(n)] for k in (1, 2, 3)]
    model = import_keras().models.load_model(result.model_path, compile=False)
    for got, want in zip(model.get_weights(), mean_weights(snaps)):
        np.testing.assert_array_equal(got, want)
