"""The image's facts: file, size, dimensions, depth, format, DICOM attributes.

Patient identifiers are hidden unless the user ticks "Show identifiers": a viewer on
a shared screen (or in a screenshot) must not leak them by default.
"""

from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from ..imaging import XRayImage
from ..model.population import age_text
from .wording import dicom_date, human_size

HIDDEN = "hidden"


def image_facts(image: XRayImage, show_identifiers: bool = False) -> list[tuple[str, str]]:
    """(label, value) rows for the pane. Pure, so the identifier rule is tested directly."""
    rows = [
        ("File", os.path.basename(image.path) if image.path else "–"),
        ("Size", human_size(image.file_size) if image.file_size else "–"),
        ("Dimensions", f"{image.width} × {image.height} px"),
        ("Bit depth", f"{image.bit_depth}-bit"),
        ("Format", image.source_format + (f" ({image.original_mode})" if image.original_mode
                                          and image.source_format != "DICOM" else "")),
    ]
    d = image.dicom
    if d is not None:
        rows += [("Modality", d.modality or "–"), ("View position", d.view_position or "–"),
                 ("Photometric", d.photometric_interpretation or "–")]
        if d.body_part:
            rows.append(("Body part", d.body_part))
        if d.patient_age_years is not None:  # not an identifier, and it decides the model's scope
            rows.append(("Patient age", age_text(d.patient_age_years)))
        ids = [("Patient name", d.patient_name), ("Patient ID", d.patient_id), ("Study date", dicom_date(d.study_date))]
        rows += [(label, (value or "–") if show_identifiers else HIDDEN) for label, value in ids]
    return rows


def breakable(text: str) -> str:
    """``text`` with a zero-width space after each _ - . /, where a wrapped label may break: a
    long file name (person1004_bacteria_2935.jpeg) used to hold the side panel wider than a
    small window gives it, clipping the panel's right edge."""
    for mark in "_-./":
        text = text.replace(mark, mark + "\u200b")
    return text


class InfoPane(QWidget):
    showIdentifiersChanged = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._image: Optional[XRayImage] = None
        self._path = ""
        self._error = ""
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 8, 12, 8)
        title = QLabel("Image")
        title.setObjectName("sectionTitle")
        outer.addWidget(title)
        self._form_host = QWidget()
        self._form = QFormLayout(self._form_host)
        self._form.setContentsMargins(0, 0, 0, 0)
        self._form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        # A value too wide beside its label goes under it: at 1024 x 700 "View position" beside
        # "MONOCHROME1" held the column 30 px wider than the window gave it, cutting off the
        # right edge of the opinion panel's warning.
        self._form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        outer.addWidget(self._form_host)
        self._pairs: list[tuple[QLabel, QLabel]] = []  # (fact, value) of each row of the form
        # Short, so that it fits the narrowest column; the rows above it name what it shows.
        self.identifiers_box = QCheckBox("Show identifiers")
        self.identifiers_box.setToolTip("Show the DICOM patient name, ID and study date (hidden by default).")
        self.identifiers_box.toggled.connect(self._on_identifiers_toggled)
        outer.addWidget(self.identifiers_box)
        outer.addStretch(1)
        self._refresh()

    @property
    def show_identifiers(self) -> bool:
        return self.identifiers_box.isChecked()

    def set_show_identifiers(self, show: bool) -> None:
        self.identifiers_box.setChecked(bool(show))

    def set_image(self, image: Optional[XRayImage]) -> None:
        self._image, self._error = image, ""
        self._path = (image.path or "") if image is not None else ""
        self._refresh()

    def set_error(self, path: str, message: str) -> None:
        self._image, self._path, self._error = None, path, message
        self._refresh()

    def set_loading(self, path: str) -> None:
        """The film at ``path`` is being read: its name and that it is loading. Not under
        "Problem", which is for files that could not be read: every film passes through this
        state for a moment, and calling it a problem misled the reader."""
        self._image, self._path, self._error = None, path, ""
        self._refresh()

    def _new_pair(self) -> tuple[QLabel, QLabel]:
        name_label, value_label = QLabel(self._form_host), QLabel(self._form_host)
        value_label.setWordWrap(True)
        value_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._form.addRow(name_label, value_label)
        return name_label, value_label

    def rows(self) -> list[tuple[str, str]]:
        if self._image is not None:
            return image_facts(self._image, self.show_identifiers)
        if self._path:
            if not self._error:
                return [("File", os.path.basename(self._path)), ("Status", "Loading…")]
            return [("File", os.path.basename(self._path)), ("Problem", self._error)]
        return []

    def _on_identifiers_toggled(self, checked: bool) -> None:
        self._refresh()
        self.showIdentifiersChanged.emit(checked)

    def _refresh(self) -> None:
        # The rows' labels are kept and their texts changed, not rebuilt: a new pair of QLabels
        # per fact, styled and laid out anew, cost 3.5-7 ms of the GUI thread for every film
        # the reader stepped to (issue 15).
        rows = self.rows() or [("No image open", "")]
        for i, (label, value) in enumerate(rows):
            if i == len(self._pairs):
                self._pairs.append(self._new_pair())
            name_label, value_label = self._pairs[i]
            name_label.setText(label)
            value_label.setText(breakable(value))
            hidden = value == HIDDEN
            if (value_label.objectName() == "hiddenValue") != hidden:
                value_label.setObjectName("hiddenValue" if hidden else "")
                value_label.style().unpolish(value_label)  # the style sheet greys a hidden value
                value_label.style().polish(value_label)
            self._form.setRowVisible(i, True)
        for i in range(len(rows), len(self._pairs)):
            self._form.setRowVisible(i, False)
        # Identifiers only exist for DICOM; the box is pointless elsewhere.
        self.identifiers_box.setVisible(self._image is not None and self._image.dicom is not None)
