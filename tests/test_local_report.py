"""The local validation report (`xrayviewer evaluate LOCAL_DIR --report`): self-contained HTML
with every section, the same figures as `--format json` and `predict`, labels from a CSV."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from site_fixtures import FakePredictor, write_local_cases
from xrayviewer.cli import main


@pytest.fixture
def report_and_html(tiny_model, tmp_path):
    from xrayviewer.model import read_model_info
    from xrayviewer.training.local_report import evaluate_local
    from xrayviewer.training.report_html import write_report

    cases = write_local_cases(tmp_path / "site", n_normal=14, n_pneumonia=16)
    (cases / "PNEUMONIA" / "person9999_virus_1.jpeg").write_bytes(b"\xff\xd8\xff\xe0 not a JPEG")
    report = evaluate_local(FakePredictor(read_model_info(tiny_model)), cases)
    path = write_report(report, tmp_path / "out" / "report.html")
    return report, Path(path).read_text(encoding="utf-8")


def test_report_is_self_contained(report_and_html):
    _report, html = report_and_html
    srcs = re.findall(r"<img[^>]*src='([^']*)'", html)
    text = re.sub(r"src='data:image/[a-z]+;base64,[A-Za-z0-9+/=]+'", "", html)  # base64 may contain '//'
    assert not re.search(r"(?i)https?:|ftp:|file:|//[a-z0-9.-]+/|<script|<link|<iframe|@import|url\(|src=|href=", text)
    assert srcs and all(s.startswith("data:image/") for s in srcs)
    assert "@media print" in html and "page-break-inside: avoid" in html


def test_report_holds_every_section(report_and_html):
    report, html = report_and_html
    m = report["model"]
    for text in (f"model {m['name']}", m["sha256_prefix"], m["recipe"], "Report date", "Patients",
                 "14 NORMAL, 16 PNEUMONIA", "Sensitivity", "Specificity", "Accuracy", "PPV", "NPV", "AUC (ROC)",
                 "ECE", "false alarms", "missed", "Wilson", "bootstrap resamples of patients",
                 "Compared with the model card", "internal validation", "ROC curve", "Reliability diagram",
                 "Probabilities of each class", "Missed pneumonias", "False alarms", "Out-of-distribution flags",
                 "IM-8005-0001.jpeg", "Unreadable files", "person9999_virus_1.jpeg"):
        assert text in html, text
    assert "consistent with the card" in html or "below the card's interval" in html
    # One thumbnail per listed miss and false alarm; three pictures.
    thumbs = html.count("class='thumb'")
    assert thumbs == len(report["misses"]) + len(report["false_alarms"]) > 0
    assert html.count("class='plot'") == 3
    assert report["ood"]["count"] == 1 and len(report["unreadable"]) == 1


def test_verdicts_compare_with_the_cards_interval():
    from xrayviewer.training.local_report import ABOVE, BELOW, CONSISTENT, verdict

    assert verdict(0.69, (0.967, 1.0)) == BELOW
    assert verdict(0.98, (0.967, 1.0)) == CONSISTENT
    assert verdict(0.99, (0.90, 0.95)) == ABOVE
    assert verdict(0.9, None) is None


def test_labels_csv_path_label_and_reads_export(tmp_path):
    from xrayviewer.training import DatasetError
    from xrayviewer.training.local_cases import load_local_cases

    cases = write_local_cases(tmp_path / "site", n_normal=3, n_pneumonia=3)
    flat = tmp_path / "flat"
    flat.mkdir()
    for p in sorted(cases.rglob("*.jpeg")):
        shutil.copy(p, flat / p.name)
    files = sorted(flat.iterdir())
    rows = [("path", "label")] + [(f"flat/{p.name}", "pneumonia" if p.name.startswith("person") else "Normal")
                                  for p in files] + [("flat/missing.jpeg", "NORMAL"), (f"flat/{files[0].name}", "maybe")]
    (tmp_path / "labels.csv").write_text("\n".join(",".join(r) for r in rows) + "\n")
    got = load_local_cases(flat, tmp_path / "labels.csv")
    assert got.counts == {"NORMAL": 3, "PNEUMONIA": 3} and len(got.skipped) == 2
    assert got.patients == 4  # two films each of IM-8000 and person5000

    # A reads export: matched by the image's SHA-256 even after a rename, by name otherwise;
    # U (uncertain) rows give no label.
    renamed = flat / "renamed.jpeg"
    files[0].rename(renamed)
    sha = hashlib.sha256(renamed.read_bytes()).hexdigest()
    export = io.StringIO()
    w = csv.writer(export)
    w.writerow(["file_name", "image_sha256", "read", "reader"])
    w.writerow([files[0].name, sha, "P", "dr a"])
    w.writerow([files[1].name, "", "N", "dr a"])
    w.writerow([files[2].name, "", "U", "dr a"])
    (tmp_path / "reads.csv").write_text(export.getvalue())
    got = load_local_cases(flat, tmp_path / "reads.csv")
    labels = {Path(s.path).name: s.label for s in got.samples}
    assert labels == {"renamed.jpeg": 1, files[1].name: 0}
    (tmp_path / "bad.csv").write_text("file,diagnosis\na.jpeg,NORMAL\n")
    with pytest.raises(DatasetError, match="needs columns path,label"):
        load_local_cases(flat, tmp_path / "bad.csv")


@pytest.mark.slow
def test_cli_report_json_and_predict_agree(tiny_model, tmp_path, capsys):
    cases = write_local_cases(tmp_path / "site", n_normal=6, n_pneumonia=6)
    html_path = tmp_path / "r.html"
    assert main(["evaluate", str(cases), "--model", str(tiny_model), "--report", str(html_path),
                 "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert html_path.exists()
    html = html_path.read_text(encoding="utf-8")
    sens = report["metrics"]["sensitivity"]["value"]
    assert f"{100 * sens:.1f}%" in html and f"{report['metrics']['auc']['value']:.3f}" in html
    c = report["confusion"]
    assert f"{c['fp']} false alarms" in html and f"{c['fn']} missed" in html

    assert main(["predict", str(cases), "--model", str(tiny_model)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    by_path = {r["path"]: float(r["probability"]) for r in rows}
    scored = report["cases_scored"]
    assert len(scored) == len(rows) == 12
    for case in scored:
        assert case["probability"] == pytest.approx(by_path[case["path"]], abs=1e-6)
    # The confusion counts follow from predict's verdicts at the model's threshold.
    positives = {r["path"] for r in rows if r["prediction"] == "PNEUMONIA"}
    fp = sum(1 for case in scored if case["label"] == 0 and case["path"] in positives)
    tp = sum(1 for case in scored if case["label"] == 1 and case["path"] in positives)
    assert (fp, tp) == (c["fp"], c["tp"])
    # Text mode says where the report went; a folder that is not a dataset is one line, exit 1.
    assert main(["evaluate", str(cases), "--model", str(tiny_model), "--report", str(html_path)]) == 0
    assert f"Report written to {html_path}" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path), "--model", str(tiny_model), "--report", str(html_path)]) == 1


@pytest.mark.slow
def test_the_windows_check_runs_in_a_child_process(tiny_model, tmp_path, user_home):
    """What Model > Check on Local Cases… runs: the real model in a spawned child, progress
    back to the parent, the report written under the per-user folder."""
    from xrayviewer.training.child_process import run_in_child_process
    from xrayviewer.training.site_jobs import check_local_cases

    cases = write_local_cases(tmp_path / "site", n_normal=4, n_pneumonia=4)
    stages = []
    summary = run_in_child_process(check_local_cases, str(tiny_model), str(cases),
                                   on_progress=lambda p: stages.append(p.stage), what="local-cases check")
    assert {"scan", "predict"} <= set(stages)
    assert summary["cases"]["images"] == 8 and "cases_scored" not in summary
    assert Path(summary["report_path"]).is_file() and str(user_home) in summary["report_path"]


def test_report_warns_when_checked_on_the_cases_it_was_calibrated_on(tiny_model, tmp_path):
    from xrayviewer.model import read_model_info
    from xrayviewer.training.local_report import evaluate_local
    from xrayviewer.training.site_calibration import calibrate_site

    cases = write_local_cases(tmp_path / "site")
    base = FakePredictor(read_model_info(tiny_model))
    site = calibrate_site(cases, "site-a", model=str(tiny_model), out_dir=tmp_path / "m", predictor=base)
    report = evaluate_local(FakePredictor(read_model_info(site.path)), cases)
    assert any("calibration and threshold were fitted on" in w for w in report["warnings"])
    other = write_local_cases(tmp_path / "other", n_normal=31, n_pneumonia=33)
    report = evaluate_local(FakePredictor(read_model_info(site.path)), other)
    assert not any("fitted on" in w for w in report["warnings"])
    assert report["card"][0]["set"] == "site"  # compared with the site's own cross-validated claim
