"""The desktop viewer (PySide6). The only package that imports Qt.

The window never imports TensorFlow: it is built and shown first, then the model loads on
LiteRT in the model service's worker thread (:mod:`.model_service`). All long work (scoring,
decoding, scans, and the child-process calls for training) runs as background tasks
(:mod:`.background`), so the GUI thread only paints and reacts.
"""
