"""render_report(): the local validation report (``local_report.build_report``'s figures) as
one self-contained HTML page: pictures and thumbnails embedded as data: URIs, no script, no
external style, font or link, so it opens offline in any browser and prints on A4/Letter."""

from __future__ import annotations

import base64
import html
import io
import os
from typing import Optional

from ..atomic import atomic_open
from ..defaults import BOOTSTRAP_RESAMPLES
from ..model.evaluations import SET_WORDS, pct
from .local_report import BELOW, CONSISTENT
from .report_plots import histograms_png, reliability_png, roc_png

THUMBNAIL_PX = 112
METRIC_NAMES = {"sensitivity": "Sensitivity (pneumonia found)", "specificity": "Specificity (normals cleared)",
                "accuracy": "Accuracy", "ppv": "PPV (a PNEUMONIA flag is right)",
                "npv": "NPV (a NORMAL flag is right)", "auc": "AUC (ROC)", "ece": "ECE (calibration error)"}

STYLE = """
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #1d1d1f; margin: 24px auto;
       max-width: 1080px; padding: 0 16px; font-size: 14px; line-height: 1.4; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 28px;
     border-bottom: 2px solid #ddd; padding-bottom: 3px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid #ccc; padding: 4px 8px;
     text-align: left; vertical-align: middle; } th { background: #f2f2f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #555; font-size: 12.5px; } .warn { background: #fff3cd; border: 1px solid #e0c060;
     padding: 6px 10px; margin: 6px 0; }
.ok { color: #17683a; font-weight: bold; } .bad { color: #b3261e; font-weight: bold; }
img.plot { max-width: 100%; border: 1px solid #ddd; margin: 4px 8px 4px 0; }
img.thumb { width: 112px; height: 112px; object-fit: contain; background: #000; display: block; }
.pics { display: flex; flex-wrap: wrap; }
section, table, img, tr { page-break-inside: avoid; break-inside: avoid; }
@media print { body { margin: 0; max-width: none; font-size: 11px; } h2 { page-break-after: avoid; }
     img.plot { max-width: 48%; } }
"""


def _e(v) -> str:
    return html.escape(str(v), quote=True)


def _value(metric: str, v: Optional[float]) -> str:
    if v is None:
        return "n/a"
    return f"{v:.3f}" if metric in ("auc", "ece") else pct(v)


def _ci(metric: str, ci) -> str:
    if not ci or None in ci:
        return "–"
    return f"{ci[0]:.3f} – {ci[1]:.3f}" if metric in ("auc", "ece") else f"{pct(ci[0])} – {pct(ci[1])}"


def _data_uri(png: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(png).decode('ascii')}"


def thumbnail_uri(path: str) -> Optional[str]:
    """A small JPEG of the film as a data: URI, or None when it cannot be read now."""
    from PIL import Image

    from ..imaging import ImageLoadError, load_image

    try:
        grey = load_image(path).display()
    except ImageLoadError:
        return None
    im = Image.fromarray(grey)
    im.thumbnail((THUMBNAIL_PX * 2, THUMBNAIL_PX * 2))  # 2x for print and HiDPI screens
    buf = io.BytesIO()
    im.convert("L").save(buf, format="JPEG", quality=80)
    return _data_uri(buf.getvalue(), "image/jpeg")


def _table(header: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class='num'>{c}</td>" if i >= numeric_from else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _identity(report: dict) -> str:
    m, c = report["model"], report["cases"]
    model_rows = [["Model", _e(m["name"])], ["Recipe", _e(m.get("recipe") or "not recorded")],
                  ["Weights SHA-256", f"<code>{_e(m['sha256_prefix'])}…</code>"], ["Model date", _e(m["created"])],
                  ["Threshold", f"{m['threshold']:.4f} (calibrated probability)"],
                  ["Operating point measured on", _e(m.get("calibrated_on") or "not recorded")]]
    case_rows = [["Folder", _e(c["root"])], ["Labels from", _e(c["source"])],
                 ["Images", f"{c['images']} ({c['negatives']} NORMAL, {c['positives']} PNEUMONIA; "
                            f"prevalence {pct(c['prevalence'])})"],
                 ["Patients", f"{c['patients']} (from the file names; one image each where names do not tell)"],
                 ["Report date", _e(c["date"])]]
    return ("<section><h2>The model and the cases</h2><div class='pics'>"
            + _table(["Model", ""], model_rows, 9) + "&nbsp;&nbsp;" + _table(["Local cases", ""], case_rows, 9)
            + "</div></section>")


def _figures(report: dict) -> str:
    m = report["metrics"]
    rows = [[_e(METRIC_NAMES[k]), _value(k, m[k]["value"]), _ci(k, m[k]["ci95"])]
            for k in ("sensitivity", "specificity", "accuracy", "ppv", "npv", "auc", "ece")]
    c = report["confusion"]
    matrix = _table(["", "called NORMAL", "called PNEUMONIA"],
                    [["NORMAL", str(c["tn"]), f"{c['fp']} false alarms"],
                     ["PNEUMONIA", f"{c['fn']} missed", str(c["tp"])]])
    return (f"<section><h2>At the model's threshold ({report['threshold']:.4f})</h2><div class='pics'>"
            + _table(["Figure", "Here", "95% interval"], rows) + "&nbsp;&nbsp;" + matrix + "</div>"
            "<p class='note'>Intervals: Wilson score intervals for rates; for AUC, 2.5-97.5 percentiles of "
            f"{BOOTSTRAP_RESAMPLES:,} "
            "bootstrap resamples of patients (all of a patient's images together). PPV and NPV are at this set's "
            f"prevalence ({pct(report['cases']['prevalence'])}); at a lower prevalence PPV is lower. "
            f"ECE: {report['ece_bins']} equal-width bins.</p></section>")


def _comparison(report: dict) -> str:
    if not report["card"]:
        return ("<section><h2>Compared with the model card</h2><p>This model's card records no figures "
                "to compare with.</p></section>")
    m = report["metrics"]
    parts = ["<section><h2>Compared with the model card</h2>"]
    for record in report["card"]:
        rows = []
        for k, row in record["figures"].items():
            v = row["verdict"]
            shown = ("–" if v is None else
                     f"<span class='{'ok' if v == CONSISTENT else 'bad' if v == BELOW else 'ok'}'>{_e(v)}</span>")
            rows.append([_e(METRIC_NAMES[k]), f"{_value(k, m[k]['value'])} ({_ci(k, m[k]['ci95'])})",
                         f"{_value(k, row['card'])} ({_ci(k, row['card_ci95'])})", shown])
        threshold = record.get("threshold")
        parts.append(f"<h3>Card: {_e(SET_WORDS.get(record['set'], record['set']))} — {_e(record['label'])}</h3>"
                     f"<p class='note'>{_e(record.get('method') or '')}"
                     + (f"; threshold {threshold:.4f}" if threshold is not None else "") + "</p>"
                     + _table(["Figure", "Here (95% interval)", "Card (95% interval)", "Verdict"], rows))
    parts.append("<p class='note'>Verdict: a figure measured here below the lower end of the card's 95% interval "
                 "is 'below the card's interval'; inside it, 'consistent with the card'. ECE has no card interval "
                 "and gets no verdict.</p></section>")
    return "".join(parts)


def _pictures(report: dict) -> str:
    pics = [(roc_png(report), "ROC curve with the current operating point (red) and the card's claims (diamonds)"),
            (reliability_png(report), "Reliability diagram"),
            (histograms_png(report), "Probabilities of each class, with the threshold")]
    imgs = "".join(f"<img class='plot' alt='{_e(alt)}' src='{_data_uri(png)}'>" for png, alt in pics)
    return f"<section><h2>Pictures</h2><div class='pics'>{imgs}</div></section>"


def _cases_table(title: str, cases: list[dict], empty: str) -> str:
    if not cases:
        return f"<section><h2>{_e(title)} (0)</h2><p>{_e(empty)}</p></section>"
    rows = []
    for c in cases:
        uri = thumbnail_uri(c["path"])
        thumb = f"<img class='thumb' alt='{_e(c['file'])}' src='{uri}'>" if uri else "(unreadable now)"
        rows.append([thumb, f"{_e(c['file'])}<br><span class='note'>{_e(c['path'])}</span>", _e(c["label"]),
                     f"{100 * c['probability']:.1f}%", "yes" if c["out_of_distribution"] else ""])
    return (f"<section><h2>{_e(title)} ({len(cases)})</h2>"
            + _table(["Film", "File", "Label", "Probability", "OOD flag"], rows, 3) + "</section>")


def _ood_and_unreadable(report: dict) -> str:
    ood = report["ood"]
    parts = [f"<section><h2>Out-of-distribution flags ({ood['count']} of {report['cases']['images']})</h2>"]
    if ood["cases"]:
        parts.append(_table(["File", "Probability", "Why"],
                            [[_e(c["file"]), f"{100 * c['probability']:.1f}%", _e(c["reason"])] for c in ood["cases"]], 1))
    else:
        parts.append("<p>No image was flagged.</p>")
    unreadable = report["unreadable"]
    parts.append(f"</section><section><h2>Unreadable files ({len(unreadable)})</h2>")
    parts.append(_table(["File", "Reason"], [[_e(u["path"]), _e(u["reason"])] for u in unreadable], 9)
                 if unreadable else "<p>Every file was read.</p>")
    return "".join(parts) + "</section>"


def render_report(report: dict) -> str:
    """The whole page as a string."""
    m, c = report["model"], report["cases"]
    warnings = "".join(f"<div class='warn'>{_e(w)}</div>" for w in report["warnings"])
    return "".join([
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Local validation: {_e(m['name'])} on {c['images']} X-rays</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Local validation of model {_e(m['name'])}</h1>",
        f"<p class='note'>XRay Viewer checked the model on {c['images']} labelled X-rays of this site on "
        f"{_e(c['date'])}. A second reader for pediatric chest X-rays, not a diagnosis.</p>",
        warnings, _identity(report), _figures(report), _comparison(report), _pictures(report),
        _cases_table("Missed pneumonias", report["misses"], "No pneumonia was missed at this threshold."),
        _cases_table("False alarms", report["false_alarms"], "No normal X-ray was called pneumonia."),
        _ood_and_unreadable(report),
        "</body></html>\n"])


def write_report(report: dict, path) -> str:
    """Render and write the page beside ``path`` first, then os.replace: a failed or
    interrupted write (full disk) leaves no half-written report. Returns the path."""
    text = render_report(report)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with atomic_open(path, "w", prefix=".report-", encoding="utf-8") as fh:
        fh.write(text)
    return path
