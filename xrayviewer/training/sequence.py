"""A Keras PyDataset streaming batches from the input cache (imports Keras: load lazily)."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ..imaging import to_model_input
from ..model.runtime import import_keras
from .cache import InputCache

keras = import_keras()


class CachedBatches(keras.utils.PyDataset):
    """Batches of (model input, label) for the given cache indices, reshuffled every epoch; with
    class weights or mixup, (model input, label, loss weight)."""

    def __init__(self, cache: InputCache, indices, labels, batch_size: int, shuffle: bool, seed: int = 0,
                 augment: Optional[Callable[[np.ndarray, np.random.Generator], np.ndarray]] = None,
                 class_weights: Optional[tuple[float, float]] = None, mixup_alpha: float = 0.0,
                 balanced: bool = False):
        super().__init__(workers=1, use_multiprocessing=False)
        self.cache = cache
        self.indices = np.asarray(indices)
        self.labels = np.asarray(labels, dtype=np.float32)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self.augment = augment
        self._augment_rng = np.random.default_rng([seed, 1])
        # With mixup the labels are blends, which Keras' class_weight cannot map to a class:
        # such batches carry their own loss weights, (normal, pneumonia), blended alike.
        self.class_weights = class_weights
        self.mixup_alpha = float(mixup_alpha)
        self._mixup_rng = np.random.default_rng([seed, 2])
        self.balanced = bool(balanced) and shuffle
        self._order = np.arange(len(self.indices))
        if shuffle:
            self._reorder()

    def _reorder(self) -> None:
        """This epoch's order: a shuffle of every file or, balanced, as many draws of each class
        as there are files over two (epochs keep their length, so their time). A class is dealt
        from fresh permutations of its files, so within an epoch a normal film repeats at most
        once more than any other, and the larger class shows a different part of itself each
        epoch."""
        n = len(self.indices)
        classes = (np.flatnonzero(self.labels <= 0.5), np.flatnonzero(self.labels > 0.5))
        if not self.balanced or not all(len(c) for c in classes):  # one class only: nothing to balance
            self._rng.shuffle(self._order)
            return
        parts = []
        for members, count in zip(classes, (n // 2, n - n // 2)):
            deals = [self._rng.permutation(members) for _ in range(-(-count // len(members)))]
            parts.append(np.concatenate(deals)[:count])
        order = np.concatenate(parts)
        self._rng.shuffle(order)
        self._order = order

    def __len__(self) -> int:
        return int(np.ceil(len(self.indices) / self.batch_size))

    def __getitem__(self, i):
        pick = self._order[i * self.batch_size:(i + 1) * self.batch_size]
        # Read in file order (faster), then restore the shuffled order.
        idx = self.indices[pick]
        grey = self.cache.read(idx)
        if self.augment is not None:
            grey = self.augment(grey, self._augment_rng)
        x = to_model_input(grey)
        y = self.labels[pick]
        if self.class_weights is None and not self.mixup_alpha:
            return x, y
        w0, w1 = self.class_weights or (1.0, 1.0)
        w = np.where(y > 0.5, w1, w0).astype(np.float32)
        if self.mixup_alpha:
            from .augment import mixup

            x, y, w = mixup(x, y, w, self._mixup_rng, self.mixup_alpha)
        return x, y, w

    def on_epoch_end(self):
        if self.shuffle:
            self._reorder()


def class_weights_for(labels) -> tuple[float, float]:
    """(normal, pneumonia) loss weights inversely proportional to class frequency."""
    y = np.asarray(labels, dtype=np.float32)
    n, pos = len(y), float(y.sum())
    return n / (2 * (n - pos)), n / (2 * pos)


def training_batches(recipe, cache: InputCache, indices, labels, seed: int = 0, batch_size: Optional[int] = None,
                     class_weights: Optional[tuple[float, float]] = None) -> CachedBatches:
    """The shuffled, augmented batches a recipe trains on (fit() and the benchmark share this).
    A mixup recipe's batches carry their class weights (fit() then passes none to Keras), and
    so do batches given ``class_weights`` (a distributed run: Keras cannot apply class_weight
    to a distributed dataset, and a worker's shard must use the whole split's weights)."""
    from .augment import compose, framing, framing_wide, framing_xy, illumination, mirror, tone_and_sharpness

    if recipe.wide_framing:
        frame = [framing_wide]
    elif recipe.vertical_framing:
        frame = [framing_xy]
    else:
        frame = [framing] if recipe.framing_augment else []
    steps = frame + ([illumination] if recipe.illumination_augment else []) \
        + ([tone_and_sharpness] if recipe.tone_augment else []) \
        + ([mirror] if recipe.mirror_augment else [])  # last: the other steps keep their draws
    augment = None if not steps else steps[0] if len(steps) == 1 else compose(*steps)
    weights = class_weights_for(labels) if recipe.mixup_alpha and recipe.class_weights else None
    return CachedBatches(cache, indices, labels, batch_size or recipe.batch_size, shuffle=True, seed=seed,
                         augment=augment, class_weights=class_weights or weights, mixup_alpha=recipe.mixup_alpha,
                         balanced=recipe.balanced_sampling)
