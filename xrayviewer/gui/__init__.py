"""The desktop viewer (PySide6). The only package that imports Qt.

Start-up never imports TensorFlow: the window is built and shown first, then the model loads
on its own thread (:mod:`.model_worker`). Long work (decoding, scans, training) runs through
the one job pattern in :mod:`.workers`, so the GUI thread only paints and reacts.
"""
