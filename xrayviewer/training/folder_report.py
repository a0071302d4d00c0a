"""evaluate_folder()'s report for people: the text ``xrayviewer evaluate`` prints
(format_report) and the ROC and reliability plots (write_plots). Plots are drawn with
matplotlib's Agg canvas (no pyplot, no Qt, no global backend switch: safe inside the GUI
process too).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..model.metrics import ECE_BINS, confusion, expected_calibration_error, reliability_bins, roc_auc, roc_curve


def write_plots(labels, probs, raw_probs, threshold: float, folder, title: str = "") -> dict[str, str]:
    """roc.png and reliability.png in ``folder``; returns their paths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    y = np.asarray(labels).astype(int)
    p = np.asarray(probs, dtype=np.float64)
    raw = np.asarray(raw_probs, dtype=np.float64)

    fig = Figure(figsize=(5.5, 5.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    fpr, tpr, _ = roc_curve(y, p)
    ax.plot(fpr, tpr, color="tab:blue", lw=2, label=f"ROC (AUC {roc_auc(y, p):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    tn, fp, fn, tp = confusion(y, p, threshold)
    sens = tp / (tp + fn) if tp + fn else float("nan")
    spec = tn / (tn + fp) if tn + fp else float("nan")
    ax.plot([1 - spec], [sens], "o", color="tab:red", ms=8,
            label=f"threshold {threshold:.3f}: sens {sens:.3f}, spec {spec:.3f}")
    ax.set(xlabel="1 - specificity (false positive rate)", ylabel="sensitivity (true positive rate)",
           xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), title=f"ROC  {title}  (n={y.size})")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    roc_path = folder / "roc.png"
    fig.savefig(roc_path)

    fig = Figure(figsize=(6, 7), dpi=100)
    FigureCanvasAgg(fig)
    ax, axh = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    for values, name, colour in ((raw, "before (network)", "tab:orange"), (p, "after (temperature)", "tab:blue")):
        bins = [b for b in reliability_bins(y, values, ECE_BINS) if b["count"]]
        ece = expected_calibration_error(y, values, ECE_BINS)
        ax.plot([b["confidence"] for b in bins], [b["frequency"] for b in bins], "o-", color=colour,
                label=f"{name}: ECE {ece:.3f}")
        axh.hist(values, bins=ECE_BINS, range=(0, 1), histtype="step", color=colour, lw=1.5)
    ax.set(ylabel="observed fraction with pneumonia", xlim=(0, 1), ylim=(0, 1),
           title=f"Reliability ({ECE_BINS} bins)  {title}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    axh.set(xlabel="predicted probability of pneumonia", ylabel="images")
    axh.set_yscale("log")
    fig.tight_layout()
    rel_path = folder / "reliability.png"
    fig.savefig(rel_path)
    return {"roc": str(roc_path), "reliability": str(rel_path)}


def format_report(report: dict) -> str:
    """The report as text for people."""
    m, d = report["model"], report["dataset"]
    c = report["confusion"]
    ci = report.get("ci95", {})

    def metric(name, key):
        v = report[key]
        text = "n/a" if v is None else f"{v:.4f}"
        if key in ci and None not in ci[key]:
            text += f"  (95% CI {ci[key][0]:.4f}-{ci[key][1]:.4f})"
        return f"  {name:<12} {text}"

    lines = [
        f"Model {m['name']} ({m['recipe']}), threshold {m['threshold']:.4f}, temperature {m['temperature']:.3f}"
        + (f", prior shift {m['shift']:+.3f}" if m.get("shift") else ""),
        f"Data  {d['root']} ({d['layout']} layout), split '{d['split']}': {report['n']} images "
        f"({report['negatives']} NORMAL, {report['positives']} PNEUMONIA) from {d['patients']} patients",
        "",
        metric("accuracy", "accuracy"), metric("AUC", "auc"), metric("sensitivity", "sensitivity"),
        metric("specificity", "specificity"),
    ]
    exp = report.get("expected_on_validation")
    if exp:
        where = report.get("expected_measured_on") or "validation"
        lines.append(f"  (expected at this threshold from {where}: sensitivity {exp['sensitivity']:.4f}, "
                     f"specificity {exp['specificity']:.4f})")
    if ci:
        lines.append(f"  CIs: {report.get('ci95_method', '')}")
    lines += [
        "",
        "  confusion       predicted NORMAL  predicted PNEUMONIA",
        f"  NORMAL          {c['tn']:>16}  {c['fp']:>19}",
        f"  PNEUMONIA       {c['fn']:>16}  {c['tp']:>19}",
        "",
        f"  calibration: ECE ({report['ece_bins']} bins) before {_fmt(report['ece_before'])}  "
        f"after {_fmt(report['ece_after'])}",
        f"  out-of-distribution warnings: {report['ood_flagged']} of {report['n']} ({100 * (report['ood_flag_rate'] or 0):.1f}%)",
    ]
    if report["unreadable"]:
        lines.append(f"  unreadable files skipped: {len(report['unreadable'])}")
        lines += [f"    {os.path.basename(u['path'])}: {u['reason']}" for u in report["unreadable"][:10]]
        if len(report["unreadable"]) > 10:
            lines.append(f"    ... and {len(report['unreadable']) - 10} more")
    if report.get("plots"):
        lines.append("  plots: " + ", ".join(report["plots"].values()))
    for w in report["warnings"]:
        lines.append(f"  WARNING: {w}")
    return "\n".join(lines)


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.4f}"
