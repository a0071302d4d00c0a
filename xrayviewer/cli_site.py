"""The site commands of the `xrayviewer` CLI: ``evaluate --report/--labels`` (the local
validation report) and ``calibrate`` (a site calibration). Kept apart from cli.py, which
only parses and dispatches; both call the same ``training`` functions as the window."""

from __future__ import annotations

import json
import sys

from .model.evaluations import pct

EXIT_OK, EXIT_CANCELLED = 0, 130



def figures_line(metrics: dict) -> str:
    """'sensitivity 97.3% (93.8-98.8%), specificity ...' for a record's metrics."""
    parts = []
    for key in ("sensitivity", "specificity", "accuracy"):
        m = metrics[key]
        ci = m.get("ci95")
        parts.append(f"{key} {pct(m['value'])}" + (f" ({pct(ci[0])}-{pct(ci[1])})" if ci else ""))
    auc, ece = metrics["auc"], metrics["ece"]
    parts.append(f"AUC {auc['value']:.3f}" + (f" ({auc['ci95'][0]:.3f}-{auc['ci95'][1]:.3f})" if auc.get("ci95") else ""))
    parts.append(f"ECE {ece['value']:.3f}")
    return ", ".join(parts)


def local_report_command(args, load_predictor, progress, user_error) -> int:
    """``evaluate LOCAL_DIR --report FILE [--labels CSV] [--format json]``."""
    from .training import DatasetError
    from .training.local_report import evaluate_local
    from .training.report_html import write_report

    predictor = load_predictor(args.model)
    try:
        report = evaluate_local(predictor, args.dataset, labels_csv=args.labels, on_progress=progress)
    except DatasetError as exc:
        raise user_error(str(exc)) from None
    if args.report:
        try:
            write_report(report, args.report)
        except OSError as exc:
            raise user_error(f"The report could not be written to {args.report}: {exc.strerror or exc}") from None
    if args.format == "json":
        print(json.dumps(report, indent=2))
        return EXIT_OK
    c = report["cases"]
    print(f"\nModel {report['model']['name']} on {c['images']} images ({c['negatives']} NORMAL, "
          f"{c['positives']} PNEUMONIA) from {c['patients']} patients, threshold {report['threshold']:.4f}:")
    print("  " + figures_line(report["metrics"]))
    for record in report["card"]:
        verdicts = ", ".join(f"{k} {row['verdict']}" for k, row in record["figures"].items() if row["verdict"])
        print(f"  against the card ({record['label']}): {verdicts}")
    for w in report["warnings"]:
        print(f"  WARNING: {w}")
    if args.report:
        print(f"Report written to {args.report}")
    return EXIT_OK


def calibrate_command(args, progress, user_error) -> int:
    """``calibrate LOCAL_DIR --name NAME [--model BASE] [--sensitivity-target S] [--out DIR] ...``."""
    import shlex

    from .model import ModelLoadError, ModelSaveError
    from .progress import CancelFlag, Cancelled, ctrl_c_cancels
    from .training import DatasetError
    from .training.site_calibration import calibrate_site

    command = "xrayviewer " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["calibrate"] else ""
    flag = CancelFlag()
    try:
        with ctrl_c_cancels(flag, "Stopping (Ctrl-C again to abort)..."):
            result = calibrate_site(args.dataset, args.name, model=args.model, labels_csv=args.labels,
                                    sensitivity_target=args.sensitivity_target, out_dir=args.out,
                                    set_name=args.cases, described_as=args.described_as,
                                    internal_data=args.internal_data, overwrite=args.overwrite, command=command,
                                    on_progress=progress, should_cancel=flag)
    except Cancelled:
        print("Calibration cancelled; no model was written.", file=sys.stderr)
        return EXIT_CANCELLED
    except (DatasetError, ModelLoadError, ModelSaveError, ValueError) as exc:
        raise user_error(str(exc)) from None
    claimed, base = result.claimed, result.base_on_cases
    _log_calibration(args, result)
    print(f"\nSaved {result.path} (same weights as {result.meta['site_calibration']['base_model']}, "
          f"sha256 {result.meta['site_calibration']['base_sha256'][:12]}...)")
    print(f"  threshold {result.meta['threshold']:.4f}: {result.meta['threshold_rule']}")
    print(f"  cross-validated on {claimed['label']}: " + figures_line(claimed["metrics"]))
    print("  the base model on the same cases, as it is: " + figures_line(base["metrics"]))
    return EXIT_OK


def _log_calibration(args, result) -> None:
    """The reads log's audit trail records every site calibration; a log that cannot be
    written costs a warning, never the calibration that was just saved."""
    from .model.bundle import sha256_of
    from .reads import ReadsLog, ReadsLogError
    from .reads.log import reader_default

    meta = result.meta
    try:
        with ReadsLog() as log:
            log.record_event("calibration", reader=reader_default(), model_name=args.name,
                             model_sha256=sha256_of(result.path),
                             details={"path": str(result.path), "folder": args.dataset, "via": "cli",
                                      "base_model": meta.get("site_calibration", {}).get("base_model")})
    except ReadsLogError as exc:
        print(f"xrayviewer: warning: the calibration was saved but not logged: {exc}", file=sys.stderr)

