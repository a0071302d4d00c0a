"""PyInstaller runtime hook: runs in the frozen app before any of its code.

The bundle contains only TensorFlow, so Keras must use it whatever KERAS_BACKEND the user's
environment says (a developer with KERAS_BACKEND=jax set would otherwise get a crash).
"""

import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The app never uses a GPU; probing CUDA only costs start-up time and log noise.
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")
