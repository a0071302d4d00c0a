"""The one way into XRay Viewer: :func:`launch` decides what an argument list starts.

Every entry point calls it: the ``xrayviewer`` command (:func:`main`), ``xrayviewer-gui``
(:func:`gui_main`), ``python -m xrayviewer`` and the frozen app's script
(packaging/pyinstaller/xrayviewer_main.py). So the dispatch (the self-test, the window, the
command line) is written once, and the self-test starts before the window's own argument
parsing, with no window.

It sits above ``cli``, ``selftest`` and ``gui`` and imports each only when it is chosen:
``xrayviewer predict`` never imports Qt, the window never imports the command line.
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence

CLI = "cli"
GUI = "gui"


def launch(argv: Optional[Sequence[str]] = None, start: str = CLI) -> int:
    """Run what ``argv`` (default: ``sys.argv[1:]``) asks for; the exit code.

    ``start`` is what the entry point opens by default: ``CLI`` (``xrayviewer``, where
    ``gui ...`` opens the window with the rest of the arguments) or ``GUI`` (``xrayviewer-gui``
    and the frozen app). In either, ``--self-test`` among the window's arguments runs the
    self-test instead of the window.
    """
    if getattr(sys, "frozen", False):
        import multiprocessing

        # A spawned child of the frozen app (training, conversion) starts this same executable:
        # freeze_support runs the child's work and exits before anything below.
        multiprocessing.freeze_support()
    args = list(sys.argv[1:] if argv is None else argv)
    if start == CLI and args[:1] == [GUI]:
        start, args = GUI, args[1:]
    if start == GUI:
        if "--self-test" in args:
            from .selftest import main as self_test

            return self_test(args)
        from .gui.app import main as window

        return window(args)
    from .cli import main as command_line

    return command_line(args)


def main() -> int:
    """The ``xrayviewer`` console script."""
    return launch(start=CLI)


def gui_main() -> int:
    """The ``xrayviewer-gui`` (gui) script."""
    return launch(start=GUI)
