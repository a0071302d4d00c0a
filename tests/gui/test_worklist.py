"""Worklist rows: sorted riskiest first, unscored and failed rows last, stepping in shown order."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from xrayviewer.gui.worklist import DONE, ERROR, PROBABILITY, STATUS, VERDICT, WorklistModel, WorklistView
from xrayviewer.model import Prediction


def make(qtbot):
    model = WorklistModel()
    view = WorklistView(model)
    qtbot.addWidget(view)
    return model, view


def names(view):
    return [view.proxy.index(r, 1).data() for r in range(view.proxy.rowCount())]


def test_sorted_by_probability_descending_as_scores_arrive(qtbot):
    model, view = make(qtbot)
    new, _ = model.add_paths(["/x/a.jpeg", "/x/b.jpeg", "/x/c.jpeg", "/x/d.jpeg"])
    keys = {i.name: i.key for i in new}
    model.update(keys["a.jpeg"], status=DONE, prediction=Prediction(0.20, 0.2, 0.5))
    model.update(keys["c.jpeg"], status=DONE, prediction=Prediction(0.90, 0.9, 0.5))
    model.update(keys["d.jpeg"], status=ERROR, error="d.jpeg is empty (0 bytes).")
    assert names(view)[:2] == ["c.jpeg", "a.jpeg"]  # scored, riskiest first
    model.update(keys["b.jpeg"], status=DONE, prediction=Prediction(0.55, 0.55, 0.5))
    assert names(view)[:3] == ["c.jpeg", "b.jpeg", "a.jpeg"]
    last = view.proxy.rowCount() - 1
    assert names(view)[last] == "d.jpeg"
    assert view.proxy.index(last, VERDICT).data() == "d.jpeg is empty (0 bytes)."
    assert view.proxy.index(last, STATUS).data() == "error"
    assert view.proxy.index(0, PROBABILITY).data() == "90%"

    view.sortByColumn(PROBABILITY, Qt.SortOrder.AscendingOrder)  # the header click
    assert names(view)[-1] == "c.jpeg"
    view.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert names(view) == ["a.jpeg", "b.jpeg", "c.jpeg", "d.jpeg"]


def test_step_moves_in_display_order_and_reports_keys(qtbot):
    model, view = make(qtbot)
    new, _ = model.add_paths([f"/x/{n}.png" for n in "abc"])
    for item, p in zip(new, (0.1, 0.8, 0.5)):
        model.update(item.key, status=DONE, prediction=Prediction(p, p, 0.5))
    seen = []
    view.currentKeyChanged.connect(seen.append)
    view.step(1)  # nothing selected yet: the first (riskiest) row
    view.step(1)
    view.step(1)
    view.step(1)  # stays on the last row
    view.step(-1)
    by_key = {i.key: i.name for i in new}
    assert [by_key[k] for k in seen] == ["b.png", "c.png", "a.png", "c.png"]


def test_duplicates_are_not_added_twice_and_thumbnails_show(qtbot):
    model, view = make(qtbot)
    new, existing = model.add_paths(["/x/a.jpeg"])
    again, existing = model.add_paths(["/x/a.jpeg", "/x/../x/a.jpeg"])
    assert again == [] and [i.key for i in existing] == [new[0].key] * 2
    model.update(new[0].key, thumbnail_array=np.full((10, 8), 200, np.uint8))
    assert not view.proxy.index(0, 0).data(Qt.ItemDataRole.DecorationRole).isNull()
