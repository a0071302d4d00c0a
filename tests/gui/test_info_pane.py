"""The image facts pane shows the shown film's facts, row for row, as films change."""

from __future__ import annotations

import dataclasses

import numpy as np

from xrayviewer.gui.info_pane import HIDDEN, InfoPane
from xrayviewer.imaging import DicomInfo, XRayImage


def _image(path: str, dicom=None) -> XRayImage:
    return XRayImage(pixels=np.zeros((6, 8), np.uint8), source_format="DICOM" if dicom else "JPEG", bit_depth=8,
                     window_center=128, window_width=256, path=path, file_size=2048, dicom=dicom)


def _shown(pane: InfoPane) -> list[tuple[str, str]]:
    """The (fact, value) texts of the form's visible rows, in order."""
    form, out = pane._form, []
    for row in range(form.rowCount()):
        if not form.isRowVisible(row):
            continue
        label = form.itemAt(row, form.ItemRole.LabelRole).widget().text()
        value = form.itemAt(row, form.ItemRole.FieldRole).widget().text()
        out.append((label, value.replace("\u200b", "")))
    return out


def test_the_pane_shows_each_films_facts_and_nothing_left_over(qtbot):
    pane = InfoPane()
    qtbot.addWidget(pane)
    assert _shown(pane) == [("No image open", "")]
    dicom = DicomInfo(modality="CR", view_position="AP", photometric_interpretation="MONOCHROME2",
                      patient_name="DOE^JANE", patient_id="123", study_date="20240101")
    pane.set_image(_image("/x/study.dcm", dicom))  # the longest list of facts
    long = _shown(pane)
    assert long == pane.rows() and ("Patient name", HIDDEN) in long
    pane.set_image(_image("/x/film.jpeg"))  # fewer facts: the rest of the rows go
    assert _shown(pane) == pane.rows() and len(pane.rows()) < len(long)
    pane.set_show_identifiers(True)
    pane.set_image(_image("/x/study.dcm", dataclasses.replace(dicom, patient_id="")))
    assert ("Patient name", "DOE^JANE") in _shown(pane) and ("Patient ID", "–") in _shown(pane)
    pane.set_image(None)
    assert _shown(pane) == [("No image open", "")]


def test_a_film_being_loaded_is_not_called_a_problem(qtbot):
    """Every film passes through "loading" for a moment; only an unreadable one is a problem."""
    pane = InfoPane()
    qtbot.addWidget(pane)
    pane.set_loading("/x/film.jpeg")
    assert _shown(pane) == [("File", "film.jpeg"), ("Status", "Loading…")]
    pane.set_error("/x/broken.jpeg", "broken.jpeg could not be read: the file is damaged.")
    assert _shown(pane) == [("File", "broken.jpeg"), ("Problem", "broken.jpeg could not be read: the file is damaged.")]
    pane.set_loading("/x/next.jpeg")
    assert ("Problem", "") not in _shown(pane) and [f for f, _ in _shown(pane)] == ["File", "Status"]
