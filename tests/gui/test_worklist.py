"""Worklist rows: sorted riskiest first, unscored and failed rows last, stepping in shown order."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt

from xrayviewer.gui.worklist import DONE, ERROR, PROBABILITY, THUMB, VERDICT, WorklistModel, WorklistView
from xrayviewer.model import Prediction


def make(qtbot):
    model = WorklistModel()
    view = WorklistView(model)
    qtbot.addWidget(view)
    return model, view


def names(view):
    """File names in the order shown (the full names; rows show them without an image extension)."""
    model = view.worklist
    return [model.item(key).name for key in view.keys_in_order()]


def test_a_batch_of_scores_resorts_the_list_once(qtbot):
    """20 scores arriving together sort the list riskiest first with one re-sort, not 20 (each
    re-sort also re-pins the row being read: GUI-thread time while a folder is scored)."""
    model, view = make(qtbot)
    new, _ = model.add_paths([f"/x/{i:02d}.jpeg" for i in range(20)])
    resorts = []
    view.worklist.layoutChanged.connect(lambda *_: resorts.append(1))
    rng = np.random.default_rng(1)
    probabilities = rng.uniform(0, 1, 20)
    model.update_many([(item.key, {"status": DONE, "prediction": Prediction(p, p, 0.5)})
                       for item, p in zip(new, probabilities)])
    shown = [model.item(k).prediction.probability for k in view.keys_in_order()]
    assert shown == sorted(probabilities, reverse=True)
    assert len(resorts) == 1


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
    last = view.worklist.rowCount() - 1
    assert names(view)[last] == "d.jpeg"
    assert view.worklist.index(last, VERDICT).data() == "Unreadable"  # one word that fits the column
    assert "d.jpeg is empty (0 bytes)." in view.worklist.index(last, VERDICT).data(Qt.ItemDataRole.ToolTipRole)
    assert view.worklist.index(0, PROBABILITY).data() == "90%"

    view.sortByColumn(PROBABILITY, Qt.SortOrder.AscendingOrder)  # the header click
    # Lowest first among the scored; the failed row stays last in both directions.
    assert names(view) == ["a.jpeg", "b.jpeg", "c.jpeg", "d.jpeg"]
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
    assert not view.worklist.index(0, 0).data(Qt.ItemDataRole.DecorationRole).isNull()


def test_header_says_which_column_is_sorted_and_which_way(qtbot):
    # Qt's own arrow points up for a descending sort in the Fusion style, which reads as
    # "lowest first" on a list sorted riskiest first; the header text says it instead.
    model, view = make(qtbot)
    header = lambda col, role=Qt.ItemDataRole.DisplayRole: view.worklist.headerData(col, Qt.Orientation.Horizontal, role)
    assert header(PROBABILITY) == "Prob. ↓"
    assert header(PROBABILITY, Qt.ItemDataRole.ToolTipRole) .startswith("Sorted by probability, highest first")
    assert header(1) == "Name"
    assert not view.horizontalHeader().isSortIndicatorShown()

    view.sortByColumn(PROBABILITY, Qt.SortOrder.AscendingOrder)
    assert header(PROBABILITY) == "Prob. ↑"
    assert header(PROBABILITY, Qt.ItemDataRole.ToolTipRole) .startswith("Sorted by probability, lowest first")
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
    assert view.worklist.item_at(view.currentIndex().row()) is reading  # still the same image
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
    from xrayviewer.gui.worklist import COMPACT_NAME_MIN_WIDTH, NAME, NO_MODEL, SCORING

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
    # At its narrowest the list is compact (no thumbnail column: it gives way first).
    assert view.compact and view.isColumnHidden(THUMB)
    assert header.sectionSize(NAME) >= COMPACT_NAME_MIN_WIDTH
    metrics = view.fontMetrics()
    for row in range(view.worklist.rowCount()):
        for col in (PROBABILITY, VERDICT):
            text = view.worklist.index(row, col).data() or ""
            assert metrics.horizontalAdvance(text) <= header.sectionSize(col), (row, col, text)
    assert {view.worklist.index(r, VERDICT).data() for r in range(view.worklist.rowCount())} >= {
        wording.UNRELIABLE, wording.POSITIVE_SHORT, wording.NEGATIVE_SHORT, wording.BORDERLINE}
    # Rows without a verdict say where they stand, in the same column, in words that fit it.
    assert {view.worklist.index(r, VERDICT).data() for r in range(view.worklist.rowCount())} >= {
        "no model", "scoring…", "queued"}
    view.resize(view.narrowest_width(compact=False), view.height())  # wide enough for every column again
    qtbot.waitUntil(lambda: not view.compact)
    assert not view.isColumnHidden(THUMB) and header.length() <= view.viewport().width()


def test_unreliable_films_form_their_own_group_below_the_scored_ones_in_both_directions(qtbot):
    """A flagged colour photo at >99% used to head the risk list; it now sits after every scored
    film (still sorted by its number within its group) and before files with no score."""
    model, view = make(qtbot)
    rows = {"photo.png": (0.999, True), "adult.dcm": (0.30, True), "pneu.jpeg": (0.80, False),
            "normal.jpeg": (0.05, False), "borderline.jpeg": (0.52, False)}
    new, _ = model.add_paths([f"/x/{n}" for n in [*rows, "queued.jpeg"]])
    for item in new:
        if item.name in rows:
            p, ood = rows[item.name]
            model.update(item.key, status=DONE, prediction=Prediction(p, p, 0.5, out_of_distribution=ood,
                                                                      ood_reason="x" if ood else ""))
    assert names(view) == ["pneu.jpeg", "borderline.jpeg", "normal.jpeg", "photo.png", "adult.dcm", "queued.jpeg"]
    assert [view.worklist.index(r, VERDICT).data() for r in (3, 4)] == ["Unreliable", "Unreliable"]
    assert "Unreliable are listed after the scored ones" in view.worklist.headerData(
        PROBABILITY, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    view.sortByColumn(PROBABILITY, Qt.SortOrder.AscendingOrder)
    assert names(view) == ["normal.jpeg", "borderline.jpeg", "pneu.jpeg", "adult.dcm", "photo.png", "queued.jpeg"]


def test_rows_not_yet_viewed_are_bold_until_shown(qtbot):
    from xrayviewer.gui.worklist import NAME

    model, view = make(qtbot)
    new, _ = model.add_paths(["/x/a.jpeg", "/x/b.jpeg"])
    bold = [view.worklist.index(r, NAME).data(Qt.ItemDataRole.FontRole) for r in range(2)]
    assert all(f is not None and f.bold() for f in bold)
    assert "Not yet viewed" in view.worklist.index(0, NAME).data(Qt.ItemDataRole.ToolTipRole)
    view.select_row(0)
    assert view.worklist.index(0, NAME).data(Qt.ItemDataRole.FontRole) is None  # viewed: plain
    assert model.item(view.current_key()).viewed
    assert not [i for i in new if i.key != view.current_key()][0].viewed


def test_home_end_delete_and_the_context_menu(qtbot, tmp_path):
    from PySide6.QtGui import QGuiApplication

    model, view = make(qtbot)
    files = []
    for n in "abcd":
        f = tmp_path / f"{n}.jpeg"
        f.write_bytes(b"x")
        files.append(f)
    new, _ = model.add_paths([str(f) for f in files])
    for item, p in zip(new, (0.1, 0.9, 0.5, 0.3)):
        model.update(item.key, status=DONE, prediction=Prediction(p, p, 0.5))
    view.show()
    view.select_row(1)
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert model.item(view.current_key()).name == "a.jpeg"  # lowest risk, last row
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert model.item(view.current_key()).name == "b.jpeg"
    removed = []
    view.removeRequested.connect(removed.append)
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert removed == [[view.current_key()]]
    model.remove(removed[0])
    assert names(view) == ["c.jpeg", "d.jpeg", "a.jpeg"]
    assert all(f.exists() for f in files)  # rows go, files never

    view._show_context_menu(view.visualRect(view.worklist.index(2, 1)).center())
    actions = {a.text(): a for a in view.context_menu.actions() if a.text()}
    assert set(actions) == {"Remove from Worklist", "Show in Folder", "Copy Path"}
    actions["Copy Path"].trigger()
    assert QGuiApplication.clipboard().text() == str(files[0])
    actions["Remove from Worklist"].trigger()
    assert removed[-1] == [new[0].key]
    view.context_menu.close()


def test_equal_scores_keep_their_arrival_order_in_both_directions(qtbot):
    """Sorting is stable: films with the same score (or none yet) stay in the order they were
    opened, whichever way the list is sorted, and a re-sort never shuffles them."""
    model, view = make(qtbot)
    new, _ = model.add_paths(["/x/z.jpeg", "/x/a.jpeg", "/x/m.jpeg", "/x/b.jpeg"])
    keys = {i.name: i.key for i in new}
    assert names(view) == ["z.jpeg", "a.jpeg", "m.jpeg", "b.jpeg"]  # none scored: as opened
    model.update_many([(keys[n], {"status": DONE, "prediction": Prediction(0.5, 0.5, 0.5)}) for n in ("m.jpeg", "z.jpeg")])
    assert names(view) == ["z.jpeg", "m.jpeg", "a.jpeg", "b.jpeg"]  # the tie keeps z before m
    view.sortByColumn(PROBABILITY, Qt.SortOrder.AscendingOrder)
    assert names(view) == ["z.jpeg", "m.jpeg", "a.jpeg", "b.jpeg"]
    view.sortByColumn(1, Qt.SortOrder.DescendingOrder)  # by name, Z to A
    assert names(view) == ["z.jpeg", "m.jpeg", "b.jpeg", "a.jpeg"]
    view.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert names(view) == ["a.jpeg", "b.jpeg", "m.jpeg", "z.jpeg"]


def test_the_selected_film_stays_selected_when_the_list_resorts(qtbot):
    model, view = make(qtbot)
    new, _ = model.add_paths([f"/x/{i}.jpeg" for i in range(5)])
    view.select_key(new[4].key)
    model.update(new[4].key, status=DONE, prediction=Prediction(0.9, 0.9, 0.5))  # moves to the top
    assert view.currentIndex().row() == 0 and view.current_key() == new[4].key
    assert [i.row() for i in view.selectionModel().selectedRows()] == [0]


def test_changes_that_cannot_move_a_row_do_not_resort(qtbot):
    """A decoded thumbnail or a row going from queued to scoring leaves the risk order as it
    is (no layout change: 500 such updates re-sorted a 500-row list 500 times); a score does."""
    from xrayviewer.gui.worklist import QUEUED, SCORING

    model, view = make(qtbot)
    new, _ = model.add_paths([f"/x/{i}.jpeg" for i in range(6)])
    resorts = []
    model.layoutChanged.connect(lambda *_: resorts.append(1))
    thumb = np.zeros((8, 8), np.uint8)
    model.update_many([(i.key, {"thumbnail_array": thumb, "status": QUEUED}) for i in new])
    model.update_many([(i.key, {"status": SCORING}) for i in new])
    assert resorts == []
    model.update(new[3].key, status=DONE, prediction=Prediction(0.7, 0.7, 0.5))
    assert resorts == [1] and view.keys_in_order()[0] == new[3].key
    view.sortByColumn(VERDICT, Qt.SortOrder.AscendingOrder)  # now "queued" / "scoring" can move rows
    resorts.clear()
    model.update(new[5].key, status=QUEUED)
    assert resorts == [1]


def test_a_few_changed_rows_land_where_a_full_sort_puts_them(qtbot):
    """Rows re-placed one by one after a small batch of changes end in exactly the order a
    full sort gives, ties and risk groups included, sorted either way and by any column."""
    import random

    from xrayviewer.gui.worklist import NAME, QUEUED, READ, SCORING

    model, view = make(qtbot)
    rng = random.Random(7)
    new, _ = model.add_paths([f"/x/{rng.choice('abc')}{i:03d}.jpeg" for i in range(120)])
    for column, order in ((PROBABILITY, Qt.SortOrder.DescendingOrder), (PROBABILITY, Qt.SortOrder.AscendingOrder),
                          (NAME, Qt.SortOrder.AscendingOrder), (VERDICT, Qt.SortOrder.DescendingOrder),
                          (READ, Qt.SortOrder.AscendingOrder)):
        view.sortByColumn(column, order)
        for _ in range(25):
            batch = rng.sample(new, rng.randint(1, 6))
            changes = []
            for item in batch:
                p = rng.choice([0.1, 0.5, 0.5, 0.9, rng.random()])  # ties on purpose
                changes.append((item.key, rng.choice([
                    {"status": DONE, "prediction": Prediction(p, p, 0.5)},
                    {"status": DONE, "prediction": Prediction(p, p, 0.5, out_of_distribution=True)},
                    {"status": rng.choice([QUEUED, SCORING])},
                    {"status": ERROR, "error": "unreadable"},
                    {"read": rng.choice(["", "P", "N", "U"])}])))
            model.update_many(changes)
            assert view.keys_in_order() == [i.key for i in model._sorted_items()]


def test_rows_show_names_without_their_image_extension_so_that_they_stay_apart_when_elided(qtbot):
    """At 1,440 px every row of a folder of "person1010_virus_1695.jpeg"-like files read
    "perso….jpeg": the extension took the end that tells the files apart."""
    from PySide6.QtGui import QFont, QFontMetrics

    from xrayviewer.gui.worklist import NAME

    model, view = make(qtbot)
    view.resize(view.narrowest_width(compact=False), 8 * view.verticalHeader().defaultSectionSize())
    view.show()
    qtbot.waitExposed(view)
    uid = "1.2.840.113619.2.55.3.604688119.969.1268071029.320"  # a DICOM named by its UID: ".320" is part of it
    new, _ = model.add_paths(["/x/person1010_virus_1695.jpeg", "/x/person1011_virus_1697.jpeg", f"/x/{uid}",
                              "/x/scan.DCM", "/x/a.jpeg", "/x/a.png", "/x/person1005_bacteria_2936.jpeg",
                              "/x/person1006_bacteria_2937.jpeg"])
    shown = {item.name: view.worklist.index(view.worklist._row_of[item.key], NAME).data() for item in new}
    assert shown == {"person1010_virus_1695.jpeg": "person1010_virus_1695",
                     "person1011_virus_1697.jpeg": "person1011_virus_1697",
                     uid: uid, "scan.DCM": "scan",
                     "a.jpeg": "a.jpeg", "a.png": "a.png",  # one stem, two files: the extension tells them apart
                     "person1005_bacteria_2936.jpeg": "person1005_bacteria_2936",
                     "person1006_bacteria_2937.jpeg": "person1006_bacteria_2937"}
    # As painted at the full list's narrowest width (bold: not yet viewed), the dataset's names
    # show whole, patient number and all (at 90 px they read "perso…_2936").
    bold = QFont(view.font())
    bold.setBold(True)
    width = view.horizontalHeader().sectionSize(NAME) - 8
    for name in ("person1010_virus_1695.jpeg", "person1011_virus_1697.jpeg", "person1005_bacteria_2936.jpeg"):
        assert QFontMetrics(bold).elidedText(shown[name], Qt.TextElideMode.ElideMiddle, width) == shown[name]
    model.remove([next(i.key for i in new if i.name == "a.png")])
    a = next(i for i in new if i.name == "a.jpeg")
    assert view.worklist.index(view.worklist._row_of[a.key], NAME).data() == "a"  # alone again: no extension
    assert "/x/a.jpeg" in view.worklist.index(view.worklist._row_of[a.key], NAME).data(Qt.ItemDataRole.ToolTipRole)


def test_painting_the_list_runs_no_python(qtbot):
    """The cells live in Qt: a repaint of a scored list with thumbnails, bold, colours and
    reads enters no Python function (each call from Qt into Python waits for the GIL while
    the loaders run; benchmarks.worklist_paint_probe)."""
    import sys

    model, view = make(qtbot)
    new, _ = model.add_paths([f"/x/person{1000 + i}_bacteria_{2000 + i}.jpeg" for i in range(12)])
    rng = np.random.default_rng(1)
    for n, item in enumerate(new):
        fields = {"thumbnail_array": rng.integers(0, 255, (72, 60), dtype=np.uint8)}
        if n % 4:
            fields.update(status=DONE, prediction=Prediction(n / 12, n / 12, 0.5, out_of_distribution=n == 5))
        elif n == 4:
            fields.update(status=ERROR, error="unreadable")
        model.update(item.key, **fields)
    model.update(new[2].key, viewed=True, read="P")
    view.resize(view.narrowest_width(compact=False) + 40, 8 * view.verticalHeader().defaultSectionSize())
    view.show()
    qtbot.waitExposed(view)
    entered = []
    sys.setprofile(lambda frame, event, _arg: entered.append(frame.f_code.co_name) if event == "call" else None)
    try:
        image = view.viewport().grab().toImage()
    finally:
        sys.setprofile(None)
    assert entered == []
    assert len({image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}) > 20


def test_a_large_folder_is_written_a_slice_at_a_time_and_stays_in_order(qtbot):
    """A folder of more than WRITE_AT_ONCE new rows writes its cells to Qt over a few
    event-loop turns, not in one; a score arriving meanwhile still puts every row, written or
    not, where the order says."""
    from xrayviewer.gui.worklist import KEY_ROLE, NAME, WRITE_AT_ONCE, WRITE_SLICE

    model, view = make(qtbot)
    n = WRITE_AT_ONCE + 100
    new, _ = model.add_paths([f"/x/film{i:03d}.jpeg" for i in range(n)])
    written = [model.index(r, NAME).data() is not None for r in range(n)]
    assert sum(written) == WRITE_SLICE  # the first slice at once, the rest later
    model.update(new[-1].key, status=DONE, prediction=Prediction(0.9, 0.9, 0.5))  # an unwritten row scores
    assert view.keys_in_order()[0] == new[-1].key
    assert model.index(0, NAME).data() == "film%03d" % (n - 1)
    qtbot.waitUntil(lambda: all(model.index(r, NAME).data() is not None for r in range(n)))
    assert [model.index(r, 0).data(KEY_ROLE) for r in range(n)] == view.keys_in_order()  # Qt's rows as ours
    assert [model.index(r, NAME).data() for r in range(1, n)] == ["film%03d" % i for i in range(n - 1)]
    other, _ = make(qtbot)
    other.add_paths([f"/x/film{i:03d}.jpeg" for i in range(n)])  # nothing else happens: the timer writes it
    qtbot.waitUntil(lambda: all(other.index(r, NAME).data() is not None for r in range(n)))
    assert [other.index(r, NAME).data() for r in range(n)] == ["film%03d" % i for i in range(n)]
