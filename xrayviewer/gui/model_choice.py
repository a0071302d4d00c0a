"""Choosing a model with its figures in view: the Model menu's labels, the check before a
switch, and deleting retrained models.

The check exists because a model trained on the tiny fixture (AUC 0.50, specificity 0%) went
live in one click and then read every film "50% Suggests pneumonia", saved for the next
launch. Before a switch, :func:`switch_concerns` compares the two models' validation figures;
when they were measured on the same cases (same file list, seed, fraction and subsample, so
the same patient split) the comparison is like for like, otherwise it says it is not (models
trained on other folders are compared on their own validation sets: a re-scoring of both on
one set would need TensorFlow, which the window process never loads). Any concern means an
explicit confirmation (:func:`confirm_switch`), defaulting to keeping the active model.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import QMessageBox

from ..paths import user_models_dir

#: Below this many validation images (or this many per class) figures are too noisy to trust.
TINY_VALIDATION_IMAGES = 100
TINY_VALIDATION_PER_CLASS = 20
#: A drop larger than these (new minus active) is "worse".
AUC_MARGIN = 0.01
RATE_MARGIN = 0.05
#: Sensitivity or specificity below this is no better than a coin on that class.
USELESS_RATE = 0.5
#: Files a bundle may consist of (model.bundle; .tflite from the LiteRT work).
BUNDLE_SUFFIXES = (".keras", ".json", ".ood.npz", ".tflite")


def _number(value) -> Optional[float]:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


INTERNAL = "internal-validation"
#: Words for the evaluation sets of the shared metadata contract (meta["evaluations"]).
SET_WORDS = {INTERNAL: "internal validation", "external": "external validation", "site": "this site's cases"}


def _record_figures(record: dict, where: str) -> dict:
    metrics = record.get("metrics") or {}
    return {"auc": _number((metrics.get("auc") or {}).get("value")),
            "sensitivity": _number((metrics.get("sensitivity") or {}).get("value")),
            "specificity": _number((metrics.get("specificity") or {}).get("value")),
            "images": record.get("images"), "positives": record.get("positives"),
            "negatives": record.get("negatives"), "label": record.get("label", ""), "where": where}


def figures_by_set(meta: dict) -> dict[str, dict]:
    """{set: AUC, sensitivity, specificity, images, positives, negatives, label, where} for every
    set a bundle was measured on: its internal validation (every bundle has one) and the
    evaluation records of the shared contract (external, site)."""
    meta = meta or {}
    v = meta.get("validation") or {}
    out = {INTERNAL: {"auc": _number(v.get("auc")), "sensitivity": _number(v.get("sensitivity")),
                      "specificity": _number(v.get("specificity")), "images": v.get("n"),
                      "positives": (v.get("tp") or 0) + (v.get("fn") or 0) if "tp" in v else None,
                      "negatives": (v.get("tn") or 0) + (v.get("fp") or 0) if "tn" in v else None,
                      "label": "", "where": SET_WORDS[INTERNAL]}}
    for record in meta.get("evaluations") or []:
        name = record.get("set")
        if name:
            out[name] = _record_figures(record, SET_WORDS.get(name, name))
    return out


def validation_figures(meta: dict) -> dict:
    """The figures a bundle states first: its headline evaluation, else its internal validation."""
    sets = figures_by_set(meta)
    return sets.get((meta or {}).get("headline_evaluation") or INTERNAL, sets[INTERNAL])


def key_figure(info) -> str:
    """'AUC 0.999 · sens 98% · spec 99%, 785 images (internal validation)': beside the name in
    the Model menu. AUC alone hid the tiny model's 0% specificity (AUC 0.70 looked fair)."""
    f = validation_figures(getattr(info, "meta", {}))
    if f["auc"] is None:
        return "no validation figures"
    from ..model.evaluations import pct

    parts = [f"AUC {f['auc']:.3f}"]
    parts += [f"{short} {pct(f[key], 0)}" for key, short in (("sensitivity", "sens"), ("specificity", "spec"))
              if f[key] is not None]
    n = f", {f['images']} images" if f["images"] else ""
    return " · ".join(parts) + f"{n} ({f['where']})"


def menu_label(info) -> str:
    return f"{info.display_name}  —  {key_figure(info)}"


def split_identity(meta: dict) -> Optional[tuple]:
    """What decides a model's validation cases; equal identities mean the same cases."""
    data, config, split = meta.get("data") or {}, meta.get("config") or {}, meta.get("split") or {}
    files = data.get("list_sha256")
    if not files:
        return None
    return (files, config.get("seed", split.get("seed")), config.get("val_fraction", split.get("val_fraction")),
            config.get("max_images"))


def same_cases(new_meta: dict, active_meta: dict) -> bool:
    a, b = split_identity(new_meta or {}), split_identity(active_meta or {})
    return a is not None and a == b


def switch_concerns(new_meta: dict, active_meta: Optional[dict]) -> list[str]:
    """Reasons to stop before switching to the model described by ``new_meta`` (empty: none)."""
    new = validation_figures(new_meta)
    concerns = []
    n, pos, neg = new["images"], new["positives"], new["negatives"]
    if not n or n < TINY_VALIDATION_IMAGES or (pos is not None and pos < TINY_VALIDATION_PER_CLASS) \
            or (neg is not None and neg < TINY_VALIDATION_PER_CLASS):
        concerns.append(f"Its validation set is tiny ({n or 0} images: {pos if pos is not None else '?'} pneumonia, "
                        f"{neg if neg is not None else '?'} normal); its figures cannot be trusted.")
    for key, words in (("sensitivity", "pneumonia cases found (sensitivity)"),
                       ("specificity", "normal X-rays cleared (specificity)")):
        value = new[key]
        if value is not None and value < USELESS_RATE:
            concerns.append(f"It is no better than chance on one class: {value:.0%} of {words}.")
    if new["auc"] is not None and new["auc"] <= 0.6:
        concerns.append(f"Its AUC is {new['auc']:.2f} (0.50 is a coin toss).")
    if active_meta is None:
        return concerns
    set_name, new, old, same = like_for_like(new_meta, active_meta)
    worse = []
    if new["auc"] is not None and old["auc"] is not None and new["auc"] < old["auc"] - AUC_MARGIN:
        worse.append(f"AUC {new['auc']:.3f} vs {old['auc']:.3f}")
    for key in ("sensitivity", "specificity"):
        if new[key] is not None and old[key] is not None and new[key] < old[key] - RATE_MARGIN:
            worse.append(f"{key} {new[key]:.0%} vs {old[key]:.0%}")
    if worse:
        where = (f"on the same cases ({new['where']})" if same
                 else f"each on its own {new['where']} set, not the same cases")
        concerns.append(f"It is worse than the active model, {where}: " + "; ".join(worse) + ".")
    return concerns


def like_for_like(new_meta: dict, active_meta: dict) -> tuple[str, dict, dict, bool]:
    """(set, new figures, active figures, same cases?) for comparing two models on one kind of
    set: never one model's external figures against the other's internal ones. An external or
    site set both were measured on (same label and counts) comes first; else internal
    validation, the same cases when both used the same patient split of the same files."""
    new_sets, old_sets = figures_by_set(new_meta), figures_by_set(active_meta)
    for name in ("site", "external"):
        a, b = new_sets.get(name), old_sets.get(name)
        if a and b and all(a[k] == b[k] for k in ("label", "images", "positives", "negatives")):
            return name, a, b, True
    return INTERNAL, new_sets[INTERNAL], old_sets[INTERNAL], same_cases(new_meta, active_meta)



def confirm_switch(parent, new_info, active_info, concerns: list[str]) -> bool:
    """Ask before switching; the default button keeps the active model."""
    active = active_info.display_name if active_info is not None else "no model"
    box = QMessageBox(QMessageBox.Icon.Warning, "Switch model?",
                      f"Switch from {active} to {new_info.display_name}?", parent=parent)
    box.setInformativeText("\n\n".join(concerns) + "\n\nEvery film will be rescored by the new model, "
                           "and it stays active for the next launch.")
    use = box.addButton("Use it anyway", QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton("Keep the current model", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    box.exec()
    return box.clickedButton() is use


class DeleteRefused(Exception):
    """A model that must not be deleted (bundled, active, outside the user's models folder)."""


def delete_user_model(info, active_info=None) -> list[Path]:
    """Remove a retrained model's files from the per-user models folder; returns what was removed.
    The bundled model, the active one and anything outside that folder are refused."""
    keras = Path(info.keras_path).resolve()
    folder = user_models_dir().resolve()
    if keras.parent != folder:
        raise DeleteRefused(f"{keras.name} is not one of your retrained models; it was not deleted.")
    if active_info is not None and Path(active_info.keras_path).resolve() == keras:
        raise DeleteRefused(f"{info.name} is the model in use; switch to another one before deleting it.")
    stem = keras.name[:-len(".keras")]
    removed = []
    for suffix in BUNDLE_SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if path.exists():
            os.remove(path)
            removed.append(path)
    return removed


class ModelChoiceWindow:
    """The main window's side of choosing a model (a mixin of gui.main_window.MainWindow, which
    provides ``controller``, ``reading``, ``training_panel``, ``show_status`` and ``show_error``)."""

    def request_model_switch(self, path) -> bool:
        """Switch to ``path`` (None: the bundled model) after comparing it with the active model;
        a worse or barely validated model needs an explicit confirmation. True if switching."""
        from ..model import ModelLoadError, bundled_model_path, read_model_info

        active = self.controller.active_model
        try:
            new = read_model_info(path or bundled_model_path(), verify_checksum=False)
        except ModelLoadError:
            new = None  # the load itself reports what is wrong with the file
        if new is not None and active is not None and Path(new.keras_path).resolve() == Path(active.keras_path).resolve():
            self.show_status(f"{active.display_name} is already in use.")
            return False
        if new is not None:
            concerns = switch_concerns(new.meta, active.meta if active is not None else None)
            if concerns and not self.confirm_model_switch(new, active, concerns):
                self.show_status("Model not changed" + (f"; still using {active.display_name}." if active else "."))
                return False
        self.controller.switch_model(path)
        return True

    def confirm_model_switch(self, new, active, concerns) -> bool:
        return confirm_switch(self, new, active, concerns)

    def delete_model(self, info) -> None:
        answer = QMessageBox.question(self, "Delete model",
                                      f"Delete your model {info.display_name}? Its files are removed "
                                      f"from {Path(info.keras_path).parent}; the reads log keeps its name.",
                                      defaultButton=QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            removed = delete_user_model(info, self.controller.active_model)
        except DeleteRefused as exc:
            self.show_error("Model not deleted", str(exc))
            return
        except OSError as exc:
            self.show_error("Model not deleted", f"{info.name} could not be removed: {exc.strerror or exc}")
            return
        self.reading.record_event("model-deleted", {"model": info.name, "files": [p.name for p in removed]}, info=info)
        self.show_status(f"Deleted {info.name}.")

    def _use_trained_model(self, path: str) -> None:
        if not self.request_model_switch(path):
            self.training_panel.switch_declined(self.controller.active_model)

    def add_delete_menu(self, menu, infos, active_path) -> None:
        """Model > Delete One of Your Models: the user's models but the one in use."""
        deletable = [i for i in infos if not i.is_bundled and str(Path(i.keras_path).resolve()) != active_path]
        delete_menu = menu.addMenu("&Delete One of Your Models")  # "train" stays out of menus (hidden panel)
        for info in deletable:
            delete_menu.addAction(info.display_name).triggered.connect(lambda _=False, i=info: self.delete_model(i))
        delete_menu.setEnabled(bool(deletable))
