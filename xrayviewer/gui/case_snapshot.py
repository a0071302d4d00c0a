"""A de-identified case snapshot: the film as shown (window/level, invert, Grad-CAM overlay)
above a footer with the model's answer, where its threshold was measured, the model, the
reader's read and the disclaimer.

Qt-free (numpy + Pillow) on purpose: File > Export Case Snapshot... and
``xrayviewer predict --snapshot DIR`` render through :func:`render_snapshot`, so the two
cannot drift. It lives beside :mod:`.wording` because the footer says exactly what the panel
says. Nothing identifying goes in: no file name or path, no DICOM header field.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..atomic import atomic_open
from ..imaging import load_image
from ..model.gradcam import OVERLAY_OPACITY, overlay
from ..reads.log import READ_WORDS, file_sha256
from . import wording

FOOTER_BG = (24, 24, 28)
FOOTER_FG = (235, 235, 235)
WARN_FG = (255, 170, 120)


def threshold_source(info) -> str:
    """Where the model's threshold and figures were measured, in a reader's words."""
    meta = getattr(info, "meta", None) or {}
    evaluations = meta.get("evaluations") or []
    headline = meta.get("headline_evaluation")
    for record in evaluations:
        if record.get("set") == headline and record.get("label"):
            return str(record["label"])
    card = meta.get("validation_card") or {}
    n = card.get("images") or (meta.get("validation") or {}).get("n")
    if n:
        return f"internal validation ({int(n)} images held out from training)"
    return "no recorded validation"


def model_line(info) -> str:
    if info is None:
        return "Model: none loaded"
    created = str(info.meta.get("created", ""))[:10] or "date unknown"
    return f"Model: {info.name}, made {created}"


def read_line(read: Optional[str], note: str = "", reader: str = "") -> str:
    if not read:
        return "Reader's read: not recorded"
    by = f" by {reader}" if reader else ""
    text = f"Reader's read{by}: {read} ({READ_WORDS.get(read, read)})"
    return text + (f", note: {note}" if note else "")


def footer_lines(prediction, info, read: Optional[str] = None, note: str = "", reader: str = "",
                 overlay_shown: bool = False) -> list[tuple[str, tuple]]:
    """(text, colour) lines of the footer, top to bottom."""
    lines: list[tuple[str, tuple]] = []
    if prediction is None:
        lines.append(("Not scored by a model.", FOOTER_FG))
    else:
        lines.append((f"Pneumonia probability {wording.percent(prediction.probability)}: "
                      f"{wording.panel_verdict(prediction)}", FOOTER_FG))
        lines.append((f"Threshold {wording.percent(prediction.threshold)}, measured on {threshold_source(info)}",
                      FOOTER_FG))
        for caveat in (wording.near_threshold_note(prediction), wording.ood_warning(prediction)):
            if caveat:
                lines.append((caveat, WARN_FG))
    lines.append((model_line(info), FOOTER_FG))
    if overlay_shown:
        lines.append(("Overlay: Grad-CAM, where the model found its evidence", FOOTER_FG))
    lines.append((read_line(read, note, reader), FOOTER_FG))
    lines.append((wording.DISCLAIMER, WARN_FG))
    return lines


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    out, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and draw.textlength(trial, font=font) > width:
            out.append(line)
            line = word
        else:
            line = trial
    return out + ([line] if line else [])


def render_snapshot(grey_u8: np.ndarray, lines: list[tuple[str, tuple]], heatmap: Optional[np.ndarray] = None,
                    opacity: float = OVERLAY_OPACITY, min_width: int = 900) -> Image.Image:
    """The film (``grey_u8``: the windowed, possibly inverted picture as shown) with the
    overlay blended as on screen, and the footer below it. Small films are scaled up to
    ``min_width`` so the footer stays legible."""
    grey = np.asarray(grey_u8, dtype=np.uint8)
    rgb = overlay(grey, heatmap, opacity) if heatmap is not None else np.repeat(grey[..., None], 3, axis=-1)
    film = Image.fromarray(rgb, "RGB")
    if film.width < min_width:
        film = film.resize((min_width, max(1, round(film.height * min_width / film.width))), Image.Resampling.BICUBIC)
    size = max(14, film.width // 60)
    font = ImageFont.load_default(size=size)
    margin, spacing = size, size // 3
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    wrapped = [(part, colour) for text, colour in lines for part in _wrap(probe, text, font, film.width - 2 * margin)]
    line_h = size + spacing
    footer_h = 2 * margin + line_h * len(wrapped)
    out = Image.new("RGB", (film.width, film.height + footer_h), FOOTER_BG)
    out.paste(film, (0, 0))
    draw = ImageDraw.Draw(out)
    y = film.height + margin
    for text, colour in wrapped:
        draw.text((margin, y), text, fill=colour, font=font)
        y += line_h
    return out


def save_snapshot(image: Image.Image, path) -> None:
    """Write the PNG atomically, with no text chunks (Pillow adds none unless asked)."""
    with atomic_open(path, "wb", prefix=".snapshot-") as fh:
        image.save(fh, format="PNG")


def snapshot_name(path: str, used: set) -> str:
    """``<stem>_snapshot.png``, numbered when two inputs share a file name (never overwrite)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    name, k = f"{stem}_snapshot.png", 2
    while name in used:
        name, k = f"{stem}-{k}_snapshot.png", k + 1
    used.add(name)
    return name


def write_snapshots(results, folder, info, explain=None, reads_log=None, opacity: float = OVERLAY_OPACITY) -> int:
    """``xrayviewer predict --snapshot``: one PNG per scored input, at the image's default
    window. ``explain(image) -> heatmap`` adds the overlay (with ``--heatmap``); the reader's
    current read comes from ``reads_log`` when the file was read in the viewer."""
    os.makedirs(folder, exist_ok=True)
    used: set = set()
    n = 0
    for r in results:
        if r.prediction is None:
            continue
        image = load_image(r.path)
        read = None
        if reads_log is not None:
            read = next(iter(reads_log.current_reads([file_sha256(r.path)]).values()), None)
        heat = explain(image) if explain is not None else None
        lines = footer_lines(r.prediction, info, read.read if read else None, read.note if read else "",
                             read.reader if read else "", overlay_shown=heat is not None)
        save_snapshot(render_snapshot(image.display(), lines, heat, opacity), os.path.join(folder, snapshot_name(r.path, used)))
        n += 1
    return n
