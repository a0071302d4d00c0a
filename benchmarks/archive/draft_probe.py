"""Is Pillow's JPEG draft mode (DCT-domain reduction on decode) safe for the model input?

    python -m benchmarks.archive.draft_probe [--data DIR]

For each candidate draft size (the decoder reduces by 1/2, 1/4 or 1/8 while the picture stays
at least that size), compares the 128 x 128 uint8 model input (``preprocess_uint8``) with
today's full decode, on the eleven full-resolution films and every 4th training image, and
times the decode + preprocessing. Draft mode is allowed only where the largest difference is
at most one grey level (issue 15); the result is recorded in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from xrayviewer.imaging import XRayImage, load_image, preprocess_uint8
from xrayviewer.imaging.raster import _to_grey_array
from xrayviewer.imaging.windowing import full_range_window

from ..common import add_data_argument, data_dir


def draft_input(path: Path, size: int) -> np.ndarray:
    """The model's uint8 input from a JPEG decoded in draft mode (what ``load_raster`` does
    for an 8-bit JPEG, with ``draft`` before ``load``): 8-bit pictures are used as stored."""
    with Image.open(path) as img:
        img.draft(img.mode, (size, size))
        img.load()
        grey = _to_grey_array(ImageOps.exif_transpose(img))[0]
    center, width = full_range_window(np.array([0, 255], dtype=np.uint8))
    image = XRayImage(pixels=grey, source_format="JPEG", bit_depth=8, window_center=center, window_width=width)
    return preprocess_uint8(image)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(ap)
    ap.add_argument("--sizes", default="256,384,512")
    args = ap.parse_args()
    data = data_dir(args.data)
    sets = {"fullres": sorted((data / "fullres").rglob("*.jpeg")),
            "train (every 4th)": sorted((data / "chest_xray" / "train").rglob("*.jpeg"))[::4]}
    for size in [int(s) for s in args.sizes.split(",")]:
        for name, files in sets.items():
            worst, n_diff, t_full, t_draft = 0, 0, [], []
            for f in files:
                t = time.perf_counter()
                a = preprocess_uint8(load_image(f))
                t_full.append(time.perf_counter() - t)
                t = time.perf_counter()
                b = draft_input(f, size)
                t_draft.append(time.perf_counter() - t)
                d = int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())
                worst = max(worst, d)
                n_diff += d > 0
            print(f"draft >= {size} px, {name} ({len(files)} files): largest difference {worst} grey level(s), "
                  f"{n_diff} files differ; decode+preprocess median {1000 * statistics.median(t_full):.1f} ms "
                  f"-> {1000 * statistics.median(t_draft):.1f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
