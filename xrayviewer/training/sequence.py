"""A Keras PyDataset streaming batches from the input cache (imports Keras: load lazily)."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ..imaging import to_model_input
from ..model.runtime import import_keras
from .cache import InputCache

keras = import_keras()


class CachedBatches(keras.utils.PyDataset):
    """Batches of (model input, label) for the given cache indices; reshuffled every epoch."""

    def __init__(self, cache: InputCache, indices, labels, batch_size: int, shuffle: bool, seed: int = 0,
                 augment: Optional[Callable[[np.ndarray, np.random.Generator], np.ndarray]] = None):
        super().__init__(workers=1, use_multiprocessing=False)
        self.cache = cache
        self.indices = np.asarray(indices)
        self.labels = np.asarray(labels, dtype=np.float32)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self.augment = augment
        self._augment_rng = np.random.default_rng([seed, 1])
        self._order = np.arange(len(self.indices))
        if shuffle:
            self._rng.shuffle(self._order)

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
        return x, self.labels[pick]

    def on_epoch_end(self):
        if self.shuffle:
            self._rng.shuffle(self._order)


def training_batches(recipe, cache: InputCache, indices, labels, seed: int = 0) -> CachedBatches:
    """The shuffled, augmented batches a recipe trains on (fit() and the benchmark share this)."""
    augment = None
    if recipe.tone_augment:
        from .augment import tone_and_sharpness as augment
    return CachedBatches(cache, indices, labels, recipe.batch_size, shuffle=True, seed=seed, augment=augment)
