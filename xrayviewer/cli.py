"""The `xrayviewer` command line: predict, evaluate, train, model-info, gui.

Importing this module and `--help` never import TensorFlow: each command imports what it
needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from typing import Optional, Sequence

from . import __version__
from .progress import CancelFlag, Progress

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


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
    pr.add_argument("--model", help="model .keras file (default: the bundled model)")
    pr.add_argument("--format", choices=["csv", "json"], default="csv")
    pr.add_argument("--heatmap", metavar="DIR", help="write <name>_heatmap.png (Grad-CAM) per input")
    pr.add_argument("--batch-size", type=int, default=32)

    ev = sub.add_parser("evaluate", help="accuracy, AUC, sensitivity, specificity, calibration")
    ev.add_argument("dataset", metavar="DATASET_DIR")
    ev.add_argument("--model")
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
    tr.add_argument("--recipe", choices=["default", "default-frame", "default-mix", "default-norm", "default-tone", "default-v1", "seed"], default="default",
                    help="default: the shipped recipe (default-tone)")
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--name", help="model name (default: <recipe>-<timestamp>)")
    tr.add_argument("--max-images", type=int, help="train on a stratified subsample (quick runs)")
    tr.add_argument("--val-fraction", type=float, default=0.15)
    tr.add_argument("--overwrite", action="store_true", help="replace a model of the same name")
    tr.add_argument("--monitor", metavar="DIR", help="labelled folder scored (never trained on) after every "
                    "epoch; its AUC is logged as monitor_auc")
    tr.add_argument("--keep-snapshots", action="store_true", help="also save every epoch's weights (<name>.epochs.npz)")

    mi = sub.add_parser("model-info", help="the model card: data, metrics, operating point, scope")
    mi.add_argument("--model")
    mi.add_argument("--format", choices=["text", "json", "markdown"], default="text",
                    help="json: the raw metadata; markdown: the card for model_weights/README.md")

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
               "model-info": cmd_model_info}[args.command]
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

    try:
        return Predictor.load(model_path)
    except ModelLoadError as exc:
        raise _UserError(str(exc)) from None


def cmd_predict(args) -> int:
    from .imaging import find_images

    paths = find_images(args.paths)
    missing = [p for p in args.paths if not os.path.exists(p)]
    if not paths:
        print("xrayviewer: no images found in " + ", ".join(args.paths), file=sys.stderr)
        return EXIT_USAGE if missing else EXIT_OK
    predictor = _load_predictor(args.model)
    results = predictor.predict_files(paths, batch_size=max(1, args.batch_size))
    if args.heatmap:
        _write_heatmaps(predictor, results, args.heatmap)
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


def cmd_evaluate(args) -> int:
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
                  f"val_loss {v.get('val_loss', float('nan')):.4f}"
                  + (f"  monitor_auc {v['monitor_auc']:.4f}" if "monitor_auc" in v else "")
                  + f"  ({v.get('seconds', 0):.0f} s)" + " " * 10,
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

    flag = CancelFlag()
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(_sig, _frame):
        if flag.is_set():
            raise KeyboardInterrupt
        print("\nStopping after this batch (Ctrl-C again to abort)...", file=sys.stderr)
        flag.set()

    signal.signal(signal.SIGINT, on_sigint)
    config = TrainConfig(dataset_dir=args.dataset, out_dir=args.out, recipe=args.recipe, epochs=args.epochs,
                         seed=args.seed, name=args.name, max_images=args.max_images,
                         val_fraction=args.val_fraction, overwrite=args.overwrite,
                         monitor_dir=args.monitor, keep_snapshots=args.keep_snapshots,
                         command="xrayviewer " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["train"] else "")
    try:
        result = fit(config, on_progress=_TextProgress(), should_cancel=flag)
    except Cancelled:
        print("Training cancelled; no model was written.", file=sys.stderr)
        return 130
    except (DatasetError, CacheWriteError, ModelSaveError, ValueError) as exc:
        raise _UserError(str(exc)) from None
    finally:
        signal.signal(signal.SIGINT, previous)
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
    return EXIT_OK


def cmd_model_info(args) -> int:
    from .model import read_model_info
    from .model.bundle import ModelLoadError, bundled_model_path
    from .model.card import model_card_markdown, model_card_text

    try:
        info = read_model_info(args.model or bundled_model_path())
    except ModelLoadError as exc:
        raise _UserError(str(exc)) from None
    if args.format == "json":
        print(json.dumps(info.meta, indent=2))
    elif args.format == "markdown":
        print(model_card_markdown(info), end="")
    else:
        print(model_card_text(info))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
