"""Worklist rows: sorted riskiest first, unscored and failed rows last, stepping in shown order."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

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


def test_header_says_which_column_is_sorted_and_which_way(qtbot):
    # Qt's own arrow points up for a descending sort in the Fusion style, which reads as
    # "lowest first" on a list sorted riskiest first; the header text says it instead.
    model, view = make(qtbot)
    header = lambda col, role=Qt.ItemDataRole.DisplayRole: view.proxy.headerData(col, Qt.Orientation.Horizontal, role)
    assert header(PROBABILITY) == "Prob. ↓"
    assert header(PROBABILITY, Qt.ItemDataRole.ToolTipRole) == "Sorted by probability, highest first"
    assert header(1) == "Name"
    assert not view.horizontalHeader().isSortIndicatorShown()

    view.sortByColumn(PROBABILITY, Qt.SortOrder.AscendingOrder)
    assert header(PROBABILITY) == "Prob. ↑"
    assert header(PROBABILITY, Qt.ItemDataRole.ToolTipRole) == "Sorted by probability, lowest first"
    view.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert header(PROBABILITY) == "Prob."
    assert header(1) == "Name ↑"
    # A first click on the probability column sorts riskiest first again.
    assert header(PROBABILITY, Qt.ItemDataRole.InitialSortOrderRole) == Qt.SortOrder.DescendingOrder


def test_clicking_the_probability_header_puts_the_riskiest_first(qtbot):
    model, view = make(qtbot)
    new, _ = model.add_paths(["/x/a.jpeg", "/x/b.jpeg"])
    for item, p in zip(new, (0.1, 0.9)):
        model.update(item.key, status=DONE, prediction=Prediction(p, p, 0.5))
    view.show()
    hv = view.horizontalHeader()
    click = lambda col: qtbot.mouseClick(hv.viewport(), Qt.MouseButton.LeftButton,
                                         pos=QPoint(hv.sectionViewportPosition(col) + 5, 5))
    click(1)  # by name
    assert names(view) == ["a.jpeg", "b.jpeg"]
    click(PROBABILITY)
    assert names(view) == ["b.jpeg", "a.jpeg"]


def test_the_row_being_read_stays_put_while_scores_arrive(qtbot):
    """Scores arriving re-sort the list; the selected row keeps its place on screen (the rest
    of the list moves around it), so a reader is not chased across the list."""
    model, view = make(qtbot)
    view.resize(400, 10 * view.verticalHeader().defaultSectionSize() + 40)
    view.show()
    qtbot.waitExposed(view)
    new, _ = model.add_paths([f"/x/{i:02d}.png" for i in range(60)])  # 20 stay unscored
    for i, item in enumerate(new[:20]):  # half scored: 0.02 ... 0.40
        model.update(item.key, status=DONE, prediction=Prediction(0.02 * (i + 1), 0.02 * (i + 1), 0.5))
    reading = new[5]  # p = 0.12: row 14 of the riskiest-first list
    view.select_key(reading.key)
    view.scrollTo(view.currentIndex(), view.ScrollHint.PositionAtCenter)
    top_before = view.visualRect(view.currentIndex()).top()
    assert view.viewport().rect().contains(view.visualRect(view.currentIndex()))

    for i, item in enumerate(new[20:40]):  # riskier images arrive and sort above it
        model.update(item.key, status=DONE, prediction=Prediction(0.5 + 0.02 * i, 0.5 + 0.02 * i, 0.5))
    assert view.current_key() == reading.key
    assert view.proxy.mapToSource(view.currentIndex()).row() == 5  # still the same image
    assert view.currentIndex().row() == 34  # 20 riskier rows now above it
    assert view.visualRect(view.currentIndex()).top() == top_before


def test_rows_scrolled_away_from_are_not_pulled_back(qtbot):
    """A selected row the reader has scrolled away from is left where it goes."""
    model, view = make(qtbot)
    view.resize(400, 10 * view.verticalHeader().defaultSectionSize() + 40)
    view.show()
    qtbot.waitExposed(view)
    new, _ = model.add_paths([f"/x/{i:02d}.png" for i in range(40)])
    view.select_key(new[0].key)
    view.verticalScrollBar().setValue(view.verticalScrollBar().maximum())  # reading the bottom
    before = view.verticalScrollBar().value()
    model.update(new[39].key, status=DONE, prediction=Prediction(0.9, 0.9, 0.5))
    assert view.verticalScrollBar().value() == before


def test_at_its_narrowest_the_risk_columns_stay_in_view_and_the_name_gives_way(qtbot):
    """A narrow worklist (a small screen, or the splitter dragged left) used to scroll the
    probability and verdict off to the right, leaving only file names in view."""
    from xrayviewer.gui import wording
    from xrayviewer.gui.worklist import NAME, NAME_MIN_WIDTH, NO_MODEL, SCORING

    model, view = make(qtbot)
    view.resize(view.minimumWidth(), 8 * view.verticalHeader().defaultSectionSize())
    view.show()
    qtbot.waitExposed(view)
    new, _ = model.add_paths([f"/x/{'a-very-long-file-name-from-the-pacs-export-' * 2}{i:02d}.dcm" for i in range(30)])
    shown = [(0.999, False, 0.5), (0.004, False, 0.5), (0.5, False, 0.5), (0.9, True, 0.5)]
    for item, (p, ood, t) in zip(new, shown):
        model.update(item.key, status=DONE, prediction=Prediction(p, p, t, out_of_distribution=ood))
    model.update(new[5].key, status=NO_MODEL)
    model.update(new[6].key, status=SCORING)
    qtbot.waitUntil(lambda: view.verticalScrollBar().isVisible())

    assert view.horizontalScrollBar().maximum() == 0  # nothing to scroll to sideways
    header, viewport = view.horizontalHeader(), view.viewport().rect()
    assert header.length() <= viewport.width()
    assert header.sectionSize(NAME) >= NAME_MIN_WIDTH
    metrics = view.fontMetrics()
    for row in range(view.proxy.rowCount()):
        for col in (PROBABILITY, VERDICT, STATUS):
            text = view.proxy.index(row, col).data() or ""
            assert metrics.horizontalAdvance(text) <= header.sectionSize(col), (row, col, text)
    assert {view.proxy.index(r, VERDICT).data() for r in range(view.proxy.rowCount())} >= {
        wording.UNRELIABLE, wording.POSITIVE_SHORT, wording.NEGATIVE_SHORT, wording.BORDERLINE}
    assert {view.proxy.index(r, STATUS).data() for r in range(view.proxy.rowCount())} >= {DONE, NO_MODEL, SCORING}
