"""The worklist: every opened file as a row with thumbnail, probability, verdict and status.

:class:`WorklistModel` holds the rows (keyed by a stable int, since sorting moves rows) in
the order shown, sorted by probability, riskiest first, unless the reader sorts by another
column; :class:`WorklistView` shows them and reports which row the user is on.

Sorted by probability, rows fall in three groups whichever the direction: scored films, then
films the model flags as unreliable (their number is not a usual reading, so a ">99%" on a
colour photo must not head the list, yet a flagged film stays easy to find and read), then
rows without a score. Rows not yet viewed show their name in bold, as unread mail does.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (QColor, QDesktopServices, QFont, QFontMetrics, QGuiApplication, QPixmap,
                           QStandardItemModel)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QMenu, QTableView

from ..imaging.loader import IMAGE_EXTENSIONS
from ..reads.log import READ_WORDS
from . import wording
from .qimage import grey_to_qimage

QUEUED, SCORING, DONE, ERROR, NO_MODEL = "queued", "scoring", "done", "error", "no model"
FINAL_STATUSES = (DONE, ERROR, NO_MODEL)
# No status column: a row says "queued", "scoring" or "no model" in its verdict cell until it
# has a verdict. A column that read "done" on every scored row took the width the names need
# (at 1,440 px every name showed as "perso…_2938", without the patient number).
COLUMNS = ("", "Name", "Prob.", "Verdict", "Read")
THUMB, NAME, PROBABILITY, VERDICT, READ = range(len(COLUMNS))
#: What the verdict cell says of a row still without a verdict, in grey.
PENDING_WORDS = {QUEUED: "queued", SCORING: "scoring…", NO_MODEL: "no model"}
PENDING_COLOUR = QColor(150, 150, 150)
ERROR_COLOUR, POSITIVE_COLOUR, NEGATIVE_COLOUR = QColor(255, 120, 100), QColor(255, 140, 105), QColor(110, 210, 155)
NO_READ_COLOUR = QColor(120, 120, 120)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_CENTRE = int(Qt.AlignmentFlag.AlignCenter)
#: The reader's own read (gui.reading): colours as the model's verdicts, grey for unsure.
READ_COLOURS = {"P": POSITIVE_COLOUR, "N": NEGATIVE_COLOUR, "U": QColor(190, 190, 190)}
#: WorkItem fields no cell shows: changing only these repaints and re-sorts nothing (a folder's
#: files hashed for the reads log changed 500 rows' identity, and re-sorted the list for it).
UNSHOWN_FIELDS = frozenset({"image_sha256", "model_input", "file_reasons", "request_serial"})
#: A row's key, on its first cell: which film Qt's row holds (the view reads keys from the rows
#: themselves, ``WorklistModel.item_at``; this lets a check see Qt's order is the model's).
KEY_ROLE = Qt.ItemDataRole.UserRole + 1
#: A row's place in the order shown, on its first cell: what Qt sorts the rows by (sort() says why).
RANK_ROLE = Qt.ItemDataRole.UserRole + 2
ROW_HEIGHT = 56
COMPACT_ROW_HEIGHT = 30  # no thumbnail: one line of text and air
#: The name the full list (with thumbnails) keeps whole, bold as an unviewed row shows it: the
#: Kermany dataset's longest kind. At 90 px every such row read "perso…_2938", the patient
#: number gone; a list too narrow for it turns compact (no thumbnails) instead.
NAME_SAMPLE = "person1005_bacteria_2936"
COMPACT_NAME_MIN_WIDTH = 80
CELL_PADDING = 12  # the theme's 4 px section padding each side, plus air
#: A folder of more new rows than this writes their cells to Qt a slice at a time, one slice
#: per event-loop turn (the first slice at once): 500 rows written in one turn held a window
#: that was loading its model 109-186 ms.
WRITE_AT_ONCE, WRITE_SLICE = 200, 16


@dataclass(eq=False)  # rows are identities; field-wise == would compare numpy arrays
class WorkItem:
    key: int
    path: str
    status: str = QUEUED
    prediction: object = None
    error: str = ""
    thumbnail: Optional[QPixmap] = None
    model_input: Optional[np.ndarray] = None  # the model's uint8 input, kept to rescore cheaply
    file_reasons: tuple = ()  # model.population: what the file says puts it out of scope
    request_serial: int = -1  # the controller's load serial when this row was last sent for scoring
    viewed: bool = False  # shown in the viewer at least once

    @property
    def risk_group(self) -> int:
        """0 scored, 1 scored but unreliable, 2 no score (yet)."""
        p = self.prediction
        if p is None or self.status != DONE:
            return 2
        return 1 if p.out_of_distribution else 0
    image_sha256: str = ""  # the case's identity in the reads log (gui.reading hashes it off the GUI thread)
    read: str = ""  # the reader's current read: "P", "N", "U" or "" (none yet)
    read_note: str = ""

    @property
    def name(self) -> str:
        return os.path.basename(self.path) or self.path


class WorklistModel(QStandardItemModel):
    """The rows, their order and their cells.

    The cells live in Qt (a ``QStandardItemModel``), written whenever a row changes, so that
    painting the list calls no Python: a Python model answered ~100 ``index()`` and ~100
    ``multiData()`` calls a repaint, each waiting for the GIL while the loaders run (a 500-row
    list repainted in 11.3 ms of wall time beside two GIL-contending threads, 3.2 with its
    cells in Qt; 7.3 against 3.0 on a quiet machine: ``benchmarks.worklist_paint_probe``).
    Python keeps what decides the cells and the order: the ``WorkItem`` of each row, and the
    sort (``_items`` is the order shown, row for row as in Qt).
    """

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self._items: list[WorkItem] = []
        self._row_of: dict[int, int] = {}
        self._keys = itertools.count(1)
        self._sorted_by: tuple[int, Qt.SortOrder] = (PROBABILITY, Qt.SortOrder.DescendingOrder)
        self._stems: Counter = Counter()  # name without image extension (lower case) -> its rows, for display_name()
        self._cells: dict[int, list[dict]] = {}  # key -> the roles of each cell as last written to Qt
        self._sort_keys: dict[int, tuple] = {}  # key -> (risk group, sort value per column); dropped on change
        self._rank: dict[int, float] = {}  # key -> the rank written to its row (RANK_ROLE)
        self._bold = QFont()
        self._bold.setBold(True)
        self._unwritten: dict[int, None] = {}  # keys of rows listed but not yet written to Qt, in order
        self._unranked: set[int] = set()  # ... of those, the rows whose rank Qt does not hold yet either
        self._write_timer = QTimer(self)
        self._write_timer.setInterval(0)
        self._write_timer.timeout.connect(self._write_slice)
        self.setSortRole(RANK_ROLE)
        self._write_header()

    # ---- rows ---------------------------------------------------------------------------
    def add_paths(self, paths: Iterable[str]) -> tuple[list[WorkItem], list[WorkItem]]:
        """Append rows for new paths; returns (new items, already listed items)."""
        known = {os.path.abspath(i.path): i for i in self._items}
        new, existing = [], []
        for p in paths:
            absolute = os.path.abspath(p)
            if absolute in known:
                existing.append(known[absolute])
                continue
            item = WorkItem(next(self._keys), p)
            known[absolute] = item
            new.append(item)
        if new:
            first = len(self._items)
            last = max(self._rank.values(), default=-1.0)
            for n, item in enumerate(new, start=1):
                self._row_of[item.key] = len(self._items)
                self._items.append(item)
                self._rank[item.key] = last + n  # after every row listed, until _resort() places it
            self.insertRows(first, len(new))  # one notice for the lot
            self._count_stems(new, +1)
            now = new if len(new) <= WRITE_AT_ONCE else new[:WRITE_SLICE]
            self._unwritten.update((item.key, None) for item in new[len(now):])
            self._unranked.update(self._unwritten)
            self._write_rows(now)
            if self._unwritten:
                self._write_timer.start()
            self._resort()  # unscored rows already belong at the end when sorted by risk
        return new, existing

    def remove(self, keys: Iterable[int]) -> list[WorkItem]:
        """Take rows out of the list (never the files); returns the removed items."""
        rows = sorted((self._row_of[k] for k in set(keys) if k in self._row_of), reverse=True)
        removed = []
        for row in rows:  # from the bottom up, so the rows still to remove keep their numbers
            removed.append(self._items.pop(row))
            self._unwritten.pop(removed[-1].key, None)
            self._unranked.discard(removed[-1].key)
            self._rank.pop(removed[-1].key, None)
            self._cells.pop(removed[-1].key, None)
            self._sort_keys.pop(removed[-1].key, None)
            self.removeRows(row, 1)
        if removed:
            self._row_of = {item.key: row for row, item in enumerate(self._items)}
            self._count_stems(removed, -1)
        return removed

    def clear(self) -> None:
        self._items.clear()
        self._row_of.clear()
        self._cells.clear()
        self._sort_keys.clear()
        self._rank.clear()
        self._unwritten.clear()
        self._unranked.clear()
        self._write_timer.stop()
        self._stems.clear()
        self.removeRows(0, self.rowCount())

    def _count_stems(self, items: Sequence[WorkItem], step: int) -> None:
        """Count the rows whose names share a stem ("a.jpeg" and "a.png"): those show their
        extension, so that no two rows ever read the same. When that changes for a stem already
        listed, its rows are written again."""
        shared_before = {s for s, n in self._stems.items() if n > 1}
        for item in items:
            self._stems[_stem(item.name).lower()] += step
        self._stems += Counter()  # drops the stems no row has any more
        changed = shared_before ^ {s for s, n in self._stems.items() if n > 1}
        if changed:
            self._write_rows([item for item in self._items if _stem(item.name).lower() in changed])

    def display_name(self, item: WorkItem) -> str:
        """The name a row shows: the file name without an image extension (".jpeg", ".dcm", ...;
        the full path is in the tooltip and the format in the image facts). Elided in the
        middle, "person1010_virus_1695.jpeg" showed as "perso….jpeg" on every row of a
        1,440 px window, the extension taking the end that tells files apart; without it the
        row shows "perso…1695". An extension that is not an image's (".320" of a DICOM file
        named by its UID) is part of the name and stays, and so does the extension of a
        file whose stem another row shares."""
        stem = _stem(item.name)
        if stem == item.name or self._stems.get(stem.lower(), 0) > 1:
            return item.name
        return stem

    def items(self) -> list[WorkItem]:
        """Every row, in the order shown."""
        return list(self._items)

    def item_at(self, row: int) -> WorkItem:
        return self._items[row]

    def item(self, key: int) -> Optional[WorkItem]:
        row = self._row_of.get(key)
        return None if row is None else self._items[row]

    def update(self, key: int, **fields) -> Optional[WorkItem]:
        """Change fields of one row and repaint it (unknown keys are ignored: cleared rows)."""
        return self.update_many([(key, fields)])[0]

    def update_many(self, changes: Sequence[tuple[int, dict]]) -> list[Optional[WorkItem]]:
        """``update`` for several rows with one change notice: a batch of 20 scores used to
        re-sort the list, and re-pin the row being read, once per score in one event-loop turn."""
        items, rows, moved = [], [], False
        for key, fields in changes:
            item = self.item(key)
            items.append(item)
            if item is None:
                continue
            fields = dict(fields)
            thumb = fields.pop("thumbnail_array", None)
            shown = bool(fields.keys() - UNSHOWN_FIELDS) or thumb is not None
            # Only a change of what the current sort compares can move a row (a thumbnail, or
            # "queued" becoming "scoring" while sorted by risk, cannot): no re-sort for those.
            before = self._order_key(item) if shown and not moved else None
            if thumb is not None:
                item.thumbnail = QPixmap.fromImage(grey_to_qimage(thumb))
            for name, value in fields.items():
                setattr(item, name, value)
            if shown:
                self._sort_keys.pop(key, None)
                moved = moved or before != self._order_key(item)
                rows.append(item)
        self._write_rows(rows)
        if moved:
            self._resort(changed=[item.key for item in rows])
        return items

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self._items:
            out[item.status] = out.get(item.status, 0) + 1
        return out

    def _write_rows(self, items: Sequence[WorkItem]) -> None:
        """Write the cells of ``items`` to Qt, each cell only if it changed (a role no longer
        set is cleared), then tell the views once for the batch, not once per cell."""
        rows = []
        self.blockSignals(True)
        try:
            for item in items:
                row = self._row_of[item.key]
                self._unwritten.pop(item.key, None)
                self._unranked.discard(item.key)
                before = self._cells.get(item.key)
                cells = self._cells[item.key] = self._row_cells(item)
                if before is None:
                    self.setData(self.index(row, 0), self._rank[item.key], RANK_ROLE)
                for col, cell in enumerate(cells):
                    old = before[col] if before is not None else {}
                    if cell != old:
                        self.setItemData(self.index(row, col),
                                         {**{role: None for role in old.keys() - cell.keys()}, **cell})
                rows.append(row)
        finally:
            self.blockSignals(False)
        if rows:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), len(COLUMNS) - 1))

    def _write_slice(self) -> None:
        """The next WRITE_SLICE rows a large folder left unwritten (the timer's turn)."""
        keys = list(itertools.islice(self._unwritten, WRITE_SLICE))
        self._write_rows([self._items[self._row_of[k]] for k in keys])
        if not self._unwritten:
            self._write_timer.stop()

    def _write_ranks(self, ranks: dict[int, float]) -> None:
        """Write each row's rank (key -> rank) to Qt, unannounced: ranks are not shown, and the
        sort that follows tells the views once."""
        self.blockSignals(True)
        try:
            for key, rank in ranks.items():
                self.setData(self.index(self._row_of[key], 0), rank, RANK_ROLE)
        finally:
            self.blockSignals(False)
        self._rank.update(ranks)

    # ---- sorting ------------------------------------------------------------------------
    # The model keeps its rows in the order shown, sorted in Python: one key per row and one
    # sorted() call. A QSortFilterProxyModel did it before, asking Python for a comparison and
    # two indexes n log n times (a 500-film folder's rows: ~8,000 calls, 36-55 ms of the GUI
    # thread in one turn; issue 15's stalls). Qt then moves its rows to that order by sorting on
    # each row's rank (RANK_ROLE), which carries the selection and the current row along.
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Qt's sort request (the header click, ``sortByColumn``)."""
        self._sorted_by = (int(column), Qt.SortOrder(order))
        self._write_header()
        self._resort()

    def _sorted_items(self) -> list[WorkItem]:
        """The rows in the order shown. Equal keys keep the order the rows were added in, in
        both directions; by probability the risk groups come first and keep their order in both
        directions (scored, then unreliable, then unscored)."""
        by_arrival = sorted(self._items, key=lambda item: item.key)
        return sorted(by_arrival, key=self._order_key, reverse=self._sorted_by[1] == Qt.SortOrder.DescendingOrder)

    def _order_key(self, item: WorkItem):
        """What the current sort compares (sorted() is stable either way: ties keep arrival)."""
        column, order = self._sorted_by
        group, keys = self._sort_keys_of(item)
        if column == PROBABILITY:
            return (-group if order == Qt.SortOrder.DescendingOrder else group), keys[column]
        return keys[column]

    def _shown_before(self, a: WorkItem, b: WorkItem) -> bool:
        """Whether ``a`` comes before ``b`` in the order :meth:`_sorted_items` gives."""
        ka, kb = self._order_key(a), self._order_key(b)
        if ka != kb:
            return ka > kb if self._sorted_by[1] == Qt.SortOrder.DescendingOrder else ka < kb
        return a.key < b.key  # ties keep arrival order, in both directions

    def _reinserted(self, changed: set) -> list[WorkItem]:
        """The rows in the order shown when only the rows ``changed`` (keys) may have moved: the
        others stay in order, and each changed one goes in by binary search. The same order as
        :meth:`_sorted_items`, for a 32-score batch in a 2,000-film list ~11 comparisons a score
        instead of sorting all 2,000 rows again."""
        ordered = [item for item in self._items if item.key not in changed]
        for item in (self._items[self._row_of[k]] for k in changed):  # _shown_before is a total order
            lo, hi = 0, len(ordered)
            while lo < hi:
                mid = (lo + hi) // 2
                if self._shown_before(ordered[mid], item):
                    lo = mid + 1
                else:
                    hi = mid
            ordered.insert(lo, item)
        return ordered

    def _resort(self, changed: Optional[Sequence[int]] = None) -> bool:
        """Put the rows in the order shown, as one layout change; True if any moved.
        ``changed``: the keys of the only rows whose sort keys changed (None: any may have)."""
        few = changed is not None and len(changed) * 8 < len(self._items)
        ordered = self._reinserted(set(changed)) if few else self._sorted_items()
        if [item.key for item in ordered] == [item.key for item in self._items]:
            return False
        # Qt sorts every row, so rows still unwritten (their cells follow in their slice) need
        # their rank first: one call a row instead of a whole row's cells.
        ranks = {key: self._rank[key] for key in self._unranked}
        self._unranked.clear()
        ranks.update(self._new_ranks(ordered, set(changed) if few else None))
        self._write_ranks(ranks)
        self._items = ordered
        self._row_of = {item.key: row for row, item in enumerate(ordered)}
        QStandardItemModel.sort(self, 0, Qt.SortOrder.AscendingOrder)  # Qt's rows to the same order
        return True

    def _new_ranks(self, ordered: list[WorkItem], moved: Optional[set]) -> dict[int, float]:
        """The ranks to write so that Qt's sort gives ``ordered``. When only the rows ``moved``
        changed place, each gets a rank between its new neighbours' and no other row is
        written (a batch of 32 scores in a 500-film list: 32 writes, not 500); otherwise, or
        when the ranks between two neighbours run out of precision, every row is renumbered."""
        if moved is not None:
            out: dict[int, float] = {}
            n = len(ordered)
            i = 0
            while i < n:
                if ordered[i].key not in moved:
                    i += 1
                    continue
                j = i
                while j < n and ordered[j].key in moved:
                    j += 1
                low = out.get(ordered[i - 1].key, self._rank[ordered[i - 1].key]) if i else -1.0
                high = self._rank[ordered[j].key] if j < n else low + (j - i + 1)
                step = (high - low) / (j - i + 1)
                if step <= 1e-9 * max(1.0, abs(high)):
                    break  # no room left between these neighbours: renumber all
                for k in range(i, j):
                    out[ordered[k].key] = low + step * (k - i + 1)
                i = j
            else:
                return out
        return {item.key: float(row) for row, item in enumerate(ordered) if self._rank.get(item.key) != row}

    def row_of(self, key: int) -> Optional[int]:
        """The row where ``key`` is shown (None: not in the list)."""
        return self._row_of.get(key)

    def set_sort_marker(self, section: int, order: Qt.SortOrder) -> None:
        """Name the sorted column and its direction in the header text.

        Qt's own sort arrow is style-dependent (Fusion draws an up-pointing arrow for a
        descending sort), which reads as "lowest first" on a risk-sorted list; a text arrow
        plus a tooltip says the same thing on every platform.
        """
        self._sorted_by = (section, order)
        self._write_header()

    def _write_header(self) -> None:
        """The header's titles, sort arrow and tooltips, written to Qt when the sort changes."""
        for section in range(len(COLUMNS)):
            roles = self._header_roles(section)
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.InitialSortOrderRole):
                self.setHeaderData(section, Qt.Orientation.Horizontal, roles.get(int(role)), role)

    def _header_roles(self, section: int) -> dict:
        sorted_section, order = self._sorted_by
        descending = order == Qt.SortOrder.DescendingOrder
        roles = Qt.ItemDataRole
        out = {int(roles.DisplayRole): COLUMNS[section]}
        if section == sorted_section and COLUMNS[section]:
            out[int(roles.DisplayRole)] = f"{COLUMNS[section]} {'↓' if descending else '↑'}"
            if section == PROBABILITY:
                out[int(roles.ToolTipRole)] = (
                    "Sorted by probability, " + ("highest first" if descending else "lowest first")
                    + "; films flagged Unreliable are listed after the scored ones, then unscored files")
            else:
                out[int(roles.ToolTipRole)] = f"Sorted by {COLUMNS[section].lower()}, " + ("Z to A" if descending else "A to Z")
        if section == PROBABILITY:
            out[int(roles.InitialSortOrderRole)] = Qt.SortOrder.DescendingOrder  # first click: riskiest on top
        return out

    def _sort_keys_of(self, item: WorkItem) -> tuple[int, tuple]:
        """(risk group, the sort value of each column) of a row, kept until the row changes."""
        keys = self._sort_keys.get(item.key)
        if keys is None:
            p = item.prediction
            name = item.name.lower()
            keys = self._sort_keys[item.key] = (item.risk_group, (
                name, name, -1.0 if p is None else float(p.probability),  # unscored rows sort below every score
                self._verdict(item), item.read))
        return keys

    def _row_cells(self, item: WorkItem) -> list[dict]:
        """Every role of every column of ``item``'s row, as written to Qt."""
        p = item.prediction
        role = Qt.ItemDataRole
        bold = self._bold
        cells: list[dict] = [dict() for _ in COLUMNS]
        verdict = self._verdict(item)
        seen = "" if item.viewed else "\nNot yet viewed"
        tooltip = item.error or (item.path + seen + ("\n" + wording.worklist_tooltip(p) if p is not None else ""))
        cells[THUMB][KEY_ROLE] = item.key
        for col, cell in enumerate(cells):
            cell[int(role.ToolTipRole)] = _read_tooltip(item) if col == READ else tooltip
            if item.status == ERROR and col != READ:
                cell[int(role.ForegroundRole)] = ERROR_COLOUR
        cells[THUMB][int(role.DecorationRole)] = item.thumbnail
        cells[NAME][int(role.DisplayRole)] = self.display_name(item)
        if not item.viewed:
            cells[NAME][int(role.FontRole)] = bold
        cells[PROBABILITY][int(role.DisplayRole)] = wording.percent(p.probability) if p is not None else ""
        cells[VERDICT][int(role.DisplayRole)] = verdict
        if item.status in PENDING_WORDS:
            cells[VERDICT][int(role.ForegroundRole)] = PENDING_COLOUR
        cells[READ][int(role.DisplayRole)] = item.read or "–"
        cells[READ][int(role.ForegroundRole)] = READ_COLOURS.get(item.read, NO_READ_COLOUR)
        if item.read:
            cells[READ][int(role.FontRole)] = bold
        if item.status != ERROR and p is not None and not p.out_of_distribution:
            colour = POSITIVE_COLOUR if wording.is_positive(p) else NEGATIVE_COLOUR
            for col in (PROBABILITY, VERDICT):
                cells[col][int(role.ForegroundRole)] = colour
        cells[PROBABILITY][int(role.TextAlignmentRole)] = _RIGHT
        cells[READ][int(role.TextAlignmentRole)] = _CENTRE
        return cells

    @staticmethod
    def _verdict(item: WorkItem) -> str:
        """The verdict cell's text: the short verdict, "Unreadable", or where the row stands."""
        if item.error:
            return wording.UNREADABLE
        if item.prediction is not None:
            return wording.worklist_verdict(item.prediction)
        return PENDING_WORDS.get(item.status, "")


def _stem(name: str) -> str:
    """``name`` without an image file extension (IMAGE_EXTENSIONS); any other name as it is."""
    stem, ext = os.path.splitext(name)
    return stem if stem and ext.lower() in IMAGE_EXTENSIONS else name


def _read_tooltip(item: WorkItem) -> str:
    if not item.read:
        return "Not read yet: P pneumonia, N no pneumonia, U unsure"
    return f"Your read: {item.read} ({READ_WORDS[item.read]})" + (f"\nNote: {item.read_note}" if item.read_note else "")


class WorklistView(QTableView):
    """The worklist table. ``currentKeyChanged(key)`` fires when the user moves to a row;
    ``removeRequested(keys)`` when the user asks to take rows off the list (Delete, or the
    context menu's Remove): the files are never touched."""

    currentKeyChanged = Signal(int)
    removeRequested = Signal(list)

    def __init__(self, model: WorklistModel, parent=None):
        super().__init__(parent)
        # The model keeps its rows sorted, re-sorting as scores arrive so the riskiest images
        # rise to the top while scoring (WorklistModel.sort says why not a sorting proxy).
        self.worklist = model
        self.setModel(model)
        self.setSortingEnabled(True)
        header = self.horizontalHeader()
        header.sortIndicatorChanged.connect(model.set_sort_marker)
        header.setSortIndicatorShown(False)  # the header text carries the direction instead
        self.sortByColumn(PROBABILITY, Qt.SortOrder.DescendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keep both ends of long file names
        self.setIconSize(QSize(ROW_HEIGHT - 4, ROW_HEIGHT - 4))
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        # The list never scrolls sideways: at any width the probability and verdict stay in
        # view and the file name (elided in the middle) gives way. A narrow worklist used to
        # scroll them off to the right, leaving a column of names.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.horizontalHeader()
        header.setMinimumSectionSize(24)  # the name keeps its width through setMinimumWidth below
        self._widths = self._fixed_widths()  # kept: a hidden column reports width 0
        self._name_width = self._full_name_width()
        for col, width in self._widths.items():
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            self.setColumnWidth(col, width)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        self.compact = self.prefer_compact = False
        self.setMinimumWidth(self.narrowest_width(compact=True))
        self.setAcceptDrops(False)  # drops go to the main window
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._show_context_menu)
        self.selectionModel().currentRowChanged.connect(self._on_current_row_changed)
        # Scores arriving re-sort the rows; keep the one being read at its place on screen.
        self._pinned_offset: Optional[int] = None
        model.layoutAboutToBeChanged.connect(self._remember_current_row_offset)
        model.layoutChanged.connect(self._restore_current_row_offset)

    def _fixed_widths(self) -> dict[int, int]:
        """Every column but the name, wide enough for its widest possible text."""
        cell = self.fontMetrics()
        bold = QFont(self.horizontalHeader().font())
        bold.setBold(True)  # some styles draw header titles bold; measure for the wider case
        head = QFontMetrics(bold)

        def fits(cells, header_text):
            return max([cell.horizontalAdvance(t) for t in cells] + [head.horizontalAdvance(header_text)]) + CELL_PADDING

        return {
            THUMB: ROW_HEIGHT + 4,
            PROBABILITY: fits(["<1%", ">99%", "100%"], COLUMNS[PROBABILITY] + " ↓"),
            # the short verdicts and where an unscored row stands; an error's full text is in its tooltip
            VERDICT: fits(list(wording.WORKLIST_VERDICTS) + list(PENDING_WORDS.values()), COLUMNS[VERDICT]),
            READ: fits(["P", "N", "U", "–"], COLUMNS[READ]),
        }

    def _full_name_width(self) -> int:
        """The name column's least width in the full list: NAME_SAMPLE whole, in bold."""
        bold = QFont(self.font())
        bold.setBold(True)
        return QFontMetrics(bold).horizontalAdvance(NAME_SAMPLE) + CELL_PADDING

    def set_compact(self, compact: bool) -> None:
        """Prefer the compact list (the main window asks for it below 1440 px): name,
        probability, verdict and read only, in shorter rows. The list also turns compact by
        itself whenever it is narrower than the full columns need, so its minimum width is
        the compact one and a small window never has to grow to fit the thumbnails."""
        self.prefer_compact = bool(compact)
        self._update_compact()

    def _update_compact(self) -> None:
        compact = self.prefer_compact or self.width() < self.narrowest_width(compact=False)
        if compact == self.compact:
            return
        self.compact = compact
        self.setColumnHidden(THUMB, compact)
        self.verticalHeader().setDefaultSectionSize(COMPACT_ROW_HEIGHT if compact else ROW_HEIGHT)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_compact()

    def narrowest_width(self, compact: Optional[bool] = None) -> int:
        """The width at which every column of the list (compact or full; default: as shown
        now) is whole, the name at its minimum."""
        compact = self.compact if compact is None else compact
        hidden = (THUMB,) if compact else ()
        fixed = sum(self._widths[c] for c in range(len(COLUMNS)) if c != NAME and c not in hidden)
        name = COMPACT_NAME_MIN_WIDTH if compact else self._name_width
        return fixed + name + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()

    def _remember_current_row_offset(self, *_args) -> None:
        """Where the current row sits in the viewport (pixels from its top), if it is in view."""
        index = self.currentIndex()
        rect = self.visualRect(index) if index.isValid() else None
        self._pinned_offset = rect.top() if rect is not None and self.viewport().rect().intersects(rect) else None

    def _restore_current_row_offset(self, *_args) -> None:
        index = self.currentIndex()
        if self._pinned_offset is not None and index.isValid():
            moved = self.visualRect(index).top() - self._pinned_offset
            bar = self.verticalScrollBar()
            per_pixel = self.verticalScrollMode() == QAbstractItemView.ScrollMode.ScrollPerPixel
            bar.setValue(bar.value() + (moved if per_pixel else round(moved / max(1, self.rowHeight(index.row())))))
        self._pinned_offset = None

    def current_key(self) -> Optional[int]:
        return self._key_at(self.currentIndex())

    def _key_at(self, index) -> Optional[int]:
        """The key of the row at ``index`` (None: no row), from the rows themselves: a large
        folder's rows are written to Qt a slice at a time (WRITE_SLICE)."""
        return self.worklist.item_at(index.row()).key if index.isValid() else None

    def keys_in_order(self) -> list[int]:
        return [item.key for item in self.worklist.items()]

    def select_key(self, key: int) -> None:
        row = self.worklist.row_of(key)
        if row is None:
            return
        index = self.worklist.index(row, NAME)
        if self.currentIndex().row() != row:
            self.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.scrollTo(index)

    def select_row(self, row: int) -> None:
        """Make row ``row`` (in the order shown; negative counts from the end) current."""
        rows = self.worklist.rowCount()
        if not rows:
            return
        row = max(0, min(rows - 1, row if row >= 0 else rows + row))
        index = self.worklist.index(row, NAME)
        self.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.scrollTo(index)

    def select_top(self) -> None:
        """The first row shown (the riskiest scored film), with the list scrolled to the top."""
        self.select_row(0)
        self.scrollToTop()

    def step(self, delta: int) -> None:
        """Move to the next (+1) or previous (-1) row in the order shown."""
        current = self.currentIndex().row()
        self.select_row(0 if current < 0 else max(0, current + delta))

    def _on_current_row_changed(self, current, _previous) -> None:
        if current.isValid():
            key = self._key_at(current)
            self.worklist.update(key, viewed=True)
            self.currentKeyChanged.emit(key)

    # ---- keys and the context menu -----------------------------------------------------------
    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.current_key() is not None:
            self.removeRequested.emit([self.current_key()])
            return
        if key in (Qt.Key.Key_Home, Qt.Key.Key_End):  # Qt's own Home/End move between columns
            self.select_row(0 if key == Qt.Key.Key_Home else -1)
            return
        super().keyPressEvent(event)

    def _show_context_menu(self, pos) -> None:
        index = self.indexAt(pos)
        if not index.isValid():
            return
        key = self._key_at(index)
        item = self.worklist.item(key)
        menu = QMenu(self)
        menu.addAction("Remove from Worklist", lambda: self.removeRequested.emit([key]))
        menu.addSeparator()
        menu.addAction("Show in Folder", lambda: show_in_folder(item.path))
        menu.addAction("Copy Path", lambda: QGuiApplication.clipboard().setText(os.path.abspath(item.path)))
        menu.popup(self.viewport().mapToGlobal(pos))
        self.context_menu = menu  # kept for tests


def show_in_folder(path: str) -> bool:
    """Open the file's folder in the desktop's file manager."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(os.path.abspath(path))))
