"""Where one full-resolution prediction spends its time, and is the faster decode path exact?

    python -m benchmarks.decode_probe [--data DIR] [--repeats N]

1. Stages of ``predict_image(load_image(film))`` on the 1,982 x 1,804 film of bench.py, each
   timed alone (median wall and CPU time, ``time.process_time``: CPU time moves less when the
   machine is shared): the JPEG decode, the damage walk, the grey array, the pixel checks,
   the model-input resize, the network, and the whole call.
2. The model input of today's loader against Pillow's plain decode + ``convert("L")`` +
   ``resize(128, BILINEAR, reducing_gap=3.0)`` (the preprocessing the bundles were trained
   on) on the eleven full-resolution films, every 4th training image and the external
   films: the issue allows one grey level; the faster path must give 0.
3. For the record, JPEG draft mode (DCT scaling by 1/2 on decode) followed by the same
   resize: the largest difference it would make.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from .bench import DATA, FULLRES

from PIL import Image

from xrayviewer.imaging import load_image, preprocess, preprocess_uint8
from xrayviewer.imaging.jpeg_check import check_jpeg
from xrayviewer.imaging.raster import grey_array
from xrayviewer.imaging.usable import check_pixels
from xrayviewer.model import Predictor
from xrayviewer.model.population import population_reasons


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median wall ms, median CPU ms) of ``fn()`` after 3 warm-up calls."""
    for _ in range(3):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)


def plain_input(path: Path, draft: bool = False) -> np.ndarray:
    with Image.open(path) as img:
        if draft:
            img.draft(img.mode, (img.size[0] // 2, img.size[1] // 2))
        grey = img.convert("L")
        return np.asarray(grey.resize((128, 128), Image.BILINEAR, reducing_gap=3.0))


def stages(repeats: int) -> None:
    path = FULLRES
    predictor = Predictor.load()
    image = load_image(path)
    data = path.read_bytes()
    x = preprocess(image)[None]

    def decode():
        with Image.open(path) as img:
            img.load()
            return img

    decoded = decode()
    rows = [
        ("JPEG decode (Pillow, full size)", decode),
        ("damage walk (jpeg_check)", lambda: check_jpeg(data)),
        ("grey array (grey_array)", lambda: grey_array(decoded)),
        ("grey array the old way (np.asarray)", lambda: np.asarray(decoded)),
        ("pixel checks (min/max)", lambda: check_pixels(image.pixels, "film")),
        ("load_image (all of the above)", lambda: load_image(path)),
        ("model input (preprocess_uint8)", lambda: preprocess_uint8(image)),
        ("network + calibration + OOD (predict_batch)",
         lambda: predictor.predict_batch(x, [population_reasons(image)])),
        ("predict_image(load_image(film)) (bench's figure)", lambda: predictor.predict_image(load_image(path))),
    ]
    print(f"{path.name} ({image.width} x {image.height}), {repeats} timed calls each:")
    for name, fn in rows:
        wall, cpu = timed(fn, repeats)
        print(f"  {name:52s} wall {wall:6.2f} ms   cpu {cpu:6.2f} ms", flush=True)


def exactness(data: Path) -> None:
    sets = {"fullres": sorted((data / "fullres").rglob("*.jpeg")),
            "train (every 4th)": sorted((data / "chest_xray" / "train").rglob("*.jpeg"))[::4],
            "external": sorted((data / "chest_xray_external").rglob("*.jpeg"))}
    for name, files in sets.items():
        worst = worst_draft = 0
        for f in files:
            ours = preprocess_uint8(load_image(f)).astype(np.int16)
            worst = max(worst, int(np.abs(ours - plain_input(f)).max()))
            if name == "fullres":
                worst_draft = max(worst_draft, int(np.abs(ours - plain_input(f, draft=True)).max()))
        line = f"{name} ({len(files)} files): largest difference from Pillow's plain path {worst} grey level(s)"
        if name == "fullres":
            line += f"; draft 1/2 + the same resize: {worst_draft}"
        print(line, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    stages(args.repeats)
    exactness(Path(args.data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
