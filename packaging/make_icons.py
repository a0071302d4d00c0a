"""Draw the XRay Viewer icon with Pillow and write resources/icon.{png,ico,icns}.

The glyph: a stylised pair of lungs with trachea and ribs, white on a dark-blue rounded
square. Drawn once at 1024 px and scaled down (antialiased), so every size is clean.

    python packaging/make_icons.py            # (re)write the three files in resources/
    python packaging/make_icons.py --check    # exit 1 if the files are missing or stale

The output is committed; run this only when the design changes. Pillow writes ICNS on
every platform (its own encoder, PNG-compressed entries); on macOS `iconutil` could be used
instead, but nothing needs it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
S = 1024  # drawing size

BG_TOP = (22, 52, 104)
BG_BOTTOM = (10, 28, 64)
WHITE = (255, 255, 255, 255)
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def _rounded_square() -> Image.Image:
    """Dark-blue vertical gradient inside a rounded square (macOS-style margins)."""
    grad = Image.new("RGBA", (S, S))
    px = grad.load()
    for y in range(S):
        t = y / (S - 1)
        c = tuple(int(BG_TOP[i] + (BG_BOTTOM[i] - BG_TOP[i]) * t) for i in range(3)) + (255,)
        for x in range(S):
            px[x, y] = c
    mask = Image.new("L", (S, S), 0)
    margin = int(S * 0.06)
    ImageDraw.Draw(mask).rounded_rectangle((margin, margin, S - margin, S - margin),
                                           radius=int(S * 0.2), fill=255)
    out = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    out.paste(grad, (0, 0), mask)
    return out


def _lung(draw: ImageDraw.ImageDraw, left: bool) -> None:
    """One lung as a polygon: rounded apex, straight mediastinal edge, curved base."""
    cx = S / 2
    sign = -1 if left else 1
    inner = cx + sign * S * 0.06  # edge next to the heart/trachea
    outer = cx + sign * S * 0.33
    top, bottom = S * 0.25, S * 0.78
    pts = [
        (inner, top + S * 0.10),
        (inner + sign * S * 0.04, top + S * 0.02),
        (inner + sign * S * 0.12, top - S * 0.01),
        (outer - sign * S * 0.07, top + S * 0.07),
        (outer, top + S * 0.25),
        (outer + sign * S * 0.01, bottom - S * 0.05),
        (outer - sign * S * 0.04, bottom),
        (inner + sign * S * 0.12, bottom - S * 0.05),
        # the heart's notch on the left lung (patient's left is image right)
        (inner + sign * S * (0.02 if not left else 0.0), bottom - S * 0.12),
        (inner, top + S * 0.32),
    ]
    draw.polygon(pts, fill=WHITE)


def draw_icon() -> Image.Image:
    base = _rounded_square()
    glyph = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    d = ImageDraw.Draw(glyph)
    _lung(d, left=True)
    _lung(d, left=False)
    # Ribs: dark arcs cut through the lungs so they read as a radiograph.
    ribs = Image.new("L", (S, S), 0)
    rd = ImageDraw.Draw(ribs)
    for i in range(5):
        y = S * (0.36 + 0.085 * i)
        w = S * (0.52 + 0.03 * i)
        rd.arc((S / 2 - w / 2, y - S * 0.10, S / 2 + w / 2, y + S * 0.10), 200, 340,
               fill=255, width=int(S * 0.022))
    glyph_alpha = glyph.getchannel("A")
    glyph.putalpha(ImageChops.subtract(glyph_alpha, ribs.filter(ImageFilter.GaussianBlur(2))))
    # Trachea and bronchi on top, solid white.
    d2 = ImageDraw.Draw(glyph)
    w = int(S * 0.045)
    d2.rounded_rectangle((S / 2 - w / 2, S * 0.13, S / 2 + w / 2, S * 0.42), radius=w // 2, fill=WHITE)
    d2.line((S / 2, S * 0.40, S / 2 - S * 0.09, S * 0.50), fill=WHITE, width=int(w * 0.8))
    d2.line((S / 2, S * 0.40, S / 2 + S * 0.09, S * 0.50), fill=WHITE, width=int(w * 0.8))
    # A soft glow under the glyph keeps it legible at 16 px on dark and light desktops.
    shadow = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    shadow.putalpha(glyph.getchannel("A").filter(ImageFilter.GaussianBlur(12)).point(lambda v: v // 3))
    base = Image.alpha_composite(base, shadow)
    return Image.alpha_composite(base, glyph)


def write_icons(out_dir: Path = RESOURCES) -> list[Path]:
    big = draw_icon()
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / "icon.png"
    big.resize((512, 512), Image.LANCZOS).save(png, optimize=True)
    ico = out_dir / "icon.ico"
    big.resize((256, 256), Image.LANCZOS).save(ico, sizes=ICO_SIZES)
    icns = out_dir / "icon.icns"
    big.save(icns, format="ICNS", append_images=[big.resize((s, s), Image.LANCZOS) for s in ICNS_SIZES])
    return [png, ico, icns]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=RESOURCES)
    p.add_argument("--check", action="store_true", help="only check that the files exist and open")
    args = p.parse_args(argv)
    if args.check:
        missing = [n for n in ("icon.png", "icon.ico", "icon.icns") if not (args.out / n).is_file()]
        if missing:
            print("missing:", ", ".join(missing), "- run python packaging/make_icons.py", file=sys.stderr)
            return 1
        for n in ("icon.png", "icon.ico", "icon.icns"):
            with Image.open(args.out / n) as im:
                im.load()
        return 0
    for f in write_icons(args.out):
        print(f"wrote {f.relative_to(ROOT) if f.is_relative_to(ROOT) else f} ({f.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
