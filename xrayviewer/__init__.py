"""XRay Viewer: review chest X-rays next to a bundled pneumonia CNN.

Importing this package is cheap on purpose: no TensorFlow, no Qt. Heavy frameworks are
imported by the functions that need them (Keras through xrayviewer.model.runtime, LiteRT
through xrayviewer.model.networks).
"""

__version__ = "0.1.0"
