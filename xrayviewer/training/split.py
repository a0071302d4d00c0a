"""Which images train and which validate: the seeded ``max_images`` subsample, the
patient-level stratified split, the cached inputs fit() trains on (prepare_split), and a
model's split rebuilt from its metadata (rebuild_model_split).

Several films of one child must never sit on both sides: the network would recognise the
patient, not the disease, and validation figures would lie.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..defaults import VAL_FRACTION
from ..progress import CancelCheck, ProgressCallback, no_progress
from .cache import build_cache
from .dataset import DatasetScan, Sample
from .results import PreparedSplit


def patient_split(samples: list[Sample], val_fraction: float = VAL_FRACTION, seed: int = 0
                  ) -> tuple[list[Sample], list[Sample]]:
    """(train, validation). Patients are grouped by their majority label and each group is
    shuffled with ``seed`` and cut at ``val_fraction`` of its images, so both classes keep
    their proportions."""
    if not 0 < val_fraction < 1:
        raise ValueError("val_fraction must be between 0 and 1")
    by_patient: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_patient[s.patient].append(s)
    strata: dict[int, list[str]] = defaultdict(list)
    for pid, items in sorted(by_patient.items()):
        label = int(round(np.mean([s.label for s in items])))
        strata[label].append(pid)
    rng = np.random.default_rng(seed)
    val_patients: set[str] = set()
    for label in sorted(strata):
        pids = strata[label]
        rng.shuffle(pids)
        goal = val_fraction * sum(len(by_patient[p]) for p in pids)
        taken = 0
        for pid in pids:
            if taken >= goal:
                break
            val_patients.add(pid)
            taken += len(by_patient[pid])
    if len(val_patients) == len(by_patient) and len(by_patient) > 1:
        val_patients.discard(sorted(val_patients)[0])  # keep at least one patient to train on
    train = [s for s in samples if s.patient not in val_patients]
    val = [s for s in samples if s.patient in val_patients]
    return train, val


def stratified_subsample(samples, max_images, seed):
    """At most ``max_images`` samples (at least 2 per class), each class keeping its share;
    all of them when there are fewer. Seeded, so fit() and evaluate() pick the same ones."""
    if not max_images or len(samples) <= max_images:
        return samples
    rng = np.random.default_rng(seed)
    by_label = {0: [s for s in samples if s.label == 0], 1: [s for s in samples if s.label == 1]}
    out = []
    for items in by_label.values():
        k = max(2, int(round(max_images * len(items) / len(samples))))
        out += [items[i] for i in sorted(rng.choice(len(items), min(k, len(items)), replace=False))]
    return out


def prepare_split(scan: DatasetScan, max_images, val_fraction: float, seed: int, cache_dir,
                  on_progress: ProgressCallback = no_progress,
                  should_cancel: Optional[CancelCheck] = None) -> PreparedSplit:
    """Subsample, cache and split exactly as fit() does (so a bundle's metadata["config"] and
    ["split"] reproduce its validation set): the files that do not decode are left out before
    the patient split."""
    samples = stratified_subsample(scan.samples, max_images, seed)
    cache, ok, bad = build_cache(samples, cache_dir, on_progress, should_cancel)
    usable = [samples[i] for i in ok]
    index_of = {id(s): i for i, s in enumerate(samples)}
    train, val = patient_split(usable, val_fraction, seed)
    return PreparedSplit(samples, cache, bad, train, val, [index_of[id(s)] for s in train],
                         [index_of[id(s)] for s in val])


@dataclass(frozen=True)
class ModelSplit:
    """A model's train/validation split, rebuilt from its metadata by rebuild_model_split()."""

    train: list[Sample]
    val: list[Sample]
    prepared: Optional[PreparedSplit]  # the decoded, cached inputs (decode=True and the same files)
    files_differ: bool  # the folder's file list is not the one the model was trained on
    recorded_val_images: Optional[int]  # how many validation images the model recorded (None: not recorded)

    @property
    def count_differs(self) -> bool:
        """The rebuilt validation set is not the size the model recorded (files changed or
        stopped decoding since)."""
        return self.recorded_val_images is not None and self.recorded_val_images != len(self.val)


def rebuild_model_split(scan: DatasetScan, meta: dict, decode: bool = False, cache_dir=None,
                        on_progress: ProgressCallback = no_progress,
                        should_cancel: Optional[CancelCheck] = None) -> ModelSplit:
    """The split fit() made for the model whose metadata is ``meta``, rebuilt from the scan
    with the metadata's max_images subsample, val_fraction and seed (older bundles: from
    ``meta["split"]``, else the defaults).

    ``decode=False`` reads no image: the scanned files are split, assuming those that decoded
    at training decode now (scan_dataset already skipped those with a bad header).
    ``decode=True`` decodes and caches as fit() does (prepare_split) and splits the files that
    decode, which is fit()'s own rule; ``.prepared`` then holds the cache. It decodes nothing
    when the folder's file list is not the model's.

    It never refuses: ``.files_differ`` and ``.count_differs`` say when the result may not be
    the model's own validation set, and each caller decides (evaluate warns, recalibration
    refuses)."""
    config = meta.get("config") or {}
    recorded = meta.get("split") or {}
    seed = int(config.get("seed", recorded.get("seed", 0)))
    val_fraction = float(config.get("val_fraction", recorded.get("val_fraction", VAL_FRACTION)))
    trained_on = (meta.get("data") or {}).get("list_sha256")
    files_differ = bool(trained_on) and trained_on != scan.fingerprint()["list_sha256"]
    prepared = None
    if decode and not files_differ:
        prepared = prepare_split(scan, config.get("max_images"), val_fraction, seed, cache_dir,
                                 on_progress, should_cancel)
        train, val = prepared.train, prepared.val
    else:
        samples = stratified_subsample(scan.samples, config.get("max_images"), seed)
        train, val = patient_split(samples, val_fraction, seed)
    return ModelSplit(train, val, prepared, files_differ, recorded.get("val_images"))
