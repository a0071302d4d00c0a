"""The model card: what a model is for, what it was trained on, how well it did on its
validation split (with patient-level bootstrap intervals), its operating point, and where it
fails. Built from a bundle's metadata plus fixed text on population, scope and intended use.

``model_card_text`` feeds ``xrayviewer model-info``; ``model_card_markdown`` the same content
for model_weights/README.md. Plain Python and numpy: no TensorFlow.
"""

from __future__ import annotations

from typing import Optional

from ..defaults import BOOTSTRAP_RESAMPLES, OLD_BUNDLE_SENSITIVITY_TARGET
from . import evaluations
from .bundle import ModelInfo
from .metrics import ECE_BINS

INTENDED_USE = [
    "A second reader for frontal (AP/PA) chest radiographs of young children: after a clinician "
    "has read the film, it gives a probability of pneumonia, a NORMAL/PNEUMONIA flag at the "
    "threshold below, and a Grad-CAM heatmap of where the network found its evidence.",
    "It does NOT diagnose. It must not be used to rule pneumonia in or out, to triage without a "
    "clinician, or as the only reader. It is a research and teaching tool, not a certified "
    "medical device.",
]

POPULATION = [
    "Data: 'Chest X-Ray Images (Pneumonia)', Kermany, Zhang and Goldbaum, Mendeley Data v2 (2018), "
    "doi:10.17632/rscbjbr9sj.2, CC BY 4.0; Kermany et al., Cell 172(5):1122-1131 (2018).",
    "Population: pediatric patients aged 1 to 5 years, anterior-posterior chest radiographs from one "
    "hospital, Guangzhou Women and Children's Medical Center (Guangzhou, China), taken as part of "
    "routine clinical care. Labels NORMAL / PNEUMONIA (bacterial and viral pooled), graded by two "
    "physicians and checked by a third on the evaluation set.",
    "Out of scope: adults; other hospitals, countries, scanners or acquisition protocols; lateral "
    "views; neonates and older children; CT, ultrasound or any other modality; other body parts. "
    "On such images the model's figures below do not apply and it has never been measured.",
]

FAILURE_MODES = [
    "Other findings are invisible to it: the model knows only NORMAL vs PNEUMONIA. Effusion, "
    "pneumothorax, masses, foreign bodies, line and tube positions, cardiac disease and COVID-19 "
    "are not detected; any abnormality may be called PNEUMONIA or NORMAL.",
    "It does not separate bacterial from viral pneumonia, and sees a 128 x 128 pixel version of the "
    "film: small or subtle opacities can be missed.",
    "The threshold is chosen for sensitivity (>= {target} on {threshold_set}), not for balanced accuracy: it "
    "accepts false alarms to miss fewer pneumonias, and on films unlike those both "
    "kinds of error grow. A PNEUMONIA flag means 'look again', not 'pneumonia'; a NORMAL flag does "
    "not rule pneumonia out.",
    "Probabilities are calibrated to {calibration_set}, where {prevalence} of films show "
    "pneumonia. At the lower prevalence of most clinical settings a given probability overstates "
    "the chance of pneumonia, and the positive predictive value is much lower.",
    "Single-centre data invite shortcuts: a network can learn acquisition differences between the "
    "classes (exposure, cropping, text markers) instead of lung findings; this has not been ruled "
    "out for this model. The dataset's own test split, whose normals are harder, is known to score lower than a validation "
    "split carved from training data; expect figures below to be optimistic for new data.",
    "The out-of-distribution warning catches gross mismatches (photos, documents, screenshots, "
    "blank or noise images, colour pictures, rotated or inverted films, other modalities) but not "
    "every subtle shift (another hospital, an adult film may pass). A DICOM's own header adds to it: "
    "a stated age outside 1-5 years, a lateral view, another body part or modality is flagged too; "
    "JPEG and PNG files carry no such facts. No warning does not mean the image is in scope.",
    "Grad-CAM maps are coarse (16 x 16 cells over the film) and show where the network's evidence "
    "for pneumonia lies, not a lesion outline; they can highlight markers, edges or devices.",
]


def kept_weights_text(training: dict) -> str:
    """Which weights a bundle holds, in words, from its metadata's ``training`` record.
    Bundles saved before weight averaging existed kept their best-validation epoch."""
    kept = training.get("kept") or {}
    if kept.get("rule") == "weight-mean":
        first, last = kept["epochs"]
        return f"mean of epochs {first}-{last}" if first != last else f"epoch {last}"
    if kept.get("rule") == "cycle-end-mean":
        return "mean of the learning-rate cycles' last epochs (" + ", ".join(map(str, kept["epochs"])) + ")"
    return f"best: epoch {training.get('best_epoch', '?')}"


def _sections(info: ModelInfo) -> list[tuple[str, list[str]]]:
    m = info.meta
    split = m.get("split", {})
    training = m.get("training", {})
    data = m.get("data", {})
    sections: list[tuple[str, list[str]]] = []

    sections.append(("Intended use", list(INTENDED_USE)))
    sections.append(("Data and population", list(POPULATION)))

    model_lines = [
        f"Recipe: {m.get('recipe', '?')} - {m.get('recipe_description', '')}".rstrip(" -"),
        f"Input: {m.get('input_shape')} ({m.get('preprocessing')}); created {m.get('created', '?')} "
        f"with XRay Viewer {m.get('app_version', '?')}.",
    ]
    if training:
        model_lines.append(f"Training: {training.get('params', '?'):,} weights, {training.get('epochs_run', '?')} "
                           f"epochs run (weights kept: {kept_weights_text(training)}), seed {training.get('seed', '?')}."
                           if isinstance(training.get("params"), int) else
                           f"Training: {training.get('epochs_run', '?')} epochs, seed {training.get('seed', '?')}.")
    if data:
        model_lines.append(f"Training folder: {data.get('files', '?')} files ({data.get('used_files', '?')} used), "
                           f"file list sha256 {str(data.get('list_sha256', '?'))[:16]}...")
    if split:
        model_lines.append(f"Split: {split.get('method', '?')}, seed {split.get('seed', '?')}: "
                           f"{split.get('train_images', '?')} training images ({split.get('train_patients', '?')} "
                           f"patients), {split.get('val_images', '?')} validation images "
                           f"({split.get('val_patients', '?')} patients); no patient on both sides.")
    if m.get("command"):
        model_lines.append(f"Command: {m['command']}")
    sections.append(("Model", model_lines))

    if m.get("evaluations"):
        sections.append(("Performance, and where it was measured", _evaluation_lines(m)))
    else:
        sections.append(("Validation performance", _metrics_lines(info)))
    sections.append(("Operating point", _operating_lines(info)))
    sections.append(("Calibration", _calibration_lines(m)))
    if m.get("site_calibration"):
        sections.append(("Calibration record", _site_lines(m)))
    sections.append(("Out-of-distribution warning", _ood_lines(m)))
    fitted = (m.get("operating_points") or {}).get("measured_on")
    words = {"target": _target(m), "prevalence": _prevalence(m),
             "threshold_set": fitted or "validation", "calibration_set": fitted or "the validation split"}
    sections.append(("Known failure modes and limitations", [line.format(**words) for line in FAILURE_MODES]))
    return sections


_NAMES = {"auc": "AUC (ROC)", "sensitivity": "Sensitivity", "specificity": "Specificity", "accuracy": "Accuracy",
          "ppv": "PPV", "npv": "NPV", "ece": f"ECE ({ECE_BINS} bins)"}


def _evaluation_lines(m: dict) -> list[str]:
    """Every evaluation record, the headline first, each naming its set, size and method."""
    first = evaluations.headline(m)
    lines = []
    for record in ([first] if first else []) + evaluations.others(m):
        role = "Headline" if record is first else "Beside it"
        lines += [f"{role}: {evaluations.sentence(record)}",
                  f"{record['images']} images ({record['negatives']} NORMAL, {record['positives']} PNEUMONIA)"
                  + (f" from {record['patients']} patients" if record.get("patients") else "")
                  + f"; threshold {record['threshold']:.4f}; {record['method']}; measured {record['date']}.", ""]
        for key in ("sensitivity", "specificity", "accuracy", "auc", "ppv", "npv", "ece"):
            v = (record.get("metrics") or {}).get(key)
            if not v or v.get("value") is None:
                continue
            ci = v.get("ci95")
            if key in ("auc", "ece"):
                shown, ci_text = f"{v['value']:.3f}", (f"(95% CI {ci[0]:.3f} - {ci[1]:.3f})" if ci else "")
            else:
                shown, ci_text = evaluations.pct(v["value"]), (f"(95% CI {evaluations.pct(ci[0])} - {evaluations.pct(ci[1])})" if ci else "")
            lines.append(f"  {_NAMES[key]:<14} {shown:>7}  {ci_text}")
        c = record.get("confusion")
        if c:
            lines.append(f"  Confusion: {c['tp']} true positives, {c['fn']} missed pneumonias, {c['tn']} true "
                         f"negatives, {c['fp']} false alarms.")
        lines.append("")
    lines.append(f"Intervals: Wilson score intervals for rates; AUC: bootstrap over patients ({BOOTSTRAP_RESAMPLES:,} resamples). "
                 "PPV and NPV hold at each set's own prevalence. Cross-validated figures come from cases the "
                 "calibration and threshold were not fitted on.")
    return lines


def _site_lines(m: dict) -> list[str]:
    sc = m["site_calibration"]
    cases = sc.get("cases") or {}
    lines = [f"Base model {sc.get('base_model', '?')} (weights sha256 {str(sc.get('base_sha256', '?'))[:16]}..., "
             "unchanged: only calibration and threshold were refitted).",
             f"Fitted on {sc.get('date', '?')} on {cases.get('images', '?')} cases ({cases.get('negatives', '?')} "
             f"NORMAL, {cases.get('positives', '?')} PNEUMONIA, {cases.get('patients', '?')} patients) from "
             f"{cases.get('root', '?')} ({cases.get('source', '?')}); file list sha256 "
             f"{str(cases.get('list_sha256', '?'))[:16]}....",
             f"Rule: {sc.get('rule', '?')}. Figures claimed from {sc.get('folds', 5)}-fold cross-validation over "
             f"patients (fold seed {sc.get('fold_seed', 0)})."]
    if sc.get("command"):
        lines.append(f"Command: {sc['command']}")
    return lines


def _target(m: dict) -> str:
    """The threshold rule's sensitivity target, as recorded (older bundles: the rule of their time)."""
    return f"{float((m.get('config') or {}).get('sensitivity_target', OLD_BUNDLE_SENSITIVITY_TARGET)):.0%}"


def _prevalence(m: dict) -> str:
    """The share of pneumonia in the set the probabilities were calibrated to."""
    table = m.get("operating_points") or {}
    if table.get("measured_on") and table.get("positives") is not None:
        return evaluations.pct(table["positives"] / max(1, table["positives"] + table.get("negatives", 0)))
    card = m.get("validation_card")
    if card and card.get("images"):
        return evaluations.pct(card["positives"] / card["images"])
    v = m.get("validation") or {}
    n = v.get("n")
    if n:
        return evaluations.pct((v.get("tp", 0) + v.get("fn", 0)) / n)
    return "about three quarters (the dataset's share)"



def _metrics_lines(info: ModelInfo) -> list[str]:
    m = info.meta
    card = m.get("validation_card")
    if card:
        b = card.get("bootstrap", {})
        lines = [f"On the patient-level validation split: {card['images']} images from {card.get('patients', '?')} "
                 f"patients ({card['negatives']} NORMAL, {card['positives']} PNEUMONIA), at threshold "
                 f"{card['threshold']:.4f}. 95% intervals: bootstrap over patients "
                 f"({b.get('resamples', '?')} resamples, percentile); a rate with no errors at all gets the "
                 "exact (Clopper-Pearson) interval instead, since every resample would repeat it.", ""]
        names = {"auc": "AUC (ROC)", "sensitivity": "Sensitivity", "specificity": "Specificity",
                 "accuracy": "Accuracy"}
        for key in ("auc", "sensitivity", "specificity", "accuracy"):
            v = card["metrics"].get(key, {})
            lo, hi = (v.get("ci95") or [None, None])
            ci = f"(95% CI {evaluations.pct(lo)} - {evaluations.pct(hi)})" if lo is not None and hi is not None else ""
            value = v.get("value")
            shown = "n/a" if value is None else (f"{value:.3f}" if key == "auc" else evaluations.pct(value))
            if key == "auc" and lo is not None and hi is not None:
                ci = f"(95% CI {lo:.3f} - {hi:.3f})"
            lines.append(f"  {names[key]:<12} {shown:>7}  {ci}")
        c = card.get("confusion")
        if c:
            lines.append(f"  Confusion: {c['tp']} true positives, {c['fn']} missed pneumonias, {c['tn']} true "
                         f"negatives, {c['fp']} false alarms.")
        lines.append("Validation images come from the same hospital and period as the training images; "
                     "expect lower figures elsewhere.")
        return lines
    v = m.get("validation")
    if not v:
        return ["No validation figures recorded in this model's metadata."]
    return [f"On the validation split ({v.get('n', '?')} images) at threshold {v.get('threshold', 0):.4f}: "
            f"AUC {v.get('auc', float('nan')):.3f}, sensitivity {evaluations.pct(v.get('sensitivity'))}, specificity "
            f"{evaluations.pct(v.get('specificity'))}, accuracy {evaluations.pct(v.get('accuracy'))}.",
            "No confidence intervals recorded (model made before they were); "
            "`xrayviewer evaluate DATASET --split validation --bootstrap` computes them."]


def _operating_lines(info: ModelInfo) -> list[str]:
    m = info.meta
    lines = [f"Threshold {info.threshold:.4f} on the calibrated probability: "
             f"{m.get('threshold_rule', 'rule not recorded')}."]
    op = info.operating_point()
    if op is None:
        return lines + ["No validation ROC stored: expected sensitivity/specificity unknown."]
    table_set = (m.get("operating_points") or {}).get("measured_on")
    where = f"on the {table_set} the threshold was chosen on" if table_set else "validation"
    lines.append(f"At this threshold ({where}): sensitivity {evaluations.pct(op[0])}, specificity {evaluations.pct(op[1])}."
                 + (" Fitted on these same cases; the cross-validated figures above are the ones to expect."
                    if table_set else ""))
    lines.append(f"Other operating points on the same ROC ({table_set or 'validation'}; the app can look up any threshold):")
    for target in (0.90, 0.95, 0.98, 0.99):
        t = info.threshold_for_sensitivity(target)
        if t is None:
            continue
        s, sp = info.operating_point(t)
        lines.append(f"  for sensitivity >= {target:.0%}: threshold {t:.4f}  -> sensitivity {evaluations.pct(s)}, "
                     f"specificity {evaluations.pct(sp)}")
    return lines


def _calibration_lines(m: dict) -> list[str]:
    cal = m.get("calibration")
    if not cal:
        return ["Not calibrated: probabilities are the network's raw outputs."]
    shift = cal.get("shift", 0.0) or 0.0
    if cal.get("method") == "platt":
        lines = [f"Platt scaling on the network's logit (temperature and intercept, weights unchanged), fitted on "
                 f"{cal.get('fitted_on', '?')}: T = {cal.get('temperature', 1.0):.3f}, intercept {shift:+.3f}."]
        if cal.get("cross_validated_ece") is not None:
            lines.append(f"Expected calibration error ({cal.get('bins', 15)} bins) on those cases, cross-validated "
                         f"over patients (never measured on the cases it was fitted on): {cal['cross_validated_ece']:.4f}.")
        return lines
    lines = [f"Temperature scaling fitted on the validation split: T = {cal.get('temperature', 1.0):.3f}"
             + (f", with prior correction {shift:+.3f} on the logit ({cal.get('shift_rule', '')})" if shift else "")
             + "."]
    before, after = cal.get("validation_ece_before"), cal.get("validation_ece_after")
    if before is not None and after is not None:
        lines.append(f"Expected calibration error ({cal.get('bins', 15)} bins) on validation: {before:.4f} before, "
                     f"{after:.4f} after. Both numbers are measured on the data T was fitted on, so the "
                     "'after' figure is optimistic.")
    return lines


def _ood_lines(m: dict) -> list[str]:
    ood = m.get("ood")
    if not ood:
        return ["No out-of-distribution statistics stored: only colour pictures are flagged."]
    rate = ood.get("flag_rate_on_validation")
    target = ood.get("flag_rate_target", rate)
    return [f"Method: {ood.get('method', '?')}; fitted on the training split, threshold "
            f"{ood.get('threshold', float('nan')):.3f} set so that {evaluations.pct(target)} of real validation X-rays are "
            f"flagged (measured: {evaluations.pct(rate)}). Colour pictures are flagged as well.",
            "A flagged image gets a probability all the same, but it should not be trusted."]


def model_card_text(info: ModelInfo) -> str:
    """The card as plain text (``xrayviewer model-info``)."""
    import textwrap

    out = [f"MODEL CARD: {info.name}" + ("  (bundled)" if info.is_bundled else ""), "=" * 72]
    for title, lines in _sections(info):
        out += ["", title.upper()]
        for line in lines:
            if line.startswith("  ") or not line:
                out.append(line)
            else:
                out += textwrap.wrap(line, 96, initial_indent="- ", subsequent_indent="  ")
    return "\n".join(out)


def model_card_markdown(info: ModelInfo, title: Optional[str] = None) -> str:
    """The same card in Markdown (for model_weights/README.md)."""
    out = [f"# {title or 'Model card: ' + info.name}", ""]
    for heading, lines in _sections(info):
        out += [f"## {heading}", ""]
        block = []
        for line in lines:
            if line.startswith("  "):
                block.append(line)
                continue
            if block:
                out += ["", "```", *block, "```", ""]
                block = []
            if line:
                out.append(f"- {line}")
        if block:
            out += ["", "```", *block, "```"]
        out.append("")
    return "\n".join(out).rstrip() + "\n"
