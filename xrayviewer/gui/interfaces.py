"""What the controller needs from its two collaborators, as ``typing.Protocol``\\ s.

The controller draws nothing and runs no model: it calls a *view* (the main window in the
app, a recording fake in tests, after Mu's editor/view split) and a *model service*
(:class:`~.model_service.ModelService`, or a fake that answers when a test says so). These
protocols are the contract both sides are checked against (``tests/gui/test_interfaces.py``):
renaming a method or a signal on the real class, or giving a fake a member the contract
lacks, fails a test instead of leaving the controller's tests talking to a stale double.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional, Protocol, Sequence

from PySide6.QtCore import SignalInstance


class ControllerView(Protocol):
    """What the controller calls on the window."""

    def show_model_loading(self, what: str) -> None: ...

    def show_model_ready(self, info) -> None: ...

    def show_no_model(self, message: str) -> None: ...

    def show_image(self, image, screen=None) -> None:
        """``screen``: the film already in the screen's form (screen_image), or None."""

    def show_no_image(self, path: str, message: str) -> None: ...

    def show_loading(self, path: str) -> None: ...

    def show_prediction(self, prediction, info) -> None: ...

    def show_pending(self, message: str) -> None: ...

    def show_heatmap(self, heat) -> None: ...

    def show_heatmap_note(self, message: str) -> None: ...

    def select_key(self, key: int) -> None: ...

    def select_top(self) -> None: ...

    def show_status(self, message: str) -> None: ...

    def show_error(self, title: str, message: str) -> None: ...

    def set_recent(self, paths) -> None: ...


class ModelServiceInterface(Protocol):
    """The model service as the window sees it: requests, the model's state, result signals.

    Results carry the *generation* of the model that produced them, so a result of a model
    that has since been replaced can be dropped."""

    loading: SignalInstance  # (what)
    loaded: SignalInstance  # (ModelInfo, generation)
    load_failed: SignalInstance  # (message, whether a previous model is still active)
    scored: SignalInstance  # ([(key, Prediction)], generation)
    unscored: SignalInstance  # ([key]): no model is loaded
    score_failed: SignalInstance  # ([key], message)
    explained: SignalInstance  # (key, heatmap, generation)
    explain_failed: SignalInstance  # (key, message)

    LOADING: ClassVar[str]
    READY: ClassVar[str]
    FAILED: ClassVar[str]
    IDLE: ClassVar[str]

    state: str  # one of the four above
    info: Any  # the active ModelInfo, None before the first load
    generation: int
    runtime: str  # what runs the active model ("litert" in the window)

    def load(self, path: Optional[str] = None) -> None: ...

    def score(self, batch: Sequence) -> None: ...

    def explain(self, key, image) -> None: ...

    def stop(self, msecs: int = 60000) -> None: ...
