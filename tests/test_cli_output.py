"""Issue 13.4: output that scripts can rely on (exit codes, encodings, pipes, long names,
rows as they are done, help texts)."""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, TINY_DATASET
from xrayviewer.cli import _build_parser, main

JPEGS = sorted(TINY_DATASET.glob("*/*.jpeg"))


def _run(args, stdout=subprocess.PIPE, env_extra=None, timeout=300):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "xrayviewer", *args], cwd=REPO, env=env, stdout=stdout,
                          stderr=subprocess.PIPE, timeout=timeout)


def test_exit_0_when_every_input_is_scored(tiny_model, capsys):
    assert main(["predict", str(JPEGS[0]), str(JPEGS[1]), "--model", str(tiny_model)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and len(captured.out.splitlines()) == 3


def test_exit_1_when_everything_failed_or_a_path_is_missing(tiny_model, tmp_path, capsys):
    bad = tmp_path / "bad.jpeg"
    bad.write_bytes(b"\xff\xd8 nothing")
    assert main(["predict", str(bad), str(tmp_path / "missing.png"), "--model", str(tiny_model)]) == 1
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert len(rows) == 2 and all(r["error"] and r["probability"] == "" for r in rows)
    assert "2 of 2 inputs could not be read" in captured.err


def test_non_utf8_file_name_is_escaped_under_a_strict_utf8_locale(tiny_model, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    odd = os.path.join(os.fsencode(folder), b"caf\xe9_\xff.jpeg")  # Latin-1 bytes, not UTF-8
    shutil.copy(JPEGS[0], odd)
    shutil.copy(JPEGS[1], folder / "z_after.jpeg")  # sorted after the odd name: must still appear
    r = _run(["predict", str(folder), "--model", str(tiny_model)],
             env_extra={"PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8"})
    out = r.stdout.decode("utf-8")  # strict: the output itself is valid UTF-8
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [os.path.basename(row["path"]) for row in rows] == ["caf\\xe9_\\xff.jpeg", "z_after.jpeg"]
    assert all(row["probability"] for row in rows)


@pytest.mark.parametrize("args", [["model-info"], ["predict", "@JPEGS"]])
def test_closed_pipe_ends_quietly(args, tiny_model):
    """`... | head -1`: the reader is gone before (or while) we write; no traceback, status 141."""
    args = [a for arg in args for a in ([str(p) for p in JPEGS] if arg == "@JPEGS" else [arg])]
    args += ["--model", str(tiny_model)]
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has already gone
    try:
        r = _run(args, stdout=write_end)
    finally:
        os.close(write_end)
    err = r.stderr.decode(errors="replace")
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
    assert r.returncode == 141


def test_heatmap_for_a_250_character_name_is_written_under_a_shorter_name(tiny_model, tmp_path, capsys):
    long_name = tmp_path / ("x" * 245 + ".jpeg")
    shutil.copy(JPEGS[0], long_name)
    same_stem_elsewhere = tmp_path / "other"
    same_stem_elsewhere.mkdir()
    shutil.copy(JPEGS[0], same_stem_elsewhere / long_name.name)
    maps = tmp_path / "maps"
    rc = main(["predict", str(long_name), str(same_stem_elsewhere / long_name.name), "--model", str(tiny_model),
               "--heatmap", str(maps)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert len(list(csv.DictReader(io.StringIO(captured.out)))) == 2
    written = sorted(p.name for p in maps.iterdir())
    assert len(written) == 2 and all(len(os.fsencode(n)) <= 255 and n.endswith("_heatmap.png") for n in written)
    assert all(n.startswith("x" * 100) for n in written)
    assert Image.open(maps / written[0]).size == Image.open(long_name).size


def test_rows_are_written_as_each_batch_is_done_and_a_failed_heatmap_loses_nothing(tiny_model, tmp_path,
                                                                                 capsys, monkeypatch):
    from xrayviewer.model import Predictor

    written_before_each_batch, err = [], []
    real_score_batch, real_explain = Predictor._score_pending, Predictor.explain

    def score_batch(self, paths, pending):  # each batch is scored here (Predictor.iter_files)
        so_far = capsys.readouterr()
        written_before_each_batch.append(so_far.out.count("\n"))
        err.append(so_far.err)
        return real_score_batch(self, paths, pending)

    def explain(self, image):
        if image.path.endswith(JPEGS[1].name):
            raise MemoryError  # the second file's heatmap fails
        return real_explain(self, image)

    monkeypatch.setattr(Predictor, "_score_pending", score_batch)
    monkeypatch.setattr(Predictor, "explain", explain)
    rc = main(["predict", *map(str, JPEGS[:3]), "--model", str(tiny_model), "--batch-size", "1",
               "--heatmap", str(tmp_path / "maps")])
    captured = capsys.readouterr()
    # The header before the first batch; row 1 before the second; row 2 before the third.
    assert written_before_each_batch == [1, 1, 1]
    assert captured.out.count("\n") == 1  # row 3
    assert rc == 1
    assert f"heatmap for {JPEGS[1].name} not written" in "".join(err) + captured.err
    assert len(list(os.scandir(tmp_path / "maps"))) == 2  # the others', and no half-written file


def test_heatmap_png_is_the_overlay_of_the_film(tmp_path):
    from xrayviewer.imaging import load_image
    from xrayviewer.model.gradcam import overlay
    from xrayviewer.model.gradcam import OVERLAY_OPACITY
    from xrayviewer.model.heatmap_png import BAND_ROWS, save_overlay_png

    grey = (np.arange(700 * 300) % 251).astype(np.uint8).reshape(700, 300)  # > 2 bands, odd size
    Image.fromarray(grey).save(tmp_path / "film.png")
    image = load_image(tmp_path / "film.png")
    heat = np.linspace(0, 1, grey.size, dtype=np.float32).reshape(grey.shape)
    assert grey.shape[0] > 2 * BAND_ROWS
    save_overlay_png(image, heat, str(tmp_path / "out.png"))
    saved = np.asarray(Image.open(tmp_path / "out.png"))
    assert np.array_equal(saved, overlay(image.display(), heat, OVERLAY_OPACITY))
    assert sorted(os.listdir(tmp_path)) == ["film.png", "out.png"]


def _commands(parser: argparse.ArgumentParser, prefix=()) -> dict:
    """Every (sub)command's parser by its words, nested ones (``reads export``) included."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[(*prefix, name)] = sub
                found.update(_commands(sub, (*prefix, name)))
    return found


def test_every_option_of_every_subcommand_is_explained_with_its_default(capsys):
    commands = _commands(_build_parser())
    assert {("predict",), ("evaluate",), ("train",), ("model-info",), ("gui",)} <= set(commands)
    for words, sub in commands.items():
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            label = f"{' '.join(words)} {'/'.join(action.option_strings) or action.dest}"
            assert action.help and len(action.help) > 10, f"{label} has no help"
            if action.option_strings:
                assert "default" in action.help or action.required, f"{label}: help does not say its default"
        assert main([*words, "--help"]) == 0
        text = capsys.readouterr().out
        for action in sub._actions:
            for option in action.option_strings:
                assert option in text, (words, option)


def test_gui_help_lists_self_test_and_report(capsys):
    from xrayviewer.gui.app import parse_args

    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--self-test" in text and "--report" in text


def test_train_recipes_and_defaults_come_from_their_registries(capsys):
    """``train --recipe`` offers exactly the recipe registry (plus "default"), and the help
    states the defaults fit() and calibrate use, so a new recipe or a changed default cannot
    leave the command line behind; ``xrayviewer --help`` still imports no numpy for it."""
    from xrayviewer.defaults import SENSITIVITY_TARGET, VAL_FRACTION
    from xrayviewer.training.recipes import DEFAULT_RECIPE, RECIPES

    train = _commands(_build_parser())[("train",)]
    recipe = next(a for a in train._actions if a.dest == "recipe")
    assert list(recipe.choices) == ["default", *sorted(RECIPES)]
    assert "not-a-recipe" not in recipe.choices
    assert train.parse_args(["data", "--out", "o"]).val_fraction == VAL_FRACTION
    with pytest.raises(SystemExit):
        train.parse_args(["data", "--out", "o", "--recipe", "not-a-recipe"])
    assert "invalid choice" in capsys.readouterr().err
    assert main(["train", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"the shipped recipe ({DEFAULT_RECIPE})" in out and f"(default: {VAL_FRACTION})" in out
    assert main(["calibrate", "--help"]) == 0
    assert f"(default: {SENSITIVITY_TARGET})" in " ".join(capsys.readouterr().out.split())

    code = ("import sys\nfrom xrayviewer.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('numpy' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.stdout.strip().splitlines()[-1] == "False", r.stderr
