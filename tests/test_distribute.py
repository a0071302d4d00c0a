"""Training on several machines (train --distribute) and scoring an archive in parts (predict --shard)."""

from __future__ import annotations

import csv
import io
import json
import math
import signal
import time

import pytest

from cluster_helpers import start_workers, stop_all
from conftest import TINY_DATASET
from xrayviewer.cli import main
from xrayviewer.sharding import ShardSpec, archive_key, part_of, round_robin, select_part
from xrayviewer.training.distribute import ClusterError, role_from_tf_config
from xrayviewer.training.recipes import get_recipe, scaled_learning_rate

# --------------------------------------------------------------------------- rules (no TensorFlow)


def test_tf_config_gives_each_task_its_worker_number():
    cluster = {"chief": ["a:1"], "worker": ["b:1", "c:1"]}
    roles = [role_from_tf_config(json.dumps({"cluster": cluster, "task": {"type": t, "index": i}}))
             for t, i in (("chief", 0), ("worker", 0), ("worker", 1))]
    assert [(r.index, r.count, r.is_chief) for r in roles] == [(0, 3, True), (1, 3, False), (2, 3, False)]
    plain = role_from_tf_config(json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}))
    assert plain.is_chief and plain.count == 2  # without a chief task, worker 0 is the chief


@pytest.mark.parametrize("text, words", [
    (None, "needs the TF_CONFIG"),
    ("{not json", "TF_CONFIG is not valid"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "not in its cluster"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:1"]}, "task": {"type": "worker", "index": 0}}', "names ps"),
])
def test_bad_tf_config_is_one_clear_sentence(text, words):
    with pytest.raises(ClusterError, match=words):
        role_from_tf_config(text)


def test_learning_rate_rule_keeps_the_recipe_rate_at_its_own_batch():
    recipe = get_recipe("default")
    assert scaled_learning_rate(recipe, recipe.batch_size)[0] == recipe.learning_rate
    lr, rule = scaled_learning_rate(recipe, 4 * recipe.batch_size)
    assert math.isclose(lr, 2 * recipe.learning_rate) and "sqrt" in rule


def test_training_shards_are_disjoint_and_cover_the_sorted_files():
    files = [f"f{i:03d}" for i in range(11)]
    parts = [round_robin(files, k, 3) for k in range(3)]
    assert sorted(sum(parts, [])) == files
    assert [len(p) for p in parts] == [4, 4, 3]


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "2", "a/b", ""])
def test_shard_spec_refuses_nonsense(text):
    with pytest.raises(ValueError, match="--shard"):
        ShardSpec.parse(text)


def test_archive_parts_do_not_depend_on_where_the_archive_is_mounted(tmp_path):
    paths = [f"ward{i % 4}/img{i}.png" for i in range(200)]
    for root in (tmp_path / "a", tmp_path / "elsewhere" / "b"):
        for p in paths:
            (root / p).parent.mkdir(parents=True, exist_ok=True)
            (root / p).write_bytes(b"")
    part_a = select_part([str(tmp_path / "a" / p) for p in paths], [str(tmp_path / "a")], ShardSpec(2, 3))
    part_b = select_part([str(tmp_path / "elsewhere" / "b" / p) for p in paths], [str(tmp_path / "elsewhere" / "b")],
                         ShardSpec(2, 3))
    assert [p.split("a/", 1)[1] for p in part_a] == [p.split("b/", 1)[1] for p in part_b]
    assert 40 < len(part_a) < 95  # a third of 200, give or take the hash
    assert all(part_of(archive_key(p.split("a/", 1)[1]), 3) == 2 for p in part_a)


# --------------------------------------------------------------------------- predict --shard


def _predict(args, capsys) -> tuple[int, str]:
    code = main(["predict", *args])
    return code, capsys.readouterr().out


@pytest.mark.slow
def test_predict_shards_are_disjoint_cover_and_concatenate_to_the_whole(tiny_model, capsys):
    archive = str(TINY_DATASET)
    code, whole = _predict([archive, "--model", str(tiny_model), "--shard", "1/1"], capsys)
    assert code == 0
    header, *whole_rows = whole.splitlines()
    parts = []
    for i in (1, 2, 3):
        code, out = _predict([archive, "--model", str(tiny_model), "--shard", f"{i}/3"], capsys)
        assert code == 0
        lines = out.splitlines()
        assert lines[0] == header
        parts.append(lines[1:])
    assert all(parts), "24 files in 3 parts: none should be empty"
    paths = [[next(csv.reader([row]))[0] for row in part] for part in parts]
    assert set(paths[0]).isdisjoint(paths[1]) and set(paths[1]).isdisjoint(paths[2]) and set(paths[0]).isdisjoint(paths[2])
    assert sum(parts, []) == whole_rows  # row for row
    # The same rows as the ordinary command, which keeps its folder order.
    code, plain = _predict([archive, "--model", str(tiny_model)], capsys)
    assert sorted(plain.splitlines()[1:]) == sorted(whole_rows) and len(whole_rows) == 24


def test_predict_bad_shard_is_a_usage_error(tmp_path, capsys):
    assert main(["predict", str(tmp_path), "--shard", "3/2"]) == 2
    assert "I must be between 1 and N" in capsys.readouterr().err


# --------------------------------------------------------------------------- two workers, two processes


def _wait(workers, timeout):
    deadline = time.monotonic() + timeout
    for proc, _out, _log in workers:
        proc.wait(timeout=max(1, deadline - time.monotonic()))


def _bundles(folder):
    return sorted(p.name for p in folder.glob("*")) if folder.exists() else []


@pytest.mark.slow
def test_two_workers_train_one_epoch_and_only_the_chief_writes(tmp_path, capsys):
    workers = start_workers(2, TINY_DATASET, tmp_path, ["--epochs", "1", "--name", "duo", "--val-fraction", "0.35"])
    try:
        _wait(workers, 400)
    finally:
        stop_all(workers)
    (chief, chief_out, chief_log), (other, other_out, other_log) = workers
    assert chief.returncode == 0, chief_log.read_text()[-3000:]
    assert other.returncode == 0, other_log.read_text()[-3000:]
    written = _bundles(chief_out)  # what model.bundle.save_bundle writes (the LiteRT copy too, when it converts)
    assert {"duo.json", "duo.keras", "duo.ood.npz"} <= set(written) and all(n.startswith("duo.") for n in written)
    assert not other_out.exists() or _bundles(other_out) == []
    digests = [(tmp_path / f"worker{i}.out").read_text().split("Weights sha256 ")[1].split()[0] for i in (0, 1)]
    assert digests[0] == digests[1]  # both workers ended with identical weights

    meta = json.loads((chief_out / "duo.json").read_text())
    d = meta["training"]["distribute"]
    assert (d["strategy"], d["workers"], d["replicas"], d["global_batch"]) == ("multiworker", 2, 2, 64)
    assert meta["split"]["train_images"] + meta["split"]["val_images"] == 24

    # The saved weights are those weights, and predict loads and scores the bundle.
    from xrayviewer.model.runtime import import_keras
    from xrayviewer.training.distribute import weights_digest

    saved = import_keras().models.load_model(chief_out / "duo.keras", compile=False)
    assert weights_digest(saved.get_weights()) == digests[0]
    code = main(["predict", str(TINY_DATASET / "NORMAL"), "--model", str(chief_out / "duo.keras")])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert code == 0 and len(rows) == 12
    assert all(r["error"] == "" and 0.0 <= float(r["probability"]) <= 1.0 for r in rows)


@pytest.mark.slow
def test_a_dead_worker_stops_the_chief_within_a_minute_with_no_model(tmp_path):
    workers = start_workers(2, TINY_DATASET, tmp_path, ["--epochs", "40", "--name", "duo", "--val-fraction", "0.35"])
    (chief, chief_out, chief_log), (other, _out, _log) = workers
    try:
        _wait_for_training(workers, 40)
        other.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        chief.wait(timeout=90)
        took = time.monotonic() - killed
    finally:
        stop_all(workers)
    last = chief_log.read_text().strip().splitlines()[-1]
    assert chief.returncode not in (0, None)
    assert took < 60, f"the chief took {took:.0f} s to notice"
    assert last.startswith("xrayviewer: Training stopped on worker 0: ") and "worker 1" in last, last
    assert "No model was written" in last
    assert _bundles(chief_out) == [] or not any(n.endswith(".keras") for n in _bundles(chief_out))
    assert not list(tmp_path.glob("out0/.*")), "a half-written bundle was left behind"


def _wait_for_training(workers, epochs):
    deadline = time.monotonic() + 300
    chief_log = workers[0][2]
    while f"Epoch 1/{epochs}" not in chief_log.read_text():  # both workers took their first step
        assert all(p.poll() is None for p, _o, _l in workers), chief_log.read_text()[-3000:]
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.3)


@pytest.mark.slow
def test_ctrl_c_on_the_chief_stops_every_worker_and_writes_nothing(tmp_path):
    workers = start_workers(2, TINY_DATASET, tmp_path, ["--epochs", "40", "--name", "duo", "--val-fraction", "0.35"])
    (chief, chief_out, chief_log), (other, other_out, other_log) = workers
    try:
        _wait_for_training(workers, 40)
        chief.send_signal(signal.SIGINT)
        _wait(workers, 90)
    finally:
        stop_all(workers)
    assert (chief.returncode, other.returncode) == (130, 130), other_log.read_text()[-2000:]
    for log in (chief_log, other_log):
        # TensorFlow may log a line of its own after ours while the cluster shuts down
        # (the peer already gone); ours is there and no Python traceback is.
        text = log.read_text()
        assert "Training cancelled; no model was written." in text.splitlines() and "Traceback" not in text
    assert _bundles(chief_out) == [] and _bundles(other_out) == []
    assert "epoch 40/40" not in chief_log.read_text()
