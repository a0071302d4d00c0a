"""Where one full-resolution prediction spends its time, and is the faster decode path exact?

    python -m benchmarks.decode_probe [--data DIR] [--repeats N]

1. Stages of ``predict_image(load_image(film))`` on the 1,982 x 1,804 film of bench.py, each
   timed alone (median wall and CPU time, ``time.process_time``: CPU time moves less when the
   machine is shared): the JPEG decode (whole, and in halves on two cores as ``load_image``
   does it for this film, which has restart markers), the damage walk, the grey array, the
   pixel checks, the model-input resize, the network, and the whole call.
2. The model input of today's loader against Pillow's plain decode + ``convert("L")`` +
   ``resize(128, BILINEAR, reducing_gap=3.0)`` (the preprocessing the bundles were trained
   on) on the eleven full-resolution films, every 4th training image and the external
   films: the issue allows one grey level; the faster path must give 0.
3. For the record, JPEG draft mode (DCT scaling by 1/2 on decode) followed by the same
   resize: the largest difference it would make. Then draft mode at 1/2 and 1/4 with the rest
   of the pipeline matched pixel for pixel (``draft_matched_input``: the box reduce Pillow's
   ``reducing_gap`` does on the full image, done as an area-exact box resize of the smaller
   decode, then the same bilinear step over the same box), so that what is left is only the
   scaled IDCT's own error. Issue 15 allows one grey level.
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
from xrayviewer.imaging.jpeg_bands import decode_in_halves
from xrayviewer.imaging.jpeg_check import check_jpeg
from xrayviewer.imaging.pillow_arrays import grey_array
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


def draft_matched_input(path: Path, scale: int) -> np.ndarray:
    """The model input from a JPEG decoded at 1/``scale`` (DCT scaling), every later step
    matched to the full-size path: Pillow's resize with ``reducing_gap=3.0`` box-reduces the
    full image by (fx, fy) and then resamples bilinearly over the box (0, 0, W/fx, H/fy); here
    the box reduce is an area-exact BOX resize of the smaller decode (the last, partial block
    on its own, as ``reduce`` averages it), followed by that same bilinear step."""
    with Image.open(path) as img:
        w, h = img.size
        fx, fy = max(1, int(w / 128 / 3.0)), max(1, int(h / 128 / 3.0))
        if scale > 1 and min(fx, fy) >= scale:
            img.draft("L", (w // scale, h // scale))
        grey = img.convert("L")
    if fx == 1 and fy == 1:
        return np.asarray(grey.resize((128, 128), Image.BILINEAR))
    sx, sy = w / grey.size[0], h / grey.size[1]  # full-size pixels per decoded pixel
    nx, ny = w // fx, h // fy
    xs = [(0, nx * fx / sx, nx)] + ([(nx * fx / sx, grey.size[0], 1)] if w % fx else [])
    ys = [(0, ny * fy / sy, ny)] + ([(ny * fy / sy, grey.size[1], 1)] if h % fy else [])
    reduced = np.vstack([np.hstack([np.asarray(grey.resize((n_x, n_y), Image.BOX, box=(x0, y0, x1, y1)))
                                    for x0, x1, n_x in xs]) for y0, y1, n_y in ys])
    return np.asarray(Image.fromarray(reduced).resize((128, 128), Image.BILINEAR, box=(0, 0, w / fx, h / fy)))


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
    layout = check_jpeg(data).layout
    rows = [
        ("JPEG decode (Pillow, full size)", decode),
        ("JPEG decode in halves, two cores (jpeg_bands)",
         lambda: decode_in_halves(data, layout, image.width, image.height)),
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
            for scale in (1, 2, 4):
                diffs = [int(np.abs(preprocess_uint8(load_image(f)).astype(np.int16) - draft_matched_input(f, scale)).max())
                         for f in files]
                line += (f"; draft 1/{scale} with the pipeline matched: {max(diffs)} "
                         f"({sum(d > 1 for d in diffs)} of {len(files)} films > 1)")
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
