"""The `xrayviewer` command as a user (or a script) runs it."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, TINY_DATASET
from xrayviewer import __version__
from xrayviewer.cli import main

HEADER = "path,probability,prediction,error,ood_score,out_of_distribution,ood_reason"
JPEGS = sorted(TINY_DATASET.glob("*/*.jpeg"))


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run(args, timeout=180, **kwargs):
    return subprocess.run([sys.executable, *args], cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=timeout, **kwargs)


@pytest.fixture
def inputs(tmp_path):
    """A folder tree with three X-rays (one two levels down), a broken JPEG and a stray text
    file, plus a 16-bit PNG given as a file."""
    folder = tmp_path / "in"
    deep = folder / "ward" / "bed3"
    deep.mkdir(parents=True)
    shutil.copy(JPEGS[0], folder / JPEGS[0].name)
    shutil.copy(JPEGS[-1], deep / JPEGS[-1].name)
    shutil.copy(JPEGS[5], folder / "ward" / JPEGS[5].name)
    (folder / "ward" / "broken.jpeg").write_bytes(b"\xff\xd8\xff\xe0 truncated nonsense")
    (folder / "notes.txt").write_text("not an image, not offered")
    deep_png = tmp_path / "deep16.png"
    grey = np.asarray(Image.open(JPEGS[1]).convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey).save(deep_png)
    return folder, deep_png


def _expected_paths(folder, png):
    return sorted([str(p) for p in folder.rglob("*.jpeg")] + [str(png)])


def test_predict_csv(tiny_model, inputs, capsys):
    from xrayviewer.imaging import load_image
    from xrayviewer.model import Predictor

    folder, png = inputs
    rc = main(["predict", str(folder), str(png), "--model", str(tiny_model)])
    captured = capsys.readouterr()
    assert rc == 1, captured.err  # broken.jpeg could not be read
    assert "1 of 5 inputs could not be read" in captured.err
    lines = captured.out.splitlines()
    assert lines[0] == HEADER
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert len(rows) == 5 == len(lines) - 1
    assert sorted(r["path"] for r in rows) == _expected_paths(folder, png)
    assert not any(r["path"].endswith(".txt") for r in rows)

    bad = [r for r in rows if r["path"].endswith("broken.jpeg")]
    assert len(bad) == 1
    bad = bad[0]
    assert bad["probability"] == "" and bad["prediction"] == "" and bad["ood_score"] == ""
    assert "broken.jpeg" in bad["error"] and "\n" not in bad["error"] and "Traceback" not in bad["error"]

    predictor = Predictor.load(tiny_model)
    good = [r for r in rows if r is not bad]
    assert len(good) == 4
    for r in good:
        assert r["error"] == ""
        p = float(r["probability"])
        assert 0.0 <= p <= 1.0
        assert r["prediction"] in ("PNEUMONIA", "NORMAL")
        assert r["out_of_distribution"] in ("true", "false")
        float(r["ood_score"])
        direct = predictor.predict_image(load_image(r["path"]))
        assert p == pytest.approx(direct.probability, abs=1e-4)
        assert r["prediction"] == direct.label
        assert r["prediction"] == ("PNEUMONIA" if direct.probability >= predictor.threshold else "NORMAL")


def test_predict_json_has_same_fields(tiny_model, inputs, capsys):
    folder, png = inputs
    rc = main(["predict", str(folder), str(png), "--model", str(tiny_model), "--format", "json"])
    captured = capsys.readouterr()
    assert rc == 1, captured.err
    rows = json.loads(captured.out)
    assert len(rows) == 5
    for r in rows:
        assert list(r) == HEADER.split(",")
    bad = [r for r in rows if r["path"].endswith("broken.jpeg")][0]
    assert bad["probability"] is None and bad["prediction"] is None and "broken.jpeg" in bad["error"]
    good = [r for r in rows if r is not bad]
    assert all(isinstance(r["probability"], float) and isinstance(r["out_of_distribution"], bool) for r in good)
    assert all(r["error"] is None for r in good)  # JSON's nothing, not an empty string


def test_predict_named_missing_file_gets_an_error_row(tiny_model, tmp_path, capsys):
    rc = main(["predict", str(JPEGS[0]), str(tmp_path / "gone.jpeg"), "--model", str(tiny_model)])
    captured = capsys.readouterr()
    assert rc == 1
    assert "1 of 2 inputs could not be read" in captured.err
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert [r["probability"] == "" for r in rows] == [False, True]
    assert "gone.jpeg" in rows[1]["error"]


def test_predict_with_missing_model_is_a_clear_failure(tmp_path, capsys):
    rc = main(["predict", str(JPEGS[0]), "--model", str(tmp_path / "nope.keras")])
    captured = capsys.readouterr()
    assert rc == 1
    assert "nope.keras" in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


def test_predict_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    rc = main(["predict", str(tmp_path / "empty")])
    captured = capsys.readouterr()
    assert rc == 0
    assert "no images" in captured.err
    assert captured.out == HEADER + "\n"  # a well-formed, empty table
    assert main(["predict", str(tmp_path / "empty"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize("argv", [[], ["--frobnicate"], ["predict"], ["predict", "x.jpeg", "--frobnicate"],
                                  ["predict", "x.jpeg", "--format", "xml"], ["train", "somewhere"],
                                  ["explode"]])
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "usage" in (captured.err + captured.out).lower()


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"xrayviewer {__version__}"


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("predict", "evaluate", "train", "model-info", "gui"):
        assert command in out


def test_help_and_import_do_not_load_tensorflow():
    code = (
        "import sys, json\n"
        "import xrayviewer.cli as cli\n"
        "heavy = lambda: sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'PySide6'})\n"
        "after_import = heavy()\n"
        "codes = [cli.main(['--help']), cli.main(['predict', '--help']), cli.main(['train', '--help'])]\n"
        "print(json.dumps({'import': after_import, 'help': heavy(), 'codes': codes}))\n"
    )
    r = _run(["-c", code], timeout=60)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result == {"import": [], "help": [], "codes": [0, 0, 0]}


def test_module_entry_point_help():
    r = _run(["-m", "xrayviewer", "--help"], timeout=60)
    assert r.returncode == 0, r.stderr
    assert "predict" in r.stdout and "train" in r.stdout


def test_predict_subprocess(tiny_model, tmp_path):
    bad = tmp_path / "scan.jpg"
    bad.write_text("hello")
    r = _run(["-m", "xrayviewer", "predict", str(JPEGS[0]), str(bad), "--model", str(tiny_model)])
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == HEADER
    assert len(lines) == 3  # only CSV on stdout
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows[0]["error"] == "" and rows[0]["probability"] != ""
    assert rows[1]["probability"] == "" and "scan.jpg" in rows[1]["error"]
    # Nor on stderr: TensorFlow's start-up lines (oneDNN, "could not find cuda drivers",
    # cuInit) used to fill the terminal of every run. Only the count of unreadable inputs.
    assert r.stderr == "xrayviewer: 1 of 2 inputs could not be read (their rows say why)\n"


def test_startup_filter_drops_tensorflow_chatter_and_keeps_everything_else(capfd):
    from xrayviewer.model.runtime import startup_chatter_filtered

    chatter = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
               "I0000 00:00:1795676459.823186    4077 port.cc:153] oneDNN custom operations are on.\n"
               "W0000 00:00:1795676459.823517    4077 cudart_stub.cc:31] Could not find cuda drivers\n"
               "E0000 00:00:1795676461.997985    4077 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n")
    real = ("E0000 00:00:1795676462.000000    4077 cpu_allocator.cc:12] Allocation of 9 GB exceeds memory\n"
            "Traceback (most recent call last):\n")
    with startup_chatter_filtered():
        os.write(2, (chatter + real).encode())
        print("from Python", file=sys.stderr)
    # (Under capfd, Python's own stderr is captured apart from file descriptor 2, so only
    # the lines, not their order, can be compared here.)
    assert sorted(capfd.readouterr().err.splitlines()) == sorted((real + "from Python").splitlines())


def test_train_writes_bundle_and_prints_summary(tiny_dataset, tmp_path, capsys):
    out = tmp_path / "models"
    rc = main(["train", str(tiny_dataset), "--out", str(out), "--epochs", "1", "--max-images", "24",
               "--name", "cli-run", "--val-fraction", "0.35"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert f"Saved {out / 'cli-run.keras'}" in captured.out
    assert "validation AUC" in captured.out and "threshold" in captured.out
    assert "epoch 1/1" in captured.err
    for suffix in (".keras", ".json", ".ood.npz"):
        assert (out / f"cli-run{suffix}").exists()
    meta = json.loads((out / "cli-run.json").read_text())
    assert meta["config"]["max_images"] == 24
    assert meta["training"]["epochs_run"] == 1
    assert meta["command"]


def test_train_bad_folder_is_a_clear_failure(tmp_path, capsys):
    rc = main(["train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert rc == 1
    assert "nowhere" in captured.err and "Traceback" not in captured.err


def _folder_with_tiny_model(tiny_model, out):
    """A models folder that already holds a bundle, to check a failed run leaves it intact."""
    out.mkdir()
    for f in tiny_model.parent.glob("tiny.*"):
        shutil.copy(f, out / f.name)
    return out


def _snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_train_refuses_existing_name_before_training(tiny_model, tiny_dataset, tmp_path, capsys):
    out = _folder_with_tiny_model(tiny_model, tmp_path / "models")
    before = _snapshot(out)
    rc = main(["train", str(tiny_dataset), "--out", str(out), "--epochs", "1", "--name", "tiny"])
    captured = capsys.readouterr()
    assert rc == 1
    assert "already exists" in captured.err
    assert "epoch" not in captured.err  # refused up front, not after the whole training run
    assert _snapshot(out) == before


def test_model_info_text_and_json(tiny_model, capsys):
    assert main(["model-info", "--model", str(tiny_model)]) == 0
    text = capsys.readouterr().out
    assert "tiny" in text
    assert main(["model-info", "--model", str(tiny_model), "--format", "json"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta == json.loads(tiny_model.with_suffix(".json").read_text())


def test_model_info_bad_model_is_a_clear_failure(tmp_path, capsys):
    assert main(["model-info", "--model", str(tmp_path / "nope.keras")]) == 1
    err = capsys.readouterr().err
    assert "nope.keras" in err and "Traceback" not in err


def test_predict_heatmaps(tiny_model, tmp_path, capsys):
    good = tmp_path / JPEGS[0].name
    shutil.copy(JPEGS[0], good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    out = tmp_path / "maps"
    assert main(["predict", str(good), str(bad), "--model", str(tiny_model), "--heatmap", str(out)]) == 1
    capsys.readouterr()
    written = sorted(p.name for p in out.iterdir())
    assert written == [good.stem + "_heatmap.png"]
    heat = Image.open(out / written[0])
    assert heat.mode == "RGB"
    assert heat.size == Image.open(good).size  # full resolution, over the film


def test_evaluate_json(tiny_model, tiny_dataset, capsys):
    rc = main(["evaluate", str(tiny_dataset), "--model", str(tiny_model), "--format", "json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    report = json.loads(captured.out)
    assert report["n"] == 24
    assert report["positives"] == 12 and report["negatives"] == 12
    assert 0.0 <= report["auc"] <= 1.0
    c = report["confusion"]
    assert c["tn"] + c["fp"] + c["fn"] + c["tp"] == 24


def test_evaluate_bad_folder_is_a_clear_failure(tiny_model, tmp_path, capsys):
    rc = main(["evaluate", str(tmp_path), "--model", str(tiny_model)])
    captured = capsys.readouterr()
    assert rc == 1
    assert "NORMAL" in captured.err and "Traceback" not in captured.err


def test_train_on_a_full_disk_is_a_clear_failure(tiny_model, tiny_dataset, tmp_path, capsys, monkeypatch):
    # The first thing training writes is its cache of prepared images (16 KB each) in the
    # per-user folder; a full disk there must read as a full disk, and touch no model.
    import errno

    import xrayviewer.training.cache as cache_module

    real_open = open

    def full_disk_open(path, mode="r", *args, **kwargs):
        if "w" in mode and ".tmp" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(cache_module, "open", full_disk_open, raising=False)
    out = _folder_with_tiny_model(tiny_model, tmp_path / "models")
    before = _snapshot(out)
    rc = main(["train", str(tiny_dataset), "--out", str(out), "--epochs", "1", "--name", "fresh"])
    captured = capsys.readouterr()
    assert rc == 1
    assert "is full" in captured.err and "no model was changed" in captured.err
    assert "Traceback" not in captured.err and "Errno" not in captured.err
    assert _snapshot(out) == before
    assert not list(cache_module.Path(os.environ["XRAYVIEWER_HOME"]).rglob("*.tmp*"))  # no half-written cache
