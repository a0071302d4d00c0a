"""XRay Viewer: review chest X-rays next to a bundled pneumonia CNN.

Importing this package is cheap on purpose: no TensorFlow, no Qt. Heavy frameworks are
imported by the functions that need them (see xrayviewer.model.keras_runtime).
"""

__version__ = "0.1.0"
