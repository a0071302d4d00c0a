"""Patient-level, stratified, seeded train/validation split.

Several films of one child must never sit on both sides: the network would recognise the
patient, not the disease, and validation figures would lie.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from .dataset import Sample


def patient_split(samples: list[Sample], val_fraction: float = 0.15, seed: int = 0
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
