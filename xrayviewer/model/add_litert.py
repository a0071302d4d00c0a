"""Give a bundle made before LiteRT its checked ``.tflite`` (needs TensorFlow, once):

    python -m xrayviewer.model.add_litert BUNDLE.keras [...]

The weights are unchanged; the metadata gains ``litert`` (file, SHA-256, difference from
Keras) and, for a linear head, ``gradcam``. The ``.tflite`` is written first and the metadata
last, each atomically, so a reader sees either the old bundle or the complete new one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..atomic import atomic_open
from .bundle import ModelLoadError, litert_meta, litert_path, metadata_path, read_model_info, sha256_of
from .convert import bundle_litert_parts


def add_litert(keras_path) -> Path:
    from .runtime import import_keras

    info = read_model_info(keras_path)
    keras = import_keras()
    try:
        model = keras.saving.load_model(info.keras_path, compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras raises many kinds
        raise ModelLoadError(f"Model {info.keras_path.name} could not be loaded: {exc}") from None
    conversion, extra = bundle_litert_parts(model)
    if conversion is None:
        raise ModelLoadError(f"{info.keras_path.name} could not be converted to LiteRT (see the log).")
    target = litert_path(info.keras_path)
    _write_atomic(target, conversion.model_bytes)
    meta = dict(info.meta, **extra, litert=litert_meta(target.name, sha256_of(target), conversion))
    _write_atomic(metadata_path(info.keras_path), (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())
    return target


def _write_atomic(target: Path, data: bytes) -> None:
    with atomic_open(target, "wb", prefix=f".{target.name}-") as fh:
        fh.write(data)


def main(argv=None) -> int:
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    for p in paths:
        try:
            target = add_litert(p)
        except ModelLoadError as exc:
            print(f"add_litert: {exc}", file=sys.stderr)
            return 1
        print(f"{target}: written, checked against Keras")
    return 0


if __name__ == "__main__":
    sys.exit(main())
