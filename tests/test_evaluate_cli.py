"""`xrayviewer evaluate` (ECE before/after, plots, validation split), `predict --heatmap`,
`model-info` (the model card), and the CSV contract."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xrayviewer.cli import main

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "tiny_dataset"


def test_evaluate_writes_plots_and_reports_ece(tiny_model, tiny_dataset, tmp_path, capsys):
    plots = tmp_path / "plots"
    rc = main(["evaluate", str(tiny_dataset), "--model", str(tiny_model), "--plots", str(plots)])
    out = capsys.readouterr().out
    assert rc == 0
    for name in ("roc.png", "reliability.png"):
        with Image.open(plots / name) as im:
            assert im.format == "PNG" and im.size[0] > 300 and im.size[1] > 300
    assert "ECE (15 bins) before" in out and "after" in out
    assert "sensitivity" in out and "specificity" in out and "AUC" in out
    # The fixture folder is the one the tiny model was trained on: the report says so.
    assert "used to train this model" in out


def test_evaluate_validation_split_reproduces_fit(tiny_model, tiny_dataset, capsys):
    meta = json.loads(tiny_model.with_suffix(".json").read_text())
    rc = main(["evaluate", str(tiny_dataset), "--model", str(tiny_model), "--split", "validation",
               "--format", "json", "--bootstrap"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert report["n"] == meta["split"]["val_images"]
    assert report["dataset"]["split"] == "validation" and report["warnings"] == []
    for key in ("accuracy", "sensitivity", "specificity", "tp", "fp", "tn", "fn"):
        expected = meta["validation"][key]
        got = report[key] if key in report else report["confusion"][key]
        assert got == pytest.approx(expected, abs=1e-3), key
    assert report["ece_before"] == pytest.approx(meta["calibration"]["validation_ece_before"], abs=1e-3)
    assert report["ece_after"] == pytest.approx(meta["calibration"]["validation_ece_after"], abs=1e-3)
    assert set(report["ci95"]) == {"accuracy", "auc", "sensitivity", "specificity"}
    assert "patient" in report["ci95_method"]
    assert len(report["reliability"]["before"]) == 15


def test_evaluate_folder_api_progress_and_cancel(tiny_model, tiny_dataset):
    from xrayviewer.model import Predictor
    from xrayviewer.progress import Cancelled
    from xrayviewer.training.evaluate import evaluate_folder
    from xrayviewer.training.folder_report import format_report

    predictor = Predictor.load(tiny_model)
    events = []
    report = evaluate_folder(predictor, tiny_dataset, on_progress=events.append)
    assert {"scan", "predict"} <= {e.stage for e in events}
    assert report["n"] == 24 and 0.0 <= report["ood_flag_rate"] <= 1.0
    assert "confusion" in format_report(report)
    with pytest.raises(Cancelled):
        evaluate_folder(predictor, tiny_dataset, should_cancel=lambda: True)


def test_evaluate_counts_unreadable_files(tiny_model, tiny_dataset, capsys):
    # Header fine, body truncated: passes the scan, fails to decode.
    src = next((tiny_dataset / "NORMAL").glob("*.jpeg"))
    data = src.read_bytes()
    (tiny_dataset / "NORMAL" / "truncated.jpeg").write_bytes(data[: len(data) // 3])
    rc = main(["evaluate", str(tiny_dataset), "--model", str(tiny_model), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert report["n"] + len(report["unreadable"]) == 25


def test_predict_heatmap_names_and_alignment(tiny_model, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    src = sorted((FIXTURE / "PNEUMONIA").glob("*.jpeg"))[0]
    shutil.copy(src, a / "film.jpeg")
    wide = Image.open(src).convert("L").resize((300, 180))  # non-square
    wide.save(b / "film.png")
    maps = tmp_path / "maps"
    assert main(["predict", str(a / "film.jpeg"), str(b / "film.png"), "--model", str(tiny_model),
                 "--heatmap", str(maps)]) == 0
    capsys.readouterr()
    names = sorted(p.name for p in maps.iterdir())
    assert names == ["film-2_heatmap.png", "film_heatmap.png"]  # same stem: no overwrite
    with Image.open(maps / "film-2_heatmap.png") as im:
        assert im.mode == "RGB" and im.size == (300, 180)


def test_predict_csv_contract_is_backwards_compatible(tiny_model, capsys):
    files = sorted(FIXTURE.rglob("*.jpeg"))[:2]
    assert main(["predict", *map(str, files), "--model", str(tiny_model)]) == 0
    text = capsys.readouterr().out
    rows = list(csv.reader(io.StringIO(text)))
    # The first four columns are the original contract; each later column was appended.
    assert rows[0] == ["path", "probability", "prediction", "error", "ood_score", "out_of_distribution",
                       "ood_reason"]
    for row in rows[1:]:
        assert 0.0 <= float(row[1]) <= 1.0 and row[2] in ("NORMAL", "PNEUMONIA") and row[3] == ""
        assert np.isfinite(float(row[4])) and row[5] in ("true", "false")
        assert (row[6] != "") == (row[5] == "true")  # a reason exactly when flagged


def test_model_info_is_a_model_card(tiny_model, capsys):
    assert main(["model-info", "--model", str(tiny_model)]) == 0
    text = capsys.readouterr().out
    for phrase in ("INTENDED USE", "second reader", "does NOT diagnose", "1 to 5 years", "Guangzhou",
                   "Out of scope", "adults", "95% CI", "patient", "Threshold", "sensitivity", "specificity",
                   "KNOWN FAILURE MODES", "Expected calibration error"):
        assert phrase in text, phrase
    assert main(["model-info", "--model", str(tiny_model), "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# Model card: tiny") and "## Intended use" in md and "## Known failure modes" in md


def test_model_card_for_an_old_bundle_without_card_figures(tiny_model, tmp_path):
    """Bundles made before fit() stored the card's figures still get a card."""
    from xrayviewer.model import read_model_info
    from xrayviewer.model.card import model_card_text

    info = read_model_info(tiny_model)
    for key in ("validation_card",):
        info.meta.pop(key, None)
    info.meta["operating_points"] = {"thresholds": [0.0, 0.5, 1.0], "sensitivity": [1.0, 0.9, 0.0],
                                     "specificity": [0.0, 0.7, 1.0]}
    info.meta["calibration"] = {"method": "temperature", "temperature": 1.3}
    text = model_card_text(info)
    assert "No confidence intervals recorded" in text and "second reader" in text
