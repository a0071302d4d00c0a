"""The local validation report's pictures as PNG bytes, drawn from the report's own figures
(matplotlib's Agg canvas: no pyplot, no Qt, safe in any process)."""

from __future__ import annotations

import io

#: Colours of the card's records on the ROC plot, by set.
SET_COLOURS = {"internal-validation": "tab:green", "external": "tab:purple", "site": "tab:brown"}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def roc_png(report: dict) -> bytes:
    """ROC of the local cases, the current operating point, and each card record's claim."""
    fig = _figure(5.2, 5.0)
    ax = fig.add_subplot()
    roc, m = report["curves"]["roc"], report["metrics"]
    ax.plot(roc["fpr"], roc["tpr"], color="tab:blue", lw=2, label=f"local cases (AUC {m['auc']['value']:.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    sens, spec = m["sensitivity"]["value"], m["specificity"]["value"]
    if sens is not None and spec is not None:
        ax.plot([1 - spec], [sens], "o", color="tab:red", ms=9,
                label=f"here, threshold {report['threshold']:.3f}: sens {sens:.2f}, spec {spec:.2f}")
    for record in report["card"]:
        s, sp = record["figures"]["sensitivity"]["card"], record["figures"]["specificity"]["card"]
        if s is None or sp is None:
            continue
        ax.plot([1 - sp], [s], "D", color=SET_COLOURS.get(record["set"], "black"), ms=8, mfc="none", mew=2,
                label=f"card, {record['set']}: sens {s:.2f}, spec {sp:.2f}")
    ax.set(xlabel="1 - specificity (false alarms among normals)", ylabel="sensitivity (pneumonia found)",
           xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), title="ROC curve")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=7.5)
    return _png(fig)


def reliability_png(report: dict) -> bytes:
    fig = _figure(5.2, 5.0)
    ax = fig.add_subplot()
    bins = [b for b in report["curves"]["reliability"] if b["count"]]
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    ax.plot([b["confidence"] for b in bins], [b["frequency"] for b in bins], "o-", color="tab:blue",
            label=f"local cases: ECE {report['metrics']['ece']['value']:.3f}")
    for b in bins:
        ax.annotate(str(b["count"]), (b["confidence"], b["frequency"]), textcoords="offset points",
                    xytext=(4, -10), fontsize=7, color="dimgrey")
    ax.set(xlabel="predicted probability of pneumonia", ylabel="observed fraction with pneumonia",
           xlim=(0, 1), ylim=(0, 1), title=f"Reliability ({report['ece_bins']} bins; n per bin)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def histograms_png(report: dict) -> bytes:
    """Probabilities of the NORMAL and PNEUMONIA cases, with the threshold line."""
    fig = _figure(10.4, 3.4)
    hist = report["curves"]["histogram"]
    edges = hist["edges"]
    width = edges[1] - edges[0]
    for k, (name, colour) in enumerate((("NORMAL", "tab:green"), ("PNEUMONIA", "tab:red"))):
        ax = fig.add_subplot(1, 2, k + 1)
        ax.bar(edges[:-1], hist[name], width=width, align="edge", color=colour, alpha=0.7, edgecolor="white")
        ax.axvline(report["threshold"], color="black", lw=2, ls="--", label=f"threshold {report['threshold']:.3f}")
        ax.set(xlim=(0, 1), xlabel="predicted probability of pneumonia", ylabel="images",
               title=f"{name} cases ({sum(hist[name])})")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    return _png(fig)
