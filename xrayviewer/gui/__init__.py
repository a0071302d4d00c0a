"""The desktop viewer (PySide6). The only package that imports Qt.

The window never imports TensorFlow: it is built and shown first, then the model loads on
LiteRT in the model service's worker thread (:mod:`.model_service`). Long work (decoding,
scans) runs through the one job pattern in :mod:`.workers`, training in a child process, so the
GUI thread only paints and reacts.
"""
