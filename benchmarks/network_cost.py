"""What one forward pass of a bundled network costs, and how close LiteRT runs to the CPU:

    python -m benchmarks.network_cost [--model model_weights/default.keras] [--repeats 300]

Counts the multiply-adds of every convolution and dense layer of the Keras model (batch norm,
ReLU and pooling are folded or negligible), then times the bundle's ``.tflite`` on one
interpreter thread (one image at a time, as ``Predictor.iter_files``' loaders run it; median
of ``--repeats`` calls after a warm-up) and on two. multiply-adds / time is the rate it
reaches: set beside the core's peak, it says how much faster scoring could get without
changing the network (issue 15's ``predict_img_s`` target).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def multiply_adds(model) -> tuple[int, list[tuple[str, int]]]:
    rows = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in ("Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Dense"):
            continue
        out = layer.output.shape
        cin = layer.input.shape[-1]
        if kind == "Dense":
            macs = cin * out[-1]
        else:
            kh, kw = layer.kernel_size
            pixels = out[1] * out[2]
            if kind == "Conv2D":
                macs = pixels * out[-1] * kh * kw * cin
            elif kind == "DepthwiseConv2D":
                macs = pixels * cin * kh * kw
            else:  # depthwise then pointwise
                macs = pixels * cin * kh * kw + pixels * cin * out[-1]
        rows.append((layer.name, int(macs)))
    return sum(m for _, m in rows), rows


def time_tflite(model_bytes: bytes, threads: int, repeats: int) -> float:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model_bytes, num_threads=threads)
    it.allocate_tensors()
    details = it.get_input_details()[0]
    index = details["index"]
    x = np.random.default_rng(0).uniform(0, 1, details["shape"]).astype(np.float32)  # one image
    for _ in range(20):
        it.set_tensor(index, x)
        it.invoke()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        it.set_tensor(index, x)
        it.invoke()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    from xrayviewer.model.runtime import import_keras

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(Path(__file__).resolve().parents[1] / "model_weights" / "default.keras"))
    ap.add_argument("--repeats", type=int, default=300)
    args = ap.parse_args()
    keras = import_keras()
    model = keras.models.load_model(args.model, compile=False)
    total, rows = multiply_adds(model)
    for name, macs in rows:
        print(f"  {name:14s} {macs / 1e6:7.2f} M multiply-adds")
    print(f"one image: {total / 1e6:.1f} M multiply-adds ({model.count_params() / 1e3:.0f} k weights)")
    tflite = Path(args.model).with_suffix(".tflite").read_bytes()
    for threads in (1, 2):
        s = time_tflite(tflite, threads, args.repeats)
        print(f"LiteRT, {threads} thread(s), one image: {1000 * s:.2f} ms, {total / s / 1e9:.1f} G multiply-adds/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
