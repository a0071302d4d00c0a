"""Entry point of the frozen app (PyInstaller's script): the GUI, or its self-test.

`XRayViewer --self-test [--report FILE]` runs xrayviewer.gui.selftest directly, so the
self-test works even before (or without) the GUI's own argument parsing; every other
argument list goes to xrayviewer.gui.app.main, as the `xrayviewer-gui` command does.
"""

import multiprocessing
import sys


def main() -> int:
    multiprocessing.freeze_support()
    argv = sys.argv[1:]
    if "--self-test" in argv:
        from xrayviewer.gui.selftest import main as selftest_main

        return selftest_main(argv)
    from xrayviewer.gui.app import main as gui_main

    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(main())
