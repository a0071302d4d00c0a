"""Entry point of the frozen app (PyInstaller's script): ``xrayviewer.launcher.launch`` with
the window as the default, as the ``xrayviewer-gui`` command does. ``XRayViewer --self-test
[--report FILE]`` runs the self-test; the launcher also calls ``multiprocessing.freeze_support``
first, which the training and conversion children of a frozen app need.
"""

import sys

from xrayviewer.launcher import GUI, launch

if __name__ == "__main__":
    sys.exit(launch(start=GUI))
