"""The controller's collaborators against their protocols (xrayviewer.gui.interfaces): the real
main window and model service have every member the controller relies on, and the test fakes
have those members and nothing else the protocol lacks. Renaming a real method or signal, or
teaching a fake a call the real class does not have, fails here."""

from __future__ import annotations

import inspect

import pytest
from PySide6.QtCore import QObject, SignalInstance

from xrayviewer.gui.interfaces import ControllerView, ModelServiceInterface
from xrayviewer.gui.main_window import MainWindow
from xrayviewer.gui.model_service import ModelService

from .fakes import FakeModels, FakeView


def protocol_members(protocol) -> dict[str, str]:
    """{name: "method" | "signal" | "attribute"} declared by the protocol itself."""
    members = {}
    for name, value in vars(protocol).items():
        if not name.startswith("_") and inspect.isfunction(value):
            members[name] = "method"
    for name, annotation in protocol.__annotations__.items():
        members[name] = "signal" if "SignalInstance" in str(annotation) else "attribute"
    return members


def parameters(fn) -> list[str]:
    return [p.name for p in inspect.signature(fn).parameters.values() if p.name != "self"]


def public_members(cls, stop_at) -> set[str]:
    """Public names a class defines itself, below ``stop_at`` (QObject, object) in its MRO."""
    names = set()
    for klass in cls.__mro__:
        if klass is stop_at:
            break
        names |= {n for n in vars(klass) if not n.startswith("_") and n != "staticMetaObject"}  # Qt's own
    return names


def instance_members(obj) -> set[str]:
    """Public instance attributes, less QObject's own signals that PySide caches there."""
    return {n for n in vars(obj) if not n.startswith("_") and not hasattr(QObject, n)}


def check(protocol, cls, instance):
    """Every protocol member on ``cls``/``instance``, methods with the protocol's parameters."""
    for name, kind in protocol_members(protocol).items():
        assert hasattr(instance, name), f"{cls.__name__} lacks {protocol.__name__}.{name}"
        if kind == "method":
            assert parameters(getattr(cls, name)) == parameters(getattr(protocol, name)), \
                f"{cls.__name__}.{name} takes {parameters(getattr(cls, name))}"
        elif kind == "signal":
            assert isinstance(getattr(instance, name), SignalInstance), f"{cls.__name__}.{name} is not a signal"


def test_the_main_window_is_a_controller_view(qtbot):
    from xrayviewer.gui.settings import Settings

    window = MainWindow(Settings())
    qtbot.addWidget(window)
    check(ControllerView, MainWindow, window)


def test_the_model_service_is_what_the_controller_expects_and_no_more(qtbot):
    service = ModelService(predictor_factory=lambda path: None)
    try:
        check(ModelServiceInterface, ModelService, service)
        declared = set(protocol_members(ModelServiceInterface))
        # A public request or signal added to the service must be added to the protocol (and
        # so to the fake); REPLACES_STALE is the service's own policy.
        assert (public_members(ModelService, QObject) | instance_members(service)) - declared == {"REPLACES_STALE"}
    finally:
        service.stop()


@pytest.mark.parametrize("fake_cls, protocol, stop_at", [(FakeView, ControllerView, object),
                                                         (FakeModels, ModelServiceInterface, QObject)])
def test_each_fake_has_its_protocol_and_only_test_controls_beyond_it(qtbot, fake_cls, protocol, stop_at):
    fake = fake_cls()
    check(protocol, fake_cls, fake)
    extra = (public_members(fake_cls, stop_at) | instance_members(fake)) - set(protocol_members(protocol))
    assert extra == set(fake_cls.TEST_CONTROLS) | {"TEST_CONTROLS"}


def test_the_fake_view_refuses_a_call_the_protocol_lacks():
    with pytest.raises(AttributeError):
        FakeView().show_something_new("the real window has no such method")


def test_the_checks_can_fail():
    """A missing method, a changed signature and an extra member are caught (the checks above
    are not vacuous)."""
    missing = type("Missing", (), {k: v for k, v in vars(FakeView).items() if k != "show_status"})
    with pytest.raises(AssertionError, match="lacks ControllerView.show_status"):
        check(ControllerView, missing, missing())

    class Changed(FakeView):
        def show_status(self, message, seconds):
            pass

        def show_message(self, message):
            pass

    with pytest.raises(AssertionError, match="show_status takes"):
        check(ControllerView, Changed, Changed())
    assert public_members(Changed, object) - set(protocol_members(ControllerView)) - Changed.TEST_CONTROLS \
        == {"show_message", "TEST_CONTROLS"}
