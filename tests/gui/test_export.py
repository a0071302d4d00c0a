"""The worklist CSV is the `xrayviewer predict` CSV: same columns, same formatting."""

from __future__ import annotations

import csv

import pytest

from xrayviewer import cli
from xrayviewer.gui import export
from xrayviewer.gui.worklist import DONE, ERROR, SCORING, WorkItem
from xrayviewer.model import FileResult, Prediction


def test_columns_and_rows_match_the_cli(tmp_path):
    assert export.CSV_COLUMNS == cli.CSV_COLUMNS
    p1 = Prediction(0.812345, 0.7, 0.5, ood_score=12.3456, out_of_distribution=True, ood_reason="x")
    p2 = Prediction(0.1, 0.2, 0.5, ood_score=None)
    cases = [
        (WorkItem(1, "/a/one.jpeg", status=DONE, prediction=p1), FileResult("/a/one.jpeg", p1)),
        (WorkItem(2, "/a/two.png", status=DONE, prediction=p2), FileResult("/a/two.png", p2)),
        (WorkItem(3, "/a/bad.jpeg", status=ERROR, error="bad.jpeg is empty\n(0 bytes)."),
         FileResult("/a/bad.jpeg", error="bad.jpeg is empty\n(0 bytes).")),
    ]
    for item, result in cases:
        assert export.item_row(item) == cli._result_row(result)

    out = tmp_path / "w.csv"
    assert export.write_csv(str(out), [i for i, _ in cases]) == 3
    rows = list(csv.DictReader(out.open()))
    assert rows[0] == {"path": "/a/one.jpeg", "probability": "0.812345", "prediction": "PNEUMONIA", "error": "",
                       "ood_score": "12.35", "out_of_distribution": "true", "ood_reason": "x",
                       "model": "", "threshold": "0.5", "probability_shown": "81%"}
    assert rows[1]["ood_score"] == "" and rows[1]["out_of_distribution"] == "false" and rows[1]["ood_reason"] == ""
    assert rows[2]["probability"] == "" and rows[2]["error"] == "bad.jpeg is empty (0 bytes)."


def test_the_worklist_export_names_the_model_and_never_says_certain(tmp_path):
    """The predict columns first (unchanged), then model, threshold and the panel's text; a
    probability the panel shows as ">99%" is never written as 1.0 (nor "<1%" as 0.0)."""
    sure = Prediction(0.99999997, 0.99999, 0.27)
    clear = Prediction(0.0000002, 0.001, 0.27)
    items = [WorkItem(1, "/a/p.jpeg", status=DONE, prediction=sure), WorkItem(2, "/a/n.jpeg", status=DONE,
                                                                          prediction=clear),
             WorkItem(3, "/a/q.jpeg", status=SCORING)]
    out = tmp_path / "w.csv"
    export.write_csv(str(out), items, model_name="pneumonia-cnn v3 (bundled)")
    header = out.read_text().splitlines()[0].split(",")
    assert header == [*cli.CSV_COLUMNS, "model", "threshold", "probability_shown"]
    rows = list(csv.DictReader(out.open()))
    assert [r["probability"] for r in rows] == ["0.999999", "0.000001", ""]
    assert [r["probability_shown"] for r in rows] == [">99%", "<1%", ""]
    assert [r["model"] for r in rows] == ["pneumonia-cnn v3 (bundled)"] * 2 + [""]
    assert [r["threshold"] for r in rows] == ["0.27", "0.27", ""]
    assert float(rows[0]["probability"]) < 1.0 and float(rows[1]["probability"]) > 0.0


def test_unscored_rows_say_so():
    row = export.item_row(WorkItem(4, "/a/later.jpeg", status=SCORING))
    assert row["probability"] is None and row["error"] == "not scored (scoring)"


def test_a_failed_export_leaves_the_previous_file_whole_and_no_debris(tmp_path, monkeypatch):
    """A full disk midway must not replace the user's earlier export with half a file."""
    import errno

    from xrayviewer.model import results_table

    out = tmp_path / "worklist.csv"
    out.write_text("path,probability\n/earlier/export.jpeg,0.5\n")
    before = out.read_bytes()
    items = [WorkItem(i, f"/a/{i}.jpeg", status=DONE, prediction=Prediction(0.3, 0.3, 0.5)) for i in range(50)]
    real_writer = results_table.csv.DictWriter

    class FillsTheDisk(real_writer):
        rows = 0

        def writerow(self, row):
            FillsTheDisk.rows += 1
            if FillsTheDisk.rows > 10:
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().writerow(row)

    monkeypatch.setattr(results_table.csv, "DictWriter", FillsTheDisk)
    with pytest.raises(OSError):
        export.write_csv(str(out), items)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["worklist.csv"]

    monkeypatch.setattr(results_table.csv, "DictWriter", real_writer)
    assert export.write_csv(str(out), items) == 50
    assert len(list(csv.DictReader(out.open()))) == 50
