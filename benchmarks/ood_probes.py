"""Out-of-distribution probe benchmark: does the model warn on what users drop by mistake?

Builds a probe set in a temporary folder, from images this script draws and images that
installed packages ship (never the training data), scores it with a model, and prints the
detection rate per category plus the false-flag rate on the model's own validation X-rays.
The last line of output is one JSON object with all numbers.

    python -m benchmarks.ood_probes --model /tmp/runs/default-s0.keras \\
        [--data DIR] [--dataset DIR] [--keep DIR]

``--data`` is the shared data folder (``benchmarks.common.data_dir``: its fullres/ and dicom/
films join the probes); ``--dataset`` the model's training folder, default DATA/chest_xray.

Categories (each must be flagged unless marked "info"):

- colour_photo: matplotlib's grace_hopper.jpg and Minduka_Present_Blue_Pack.png, pydicom's
  colour ultrasound frame, and generated colourful gradients and shapes.
- grey_photo: the same pictures converted to greyscale (grace_hopper, Minduka, a terrain
  elevation map from matplotlib rendered as a shaded grey picture).
- document: text rendered on white with Pillow (letters, tables), a matplotlib chart, and
  application-window "screenshots" drawn with Pillow.
- blank: white, black and mid-grey images.
- noise: uniform and Gaussian noise.
- xray_rot90 / xray_inverted / xray_rot180: the app's bundled sample X-rays and the
  full-resolution X-rays in DATA/fullres rotated by 90 / 270 degrees, colour-inverted,
  or turned upside down.
- other_modality: real non-radiograph medical images shipped as test data: pydicom's CT and
  MR slices (CT_small, MR_small, the MR abdomen of examples_overlay), a nuclear-medicine
  whole-body bone scan (JPEG-lossy.dcm) and matplotlib's MR head slice (s1045.ima).
- other_body_part_synthetic: drawn "radiographs" of a limb (bright bone shapes on dark soft
  tissue). WEAK: nothing offline ships real hand/knee/spine radiographs, and drawings are
  easier to tell apart than real films; read this row with that in mind.
- info_adult_chest (info only, not counted): the adult CR chest DICOM of DATA/dicom:
  a real chest radiograph from another population and site. Out of the model's scope, but a
  legitimate chest film, so a warning is welcome, not required.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from .common import REPO, add_data_argument, data_dir

MUST_FLAG = ("colour_photo", "grey_photo", "document", "blank", "noise", "xray_rot90", "xray_inverted",
             "xray_rot180", "other_modality", "other_body_part_synthetic")


def _mpl_sample(name: str) -> Path | None:
    try:
        import matplotlib

        p = Path(matplotlib.get_data_path()) / "sample_data" / name
        return p if p.exists() else None
    except ImportError:
        return None


def _pydicom_file(name: str) -> Path | None:
    try:
        import pydicom

        p = Path(pydicom.__file__).parent / "data" / "test_files" / name
        return p if p.exists() else None
    except ImportError:
        return None


def _font(size: int):
    for name in ("DejaVuSans.ttf", "Arial.ttf", "LiberationSans-Regular.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def xray_sources(data: Path) -> list[Path]:
    """Real chest X-rays to rotate and invert: the app's samples and DATA/fullres."""
    files = sorted((REPO / "resources" / "samples").glob("*.jpeg"))
    fullres = data / "fullres"
    if fullres.is_dir():
        files += sorted(fullres.rglob("*.jpeg"))
    seen, out = set(), []
    for f in files:
        if f.name not in seen:
            seen.add(f.name)
            out.append(f)
    return out


def _colour_synthetic(rng, size=(640, 480)) -> Image.Image:
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    base = np.stack([np.sin(6 * xx + rng.uniform(0, 6)), np.cos(5 * yy + rng.uniform(0, 6)),
                     np.sin(4 * (xx + yy) + rng.uniform(0, 6))], axis=-1)
    img = Image.fromarray(((base * 0.5 + 0.5) * 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.integers(0, w - 40), rng.integers(0, h - 40)
        box = [int(x0), int(y0), int(x0 + rng.integers(30, 200)), int(y0 + rng.integers(30, 200))]
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)(box, fill=colour)
    return img


def _document(rng, kind: str) -> Image.Image:
    w, h = (850, 1100) if kind != "screenshot" else (1280, 800)
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    font = _font(18)
    words = ("patient report chest radiograph findings impression pneumonia normal left right lobe "
             "opacity consolidation effusion heart size within limits recommend follow up clinical").split()
    if kind == "letter":
        d.text((60, 50), "DISCHARGE SUMMARY", fill="black", font=_font(30))
        y = 110
        while y < h - 60:
            line = " ".join(rng.choice(words, int(rng.integers(6, 11))))
            d.text((60, y), line, fill="black", font=font)
            y += 28
    elif kind == "table":
        for r in range(30):
            for c in range(5):
                x0, y0 = 50 + c * 150, 60 + r * 32
                d.rectangle([x0, y0, x0 + 150, y0 + 32], outline="black")
                d.text((x0 + 6, y0 + 6), f"{rng.integers(0, 999)}.{rng.integers(0, 9)}", fill="black", font=font)
    else:  # an application window
        d.rectangle([0, 0, w, 36], fill=(225, 225, 225))
        for i, label in enumerate(("File", "Edit", "View", "Tools", "Help")):
            d.text((14 + 70 * i, 8), label, fill="black", font=font)
        d.rectangle([0, 36, 240, h], fill=(245, 245, 245))
        for i in range(20):
            d.text((16, 50 + 32 * i), " ".join(rng.choice(words, 2)), fill=(40, 40, 40), font=font)
        for i in range(18):
            y = 60 + 38 * i
            d.rectangle([260, y, w - 30, y + 30], outline=(200, 200, 200))
            d.text((270, y + 5), " ".join(rng.choice(words, 7)), fill="black", font=font)
    return img


def _chart(path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = np.linspace(0, 10, 200)
    ax.plot(x, np.sin(x), "k-", x, np.cos(x), "k--")
    ax.set(title="Quarterly admissions", xlabel="week", ylabel="count")
    ax.grid(True)
    fig.savefig(path)


def _limb(rng, size=(700, 900)) -> Image.Image:
    """A drawn limb radiograph: bright bones on darker soft tissue on black (weak probe)."""
    w, h = size
    img = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(img)
    d.ellipse([w * 0.25, -h * 0.1, w * 0.75, h * 1.1], fill=70)  # soft tissue
    x = w / 2 + rng.uniform(-30, 30)
    d.rounded_rectangle([x - 45, 0, x + 45, h * 0.45], radius=30, fill=200)  # femur-like shaft
    d.ellipse([x - 90, h * 0.40, x + 90, h * 0.55], fill=215)  # condyles
    d.ellipse([x - 80, h * 0.56, x + 80, h * 0.66], fill=210)  # tibial plateau
    d.rounded_rectangle([x - 40, h * 0.6, x + 40, h], radius=25, fill=195)
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, 6, (h, w))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _save(img: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def make_probes(folder, seed: int = 0, xrays: Sequence[Path] = (),
                adult_dicom: Path | None = None) -> dict[str, list[Path]]:
    """Write the probe set under ``folder``; returns {category: [files]}. ``xrays``: the real
    chest X-rays to rotate and invert (``xray_sources``); ``adult_dicom``: a folder of adult
    chest DICOMs for the info-only category."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    out: dict[str, list[Path]] = {k: [] for k in MUST_FLAG}
    out["info_adult_chest"] = []

    def add(cat, img, name):
        out[cat].append(_save(img, folder / cat / name))

    photos = {}
    for name in ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png"):
        p = _mpl_sample(name)
        if p is not None:
            with Image.open(p) as im:
                photos[Path(name).stem] = im.convert("RGB")
    for stem, im in photos.items():
        add("colour_photo", im, f"{stem}.png")
        add("grey_photo", im.convert("L"), f"{stem}_grey.png")
    us = _pydicom_file("examples_rgb_color.dcm")
    if us is not None:
        out["colour_photo"].append(Path(shutil.copy(us, _mkdir(folder / "colour_photo") / "ultrasound_rgb.dcm")))
    for i in range(6):
        im = _colour_synthetic(rng)
        add("colour_photo", im, f"synthetic_colour_{i}.jpg")
        add("grey_photo", im.convert("L"), f"synthetic_colour_{i}_grey.jpg")
    dem = _mpl_sample("jacksboro_fault_dem.npz")
    if dem is not None:
        with np.load(dem) as z:
            e = z["elevation"].astype(np.float64)
        gy, gx = np.gradient(e)
        shade = np.clip(0.5 + 0.5 * (gx - gy) / (np.abs(gx - gy).max() + 1e-9), 0, 1)  # hill shading
        add("grey_photo", Image.fromarray((shade * 255).astype(np.uint8)).resize((806, 688)), "terrain_shaded.png")

    for i, kind in enumerate(("letter", "table", "screenshot", "letter")):
        add("document", _document(rng, kind), f"{kind}_{i}.png")
    _chart(_mkdir(folder / "document") / "chart.png")
    out["document"].append(folder / "document" / "chart.png")

    for level, name in ((255, "white"), (0, "black"), (128, "grey")):
        add("blank", Image.new("L", (512, 512), level), f"blank_{name}.png")
    add("blank", Image.new("RGB", (640, 480), (255, 255, 255)), "blank_white_rgb.jpg")
    add("noise", Image.fromarray(rng.integers(0, 256, (512, 512), dtype=np.uint8)), "uniform.png")
    add("noise", Image.fromarray(np.clip(rng.normal(128, 40, (600, 500)), 0, 255).astype(np.uint8)), "gaussian.png")
    add("noise", Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)), "uniform_rgb.png")
    add("noise", Image.fromarray(np.clip(rng.normal(100, 15, (512, 512)), 0, 255).astype(np.uint8)),
        "gaussian_low_contrast.png")

    for src in xrays:
        with Image.open(src) as im:
            g = im.convert("L")
        add("xray_rot90", g.transpose(Image.Transpose.ROTATE_90), f"{src.stem}_rot90.png")
        add("xray_rot90", g.transpose(Image.Transpose.ROTATE_270), f"{src.stem}_rot270.png")
        add("xray_rot180", g.transpose(Image.Transpose.ROTATE_180), f"{src.stem}_rot180.png")
        add("xray_inverted", ImageOps.invert(g), f"{src.stem}_inverted.png")

    for name in ("CT_small.dcm", "MR_small.dcm", "examples_overlay.dcm", "JPEG-lossy.dcm"):
        p = _pydicom_file(name)
        if p is not None:
            out["other_modality"].append(Path(shutil.copy(p, _mkdir(folder / "other_modality") / name)))
    head = _mpl_sample("s1045.ima.gz")
    if head is not None:
        arr = np.frombuffer(gzip.open(head).read(), dtype=np.uint16).reshape(256, 256)
        add("other_modality", Image.fromarray(arr.astype(np.uint16)), "mr_head_s1045.png")
    for i in range(3):
        add("other_body_part_synthetic", _limb(rng), f"limb_{i}.png")

    if adult_dicom is not None and adult_dicom.is_dir():
        for p in sorted(adult_dicom.glob("*.dcm")):
            out["info_adult_chest"].append(Path(shutil.copy(p, _mkdir(folder / "info_adult_chest") / p.name)))
    return out


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def run(model_path, dataset_dir, data: Path, keep=None) -> dict:
    from xrayviewer.model import Predictor
    from xrayviewer.training import scan_dataset
    from xrayviewer.training.evaluate import model_split

    t0 = time.perf_counter()
    predictor = Predictor.load(model_path)
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="ood-probes-"))
    try:
        probes = make_probes(folder, xrays=xray_sources(data), adult_dicom=data / "dicom")
        per_cat, details = {}, {}
        for cat, files in probes.items():
            results = predictor.predict_files(files)
            scored = [r for r in results if r.prediction is not None]
            flagged = [r for r in scored if r.prediction.out_of_distribution]
            per_cat[cat] = {"n": len(scored), "flagged": len(flagged),
                            "rate": round(len(flagged) / len(scored), 4) if scored else None,
                            "unreadable": len(results) - len(scored)}
            details[cat] = [{"file": Path(r.path).name, "ood_score": None if r.prediction is None else
                             round(r.prediction.ood_score or 0.0, 2),
                             "flagged": None if r.prediction is None else r.prediction.out_of_distribution,
                             "reason": r.error if r.prediction is None else r.prediction.ood_reason}
                            for r in results]
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    validation = None
    if dataset_dir:
        scan = scan_dataset(dataset_dir)
        _train, val, warnings = model_split(scan, predictor.info.meta)
        results = [r for r in predictor.predict_files([s.path for s in val]) if r.prediction is not None]
        flags = [r.prediction.out_of_distribution for r in results]
        colour = [bool(r.prediction.out_of_distribution and "colour" in r.prediction.ood_reason) for r in results]
        validation = {"n": len(results), "flagged": int(sum(flags)),
                      "false_flag_rate": round(float(np.mean(flags)), 4) if flags else None,
                      "flagged_by_colour_rule": int(sum(colour)), "warnings": warnings}
    must = [c for c in MUST_FLAG if per_cat.get(c, {}).get("n")]
    total_n = sum(per_cat[c]["n"] for c in must)
    total_f = sum(per_cat[c]["flagged"] for c in must)
    ood = predictor.info.ood_stats()
    return {"model": str(model_path), "ood_method": "feature+image" if ood is not None and ood.has_image_model
            else ("feature" if ood is not None else "none"),
            "ood_threshold": None if ood is None else ood.threshold,
            "categories": per_cat, "overall_detection_rate": round(total_f / total_n, 4) if total_n else None,
            "probes": total_n, "validation": validation, "details": details,
            "seconds": round(time.perf_counter() - t0, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model .keras (default: the bundled model)")
    add_data_argument(ap)
    ap.add_argument("--dataset", help="the model's training folder, for the validation false-flag rate "
                                      "('' to skip; default: DATA/chest_xray)")
    ap.add_argument("--keep", metavar="DIR", help="write the probes here and keep them")
    ap.add_argument("--details", action="store_true", help="print every probe's score")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    model = args.model
    if model is None:
        from xrayviewer.model import bundled_model_path

        model = bundled_model_path()
    data = data_dir(args.data)
    dataset = str(data / "chest_xray") if args.dataset is None else args.dataset
    res = run(model, dataset or None, data, args.keep)
    print(f"OOD probes for {res['model']} (method: {res['ood_method']}, threshold {res['ood_threshold']})")
    for cat, v in res["categories"].items():
        tag = "" if cat in MUST_FLAG else "  (info only)"
        rate = "n/a" if v["rate"] is None else f"{100 * v['rate']:5.1f}%"
        extra = f", {v['unreadable']} unreadable" if v["unreadable"] else ""
        print(f"  {cat:<27} {v['flagged']:>3}/{v['n']:<3} flagged  {rate}{extra}{tag}")
        if args.details:
            for d in res["details"][cat]:
                print(f"      {d['file']:<40} score {d['ood_score']}  flagged {d['flagged']}  {d['reason']}")
    print(f"  overall (must-flag categories): {res['overall_detection_rate']}")
    if res["validation"]:
        v = res["validation"]
        print(f"  validation X-rays flagged: {v['flagged']}/{v['n']} = {v['false_flag_rate']}"
              + "".join(f"\n  WARNING: {w}" for w in v["warnings"]))
    res.pop("details")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
