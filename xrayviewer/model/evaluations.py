"""Evaluation records: where a model's figures were measured, stored in its metadata.

The contract (written by site calibration, read by the model card, ``model-info`` and the
opinion panel): ``meta["evaluations"]`` is a list of records

    {"set": "internal-validation" | "external" | "site",
     "label": words for a reader, with the count,
     "images", "positives", "negatives": int, "patients": int or None,
     "threshold": float, "method": how the figures were obtained, "date": "YYYY-MM-DD",
     "metrics": {name: {"value": float, "ci95": [lo, hi] or None}}}

with metric names sensitivity, specificity, accuracy, auc, ece, ppv, npv; and
``meta["headline_evaluation"]`` names the set stated first. Bundles from before the contract
fall back to ``validation_card`` (internal validation), read here into the same shape, so
readers handle one form. Plain Python: no numpy, no Keras.
"""

from __future__ import annotations

from typing import Optional

SETS = ("internal-validation", "external", "site")
METRICS = ("sensitivity", "specificity", "accuracy", "auc", "ece", "ppv", "npv")

#: What each set is, in words, for labels and headings.
SET_WORDS = {"internal-validation": "internal validation", "external": "external validation",
             "site": "site validation"}


def evaluations(meta: dict) -> list[dict]:
    """Every record of a bundle, the legacy validation card read as an internal one."""
    records = [r for r in (meta.get("evaluations") or []) if isinstance(r, dict) and r.get("set") in SETS]
    if not any(r["set"] == "internal-validation" for r in records):
        legacy = _from_validation_card(meta)
        if legacy is not None:
            records.append(legacy)
    return records


def find(meta: dict, set_name: str) -> Optional[dict]:
    return next((r for r in evaluations(meta) if r["set"] == set_name), None)


def headline(meta: dict) -> Optional[dict]:
    """The record the panel states first: the one ``headline_evaluation`` names, else the
    internal validation (old bundles), else none."""
    records = evaluations(meta)
    wanted = meta.get("headline_evaluation")
    chosen = next((r for r in records if r["set"] == wanted), None)
    return chosen or next((r for r in records if r["set"] == "internal-validation"), None)


def others(meta: dict) -> list[dict]:
    """The records after the headline, in contract order of sets."""
    first = headline(meta)
    rest = [r for r in evaluations(meta) if first is None or r["set"] != first["set"]]
    return sorted(rest, key=lambda r: SETS.index(r["set"]))


def value(record: Optional[dict], metric: str) -> Optional[float]:
    if not record:
        return None
    v = (record.get("metrics") or {}).get(metric) or {}
    return v.get("value")


def interval(record: Optional[dict], metric: str) -> Optional[tuple[float, float]]:
    if not record:
        return None
    ci = ((record.get("metrics") or {}).get(metric) or {}).get("ci95")
    return (float(ci[0]), float(ci[1])) if ci and None not in ci else None


def pct(v: Optional[float], digits: int = 1) -> str:
    """A rate as a reader sees it ('97.3%'); 'n/a' when it could not be measured. The card,
    the report and the CLI use it, so one figure reads the same everywhere.

    Rounding never claims a perfect rate that was not measured: 201 of 202 normals cleared
    reads '99.5%', not '100%' (likewise '0.5%', not '0%'); more digits are shown only then."""
    if v is None:
        return "n/a"
    x = 100 * float(v)
    text = f"{x:.{digits}f}"
    while digits < 3 and ((float(text) == 100 and x < 100) or (float(text) == 0 and x > 0)):
        digits += 1
        text = f"{x:.{digits}f}"
    return f"{text}%"


def findings(record: dict, with_intervals: bool = True) -> str:
    """'found 97% of pneumonia (95% CI 94-99%), cleared 77% of normals (95% CI 68-83%)'."""
    parts = []
    for metric, verb, what in (("sensitivity", "found", "of pneumonia"), ("specificity", "cleared", "of normals")):
        text = f"{verb} {pct(value(record, metric), 0)} {what}"
        ci = interval(record, metric) if with_intervals else None
        if ci:
            text += f" (95% CI {100 * ci[0]:.0f}-{100 * ci[1]:.0f}%)"
        parts.append(text)
    return ", ".join(parts)


def sentence(record: dict, with_intervals: bool = True) -> str:
    """'On 299 independent X-rays from the same hospital (external validation): found 97% of
    pneumonia (95% CI 94-99%), cleared 77% of normals (95% CI 68-83%).' A record for a reader."""
    return f"On {record['label']}: {findings(record, with_intervals)}."


def make_label(set_name: str, images: int, described_as: str) -> str:
    """'299 independent X-rays from the same hospital (external validation)'."""
    return f"{images} {described_as} ({SET_WORDS[set_name]})"


def _from_validation_card(meta: dict) -> Optional[dict]:
    card = meta.get("validation_card")
    if not card or not card.get("images"):
        return None
    metrics = {k: {"value": v.get("value"), "ci95": v.get("ci95")} for k, v in (card.get("metrics") or {}).items()}
    if card.get("ece_after") is not None:
        metrics["ece"] = {"value": card["ece_after"], "ci95": None}
    split = meta.get("split") or {}
    return {"set": "internal-validation",
            "label": make_label("internal-validation", int(card["images"]),
                                "X-rays of patients held out from the training folder"),
            "images": int(card["images"]), "positives": int(card.get("positives", 0)),
            "negatives": int(card.get("negatives", 0)), "patients": card.get("patients"),
            "threshold": float(card.get("threshold", meta.get("threshold", 0.5))),
            "method": f"held-out split ({split.get('method', 'patient-level')})",
            "date": str(meta.get("created", ""))[:10], "metrics": metrics}
