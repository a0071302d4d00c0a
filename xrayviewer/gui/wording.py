"""What the model's opinion says, in plain words. Pure functions (no Qt), so the wording a
radiologist reads is tested directly against fake predictions."""

from __future__ import annotations

import math
import os
from typing import Optional

from ..model.reasons import GENERAL_KINDS

DISCLAIMER = ("A second reader for pediatric chest X-rays, not a diagnosis. "
              "The radiologist's reading decides.")
SUGGESTS = "Suggests pneumonia"
NOT_SUGGESTED = "No pneumonia suggested"
OOD_WARNING = ("This image is unlike the pediatric chest X-rays the model was trained on; "
               "the probability is unreliable.")


def percent(probability: Optional[float]) -> str:
    """A probability as a whole percentage; the panel shows no false precision."""
    if probability is None:
        return "–"
    rounded = math.floor(100.0 * float(probability) + 0.5)  # half up, not Python's half-even
    # "0%" or "100%" would read as certainty the calibrated model never has.
    if rounded < 1:
        return "<1%"
    if rounded > 99:
        return ">99%"
    return f"{rounded}%"


def threshold_caption(threshold: Optional[float]) -> str:
    """The caption under the probability bar, naming its white mark ("" without a model)."""
    return "" if threshold is None else f"Threshold {percent(threshold)} (white mark)"


def is_positive(prediction) -> bool:
    return prediction.probability >= prediction.threshold


def verdict(prediction) -> str:
    return SUGGESTS if is_positive(prediction) else NOT_SUGGESTED


def panel_verdict(prediction) -> str:
    """The panel's headline. On an image the model is not fit to read, the caveat comes first:
    a bare "No pneumonia suggested" in the largest words on screen, even greyed, reads as a
    result on a 62-year-old's film."""
    if prediction.out_of_distribution:
        return f"Unreliable for this image (its reading: {verdict(prediction).lower()})"
    return verdict(prediction)


def near_threshold_note(prediction) -> str:
    if not prediction.near_threshold:
        return ""
    return (f"Near the model's threshold of {percent(prediction.threshold)}: "
            "a borderline result, read it as uncertain.")


def ood_warning(prediction) -> str:
    if not prediction.out_of_distribution:
        return ""
    # The general sentence already says "unlike the training X-rays"; name only other causes.
    extra = [r.text for r in prediction.reasons if r.kind not in GENERAL_KINDS]
    return OOD_WARNING + (f" (Detected: {'; '.join(extra)}.)" if extra else "")


def operating_point_text(info) -> str:
    """Sensitivity and specificity at the model's threshold, naming the set (and its size)
    they were measured on: the headline evaluation record first, the others beside it."""
    if info is None:
        return ""
    from ..model import evaluations

    meta = getattr(info, "meta", None) or {}
    first = evaluations.headline(meta)
    if first is not None:
        if first["set"] == "site":
            text = (f"Site-calibrated on {first['images']} local X-rays, {first.get('date', '')}. At its threshold of "
                    f"{percent(info.threshold)}, cross-validated on them, it {evaluations.findings(first)}.")
        else:
            text = f"On {first['label']}, at its threshold of {percent(info.threshold)}: {evaluations.findings(first)}."
        rest = [r for r in evaluations.others(meta) if r.get("threshold") is None
                or abs(float(r["threshold"]) - float(info.threshold)) < 1e-6]
        return " ".join([text] + [evaluations.sentence(r, with_intervals=False) for r in rest])
    point = info.operating_point()
    if point is None:
        return f"Threshold {percent(info.threshold)}. This model recorded no validation operating point."
    sens, spec = point
    return (f"At its threshold of {percent(info.threshold)} the model found "
            f"{evaluations.pct(sens, 0)} of pneumonia cases (sensitivity) and cleared "
            f"{evaluations.pct(spec, 0)} of normal X-rays (specificity) on its internal validation split (size not recorded).")


def model_text(info) -> str:
    if info is None:
        return "No model loaded"
    version = info.meta.get("app_version")
    return f"Model: {info.display_name}" + (f", made with XRay Viewer {version}" if version else "")


#: Every verdict a worklist row can show (the worklist sizes its column to fit them all).
#: An unreadable file says so in one word; why is in its tooltip and the image facts (the
#: message itself, elided to the column, read "notes.…DICOM.").
UNRELIABLE, BORDERLINE, POSITIVE_SHORT, NEGATIVE_SHORT, UNREADABLE = WORKLIST_VERDICTS = (
    "Unreliable", "Borderline", "Pneumonia?", "No pneumonia", "Unreadable")


def worklist_verdict(prediction) -> str:
    """One or two words for a worklist row; the panel and the row's tooltip give the long form.
    A caveat replaces the verdict, since it is what the reader must see first."""
    if prediction.out_of_distribution:
        return UNRELIABLE
    if prediction.near_threshold:
        return BORDERLINE
    return POSITIVE_SHORT if is_positive(prediction) else NEGATIVE_SHORT


def worklist_tooltip(prediction) -> str:
    lines = [f"{verdict(prediction)} ({percent(prediction.probability)}; threshold {percent(prediction.threshold)})"]
    lines += [t for t in (near_threshold_note(prediction), ood_warning(prediction)) if t]
    return "\n".join(lines)


def count(n: int, noun: str, plural: str = "") -> str:
    """"1 image", "2 images": no "image(s)" in a sentence a reader sees."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


def opened_status(new: int, already: int, total: int) -> str:
    """The status line after an open."""
    if new == 0 and already:
        head = f"{count(already, 'image')} already in the worklist"
    else:
        head = f"Opened {count(new, 'new image')}" + (f" ({already} already listed)" if already else "")
    return f"{head}; {count(total, 'image')} in the worklist."


def loading_model(what: str) -> str:
    """"Loading the bundled model…", "Loading model pneu-v2.keras…" (the service names the
    bundled one "the bundled model", a file by its path)."""
    if not what:
        return "Loading model…"
    if what.startswith("the "):
        return f"Loading {what}…"
    name = os.path.basename(what.rstrip("/\\")) or what
    return f"Loading model {name}…"


def dicom_date(value: str) -> str:
    """A DICOM DA value (YYYYMMDD) as a reader writes it, 1901-01-01; anything else as it came."""
    v = (value or "").strip()
    if len(v) == 8 and v.isdigit():
        return f"{v[:4]}-{v[4:6]}-{v[6:]}"
    return v


def human_size(num_bytes: int) -> str:
    size = float(num_bytes)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def duration(seconds: Optional[float]) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
