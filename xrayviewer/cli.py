"""The `xrayviewer` command line: predict, evaluate, train, model-info, gui.

Importing this module and `--help` never import TensorFlow: each command imports what it
needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Optional, Sequence

from . import __version__
from .progress import CancelFlag, Progress, ctrl_c_cancels

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
MODEL_HELP = "a model bundle (.keras) or the name of a model in your models folder (default: the bundled model)"
LABELS_HELP = ("label the folder's files from a CSV: columns path,label (NORMAL/PNEUMONIA) or a reads export "
               "(image_sha256,file_name,read)")


def __getattr__(name: str):
    """``cli.CSV_COLUMNS`` (the predict contract) without importing numpy for ``--help``."""
    if name == "CSV_COLUMNS":
        from .model.results_table import CSV_COLUMNS

        return CSV_COLUMNS
    raise AttributeError(name)


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="xrayviewer",
        description="Chest X-ray pneumonia second reader: score images, evaluate, train, view.")
    p.add_argument("--version", action="version", version=f"xrayviewer {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    pr = sub.add_parser("predict", help="score image files and folders (recursively)")
    pr.add_argument("paths", nargs="+", metavar="PATH")
    pr.add_argument("--model", help=MODEL_HELP)
    pr.add_argument("--format", choices=["csv", "json"], default="csv")
    pr.add_argument("--heatmap", metavar="DIR", help="write <name>_heatmap.png (Grad-CAM) per input")
    pr.add_argument("--batch-size", type=int, default=32)
    pr.add_argument("--snapshot", metavar="DIR",
                    help="write <name>_snapshot.png per input: the film with a de-identified footer "
                         "(probability, verdict, threshold, model, the reader's read, disclaimer)")
    pr.add_argument("--shard", metavar="I/N",
                    help="score only part I of N (1 <= I <= N), chosen by a hash of each file's path relative "
                         "to its folder argument, rows in that hash order: N machines' outputs, concatenated "
                         "in part order, equal the output of --shard 1/1 row for row")

    ev = sub.add_parser("evaluate", help="accuracy, AUC, sensitivity, specificity, calibration; "
                        "--report: a local validation report (HTML)")
    ev.add_argument("dataset", metavar="DATASET_DIR")
    ev.add_argument("--model", help=MODEL_HELP)
    ev.add_argument("--report", metavar="REPORT.html",
                    help="write the local validation report: one self-contained HTML file (figures with 95%% "
                         "intervals, comparison with the model card, pictures, misses and false alarms)")
    ev.add_argument("--labels", metavar="CSV", help=LABELS_HELP)
    ev.add_argument("--plots", metavar="DIR", help="write roc.png and reliability.png")
    ev.add_argument("--split", choices=["all", "validation", "test"], default="all",
                    help="'validation': only the patient-level validation part (the model's own split, "
                         "recomputed from its metadata); 'test': only test/ of a Kaggle-layout folder")
    ev.add_argument("--bootstrap", action="store_true",
                    help="add 95%% confidence intervals (patient-level bootstrap, 1000 resamples)")
    ev.add_argument("--format", choices=["text", "json"], default="text")

    tr = sub.add_parser("train", help="train a model from a dataset folder")
    tr.add_argument("dataset", metavar="DATASET_DIR")
    tr.add_argument("--out", required=True, metavar="DIR")
    # Spelled out (importing training.recipes would pull numpy into --help); a test keeps it in
    # step with training.recipes.RECIPES. "default" is the shipped recipe.
    tr.add_argument("--recipe", choices=["default", "default-mix", "default-tone", "default-v1", "seed"], default="default",
                    help="default: the shipped recipe (default-tone)")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--name", help="model name (default: <recipe>-<timestamp>)")
    tr.add_argument("--max-images", type=int, help="train on a stratified subsample (quick runs)")
    tr.add_argument("--val-fraction", type=float, default=0.15)
    tr.add_argument("--overwrite", action="store_true", help="replace a model of the same name")
    tr.add_argument("--distribute", choices=["none", "mirrored", "multiworker"], default="none",
                    help="mirrored: every GPU of this machine; multiworker: several machines, configured by "
                         "TF_CONFIG (README: 'Train on several machines'). Default: none")
    tr.add_argument("--per-replica-batch", type=int, metavar="N",
                    help="with --distribute: images per replica and step (default: the recipe's batch size); "
                         "the global batch is N x replicas and the learning rate scales by sqrt(global/recipe batch)")

    ca = sub.add_parser("calibrate", help="re-fit calibration and threshold on a site's labelled cases "
                        "(same weights), claiming cross-validated figures")
    ca.add_argument("dataset", metavar="LOCAL_DIR")
    ca.add_argument("--name", required=True, help="name of the new model")
    ca.add_argument("--model", help="base model: " + MODEL_HELP)
    ca.add_argument("--labels", metavar="CSV", help=LABELS_HELP)
    ca.add_argument("--sensitivity-target", type=float, default=0.98, metavar="S",
                    help="threshold rule: the highest threshold keeping sensitivity >= S on the local cases "
                         "(default 0.98)")
    ca.add_argument("--out", metavar="DIR", help="where to write the bundle (default: your models folder)")
    ca.add_argument("--cases", choices=["site", "external"], default="site",
                    help="what the cases are for the model card: a site's own (default) or an external "
                         "validation set")
    ca.add_argument("--described-as", metavar="WORDS",
                    help="the cases in the card's words, e.g. 'independent X-rays from the same hospital'")
    ca.add_argument("--internal-data", metavar="TRAIN_DIR",
                    help="the base model's training folder: re-measure its internal validation split at the "
                         "new threshold (else that figure is dropped from the card)")
    ca.add_argument("--overwrite", action="store_true", help="replace a model of the same name")

    mi = sub.add_parser("model-info", help="the model card: data, metrics, operating point, scope")
    mi.add_argument("--model", help=MODEL_HELP)
    mi.add_argument("--format", choices=["text", "json", "markdown"], default="text",
                    help="json: the raw metadata; markdown: the card for model_weights/README.md")

    rd = sub.add_parser("reads", help="the reader's reads (the audit log of P/N/U reads)")
    rd_sub = rd.add_subparsers(dest="reads_command", metavar="ACTION", required=True)
    rx = rd_sub.add_parser("export", help="write the reads as CSV (usable as evaluate/calibrate --labels)")
    rx.add_argument("out", metavar="OUT.csv")
    rx.add_argument("--since", metavar="DATE", help="only reads made on or after DATE (YYYY-MM-DD, UTC)")
    rx.add_argument("--history", action="store_true",
                    help="every read, also those later changed (default: each image's current read)")

    gu = sub.add_parser("gui", help="open the desktop viewer")
    gu.add_argument("files", nargs="*")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "gui":
        from .gui.app import main as gui_main  # the GUI parses its own flags

        return gui_main(argv[1:])
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_USAGE
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    handler = {"predict": cmd_predict, "evaluate": cmd_evaluate, "train": cmd_train,
               "model-info": cmd_model_info, "calibrate": cmd_calibrate, "reads": cmd_reads}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("\nStopped.", file=sys.stderr)
        return 130
    except _UserError as exc:
        print(f"xrayviewer: {exc}", file=sys.stderr)
        return EXIT_FAILURE


class _UserError(Exception):
    pass


def _load_predictor(model_path):
    from .model import ModelLoadError, Predictor
    from .model.bundle import resolve_model

    try:
        return Predictor.load(resolve_model(model_path))
    except ModelLoadError as exc:
        raise _UserError(str(exc)) from None


def cmd_predict(args) -> int:
    from .imaging import find_images

    spec = None
    if args.shard:
        from .sharding import ShardSpec

        try:
            spec = ShardSpec.parse(args.shard)
        except ValueError as exc:
            print(f"xrayviewer: {exc}", file=sys.stderr)
            return EXIT_USAGE
    paths = find_images(args.paths)
    missing = [p for p in args.paths if not os.path.exists(p)]
    if not paths:
        print("xrayviewer: no images found in " + ", ".join(args.paths), file=sys.stderr)
        return EXIT_USAGE if missing else EXIT_OK
    if spec is not None:
        from .sharding import select_part

        found = len(paths)
        paths = select_part(paths, args.paths, spec)
        if not paths:  # a legitimately empty part: it still writes its (empty) table below
            print(f"xrayviewer: part {spec.index}/{spec.count} holds none of the {found} images", file=sys.stderr)
    predictor = _load_predictor(args.model)
    results = predictor.predict_files(paths, batch_size=max(1, args.batch_size))
    if args.heatmap:
        _write_heatmaps(predictor, results, args.heatmap)
    if args.snapshot:
        _write_snapshots(predictor, results, args.snapshot, with_overlay=bool(args.heatmap))
    rows = [_result_row(r) for r in results]
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        from .model.results_table import write_csv_rows

        write_csv_rows(sys.stdout, rows)
    return EXIT_OK


def _result_row(r) -> dict:
    from .model.results_table import result_row

    return result_row(r.path, r.prediction, r.error)


def _write_heatmaps(predictor, results, folder) -> None:
    from PIL import Image

    from .imaging import load_image
    from .model.gradcam import overlay

    os.makedirs(folder, exist_ok=True)
    used: set[str] = set()
    for r in results:
        if r.prediction is None:
            continue
        image = load_image(r.path)
        heat = predictor.explain(image)
        stem = os.path.splitext(os.path.basename(r.path))[0]
        name, k = f"{stem}_heatmap.png", 2
        while name in used:  # same file name in two input folders: do not overwrite the first
            name, k = f"{stem}-{k}_heatmap.png", k + 1
        used.add(name)
        Image.fromarray(overlay(image.display(), heat, 0.45)).save(os.path.join(folder, name))


def _write_snapshots(predictor, results, folder, with_overlay: bool) -> None:
    from .gui.case_snapshot import write_snapshots  # Qt-free: the window renders through it too
    from .reads import ReadsLog, ReadsLogError

    try:
        log = ReadsLog()
    except ReadsLogError:
        log = None  # no reads to show is no reason to refuse the snapshots
    try:
        write_snapshots(results, folder, predictor.info, predictor.explain if with_overlay else None, log)
    except OSError as exc:
        raise _UserError(f"cannot write snapshots to {folder}: {exc.strerror or exc}") from None
    finally:
        if log is not None:
            log.close()


def cmd_reads(args) -> int:
    from .reads import ReadsLog, ReadsLogError, reader_default
    from .reads.export import export_reads
    from .reads.log import parse_since

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        raise _UserError(str(exc)) from None
    try:
        with ReadsLog() as log:
            n = export_reads(log, args.out, since=since, history=args.history)
            log.record_event("export-reads", reader=reader_default(),
                             details={"rows": n, "since": since, "history": args.history, "via": "cli"})
    except ReadsLogError as exc:
        raise _UserError(str(exc)) from None
    except OSError as exc:
        raise _UserError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"Wrote {n} read(s) to {args.out}", file=sys.stderr)
    return EXIT_OK


def cmd_evaluate(args) -> int:
    if args.report or args.labels:
        from .cli_site import local_report_command

        return local_report_command(args, _load_predictor, _TextProgress(), _UserError)
    from .training.evaluate import evaluate_folder, format_report

    predictor = _load_predictor(args.model)
    try:
        report = evaluate_folder(predictor, args.dataset, split=args.split, plots_dir=args.plots,
                                 on_progress=_TextProgress(), bootstrap=args.bootstrap)
    except Exception as exc:
        from .training import DatasetError

        if isinstance(exc, DatasetError):
            raise _UserError(str(exc)) from None
        raise
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    return EXIT_OK


class _TextProgress:
    """A one-line progress bar on stderr for any Progress stream."""

    def __init__(self):
        self._last = 0.0
        self._tty = sys.stderr.isatty()

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if p.stage == "epoch":
            v = p.values
            print(f"\repoch {p.done}/{p.total}  loss {v.get('loss', float('nan')):.4f}  "
                  f"acc {v.get('accuracy', float('nan')):.3f}  val_auc {v.get('val_auc', float('nan')):.4f}  "
                  f"val_loss {v.get('val_loss', float('nan')):.4f}  ({v.get('seconds', 0):.0f} s)" + " " * 10,
                  file=sys.stderr, flush=True)
            return
        if now - self._last < (0.2 if self._tty else 5.0) and p.done != p.total:
            return
        self._last = now
        width = 30
        filled = int(width * p.fraction)
        bar = "#" * filled + "-" * (width - filled)
        end = "" if self._tty else "\n"
        print(f"\r{p.stage:>8} [{bar}] {p.done}/{p.total} {p.message}"[:110], end=end, file=sys.stderr, flush=True)


def cmd_train(args) -> int:
    from .model import ModelSaveError
    from .progress import Cancelled
    from .training import CacheWriteError, DatasetError, TrainConfig, fit
    from .training.distribute import ClusterError

    flag = CancelFlag()
    config = TrainConfig(dataset_dir=args.dataset, out_dir=args.out, recipe=args.recipe, epochs=args.epochs,
                         seed=args.seed, name=args.name, max_images=args.max_images,
                         val_fraction=args.val_fraction, overwrite=args.overwrite, distribute=args.distribute,
                         per_replica_batch=args.per_replica_batch,
                         command="xrayviewer " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["train"] else "")
    try:
        with ctrl_c_cancels(flag, "Stopping after this batch (Ctrl-C again to abort)..."):
            result = fit(config, on_progress=_TextProgress(), should_cancel=flag)
    except Cancelled:
        print("Training cancelled; no model was written.", file=sys.stderr)
        return 130
    except ClusterError as exc:
        # A distributed run lost a worker: TensorFlow's runtime is left mid-collective, and its
        # normal shutdown would wait for the lost peer and print tracebacks from its thread
        # pools. Nothing was written; say so and leave at once.
        print(f"xrayviewer: {exc}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(EXIT_FAILURE)
    except (DatasetError, CacheWriteError, ModelSaveError, ValueError) as exc:
        raise _UserError(str(exc)) from None
    if result.model_path is None:  # a distributed run's other worker: the chief wrote the model
        print(f"{result.metadata['worker'].capitalize()} of {result.metadata['workers']} finished; the chief saved "
              f"the model. Weights sha256 {result.weights_sha256}")
        return EXIT_OK
    m = result.metadata
    v = m["validation"]
    print(f"\nSaved {result.model_path}")
    print(f"  {m['split']['train_images']} training / {m['split']['val_images']} validation images "
          f"({m['split']['val_patients']} validation patients), {m['training']['epochs_run']} epochs, "
          f"best epoch {m['training']['best_epoch']}, {m['training']['seconds']:.0f} s")
    print(f"  validation AUC {v['auc']:.4f}  accuracy {v['accuracy']:.4f}  sensitivity {v['sensitivity']:.4f}  "
          f"specificity {v['specificity']:.4f}  at threshold {m['threshold']:.3f}")
    print(f"  calibration: temperature {m['calibration']['temperature']:.3f}, ECE "
          f"{m['calibration']['validation_ece_before']:.4f} -> {m['calibration']['validation_ece_after']:.4f}")
    if result.weights_sha256:
        d = m["training"]["distribute"]
        print(f"  {d['strategy']}: {d['workers']} worker(s), {d['replicas']} replica(s), global batch "
              f"{d['global_batch']}, learning rate {d['learning_rate']:.3g}. Weights sha256 {result.weights_sha256}")
    return EXIT_OK


def cmd_model_info(args) -> int:
    from .model import read_model_info
    from .model.bundle import ModelLoadError, resolve_model
    from .model.card import model_card_markdown, model_card_text

    try:
        info = read_model_info(resolve_model(args.model))
    except ModelLoadError as exc:
        raise _UserError(str(exc)) from None
    if args.format == "json":
        print(json.dumps(info.meta, indent=2))
    elif args.format == "markdown":
        print(model_card_markdown(info), end="")
    else:
        print(model_card_text(info))
    return EXIT_OK


def cmd_calibrate(args) -> int:
    from .cli_site import calibrate_command

    return calibrate_command(args, _TextProgress(), _UserError)


if __name__ == "__main__":
    sys.exit(main())
