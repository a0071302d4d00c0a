"""Training hyper-parameters of each recipe (the architecture lives in model.architectures)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    name: str
    epochs: int
    batch_size: int
    learning_rate: float
    class_weights: bool  # weight classes inversely to their frequency
    cosine_decay: bool
    patience: int  # epochs without validation-AUC gain before stopping early (0: never)
    description: str
    architecture: str = ""  # model.architectures builder; "" means the recipe's own name
    tone_augment: bool = False  # training.augment.tone_and_sharpness on every training batch

    @property
    def network(self) -> str:
        return self.architecture or self.name


RECIPES = {
    "seed": Recipe("seed", epochs=20, batch_size=16, learning_rate=1e-3, class_weights=False,
                   cosine_decay=False, patience=0,
                   description="The research notebook's CNN and optimiser, unchanged."),
    "default": Recipe("default", epochs=24, batch_size=32, learning_rate=2e-3, class_weights=True,
                      cosine_decay=True, patience=6,
                      description="Separable-conv CNN with global pooling, augmentation, class "
                                  "weights, cosine learning rate, early stopping on validation AUC."),
    "default-tone": Recipe("default-tone", epochs=24, batch_size=32, learning_rate=2e-3, class_weights=True,
                           cosine_decay=True, patience=6, architecture="default", tone_augment=True,
                           description="The default recipe plus tone and sharpness augmentation (gamma, "
                                       "blur or edge enhancement, partial histogram equalisation)."),
}


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ValueError(f"Unknown recipe {name!r}; choose one of {', '.join(RECIPES)}.") from None
