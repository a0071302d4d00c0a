"""The `xrayviewer` command line: predict, evaluate, train, model-info, gui.

Importing this module and `--help` never import TensorFlow: each command imports what it
needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from typing import Optional, Sequence

from . import __version__
from .defaults import BOOTSTRAP_RESAMPLES, SENSITIVITY_TARGET, VAL_FRACTION
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


class _RecipeNames:
    """``train --recipe``'s choices: "default" and the names in training.recipes.RECIPES, read
    from the registry only when ``train`` is parsed or its help shown (importing the training
    package pulls numpy, which ``xrayviewer --help`` does without)."""

    def _names(self) -> list[str]:
        from .training.recipes import RECIPES

        return ["default", *sorted(RECIPES)]

    def __contains__(self, name) -> bool:
        return name in self._names()

    def __iter__(self):
        return iter(self._names())


class _RecipeHelp(str):
    """A help text whose ``%(shipped)s`` names training.recipes.DEFAULT_RECIPE, looked up when
    argparse formats it (for the reason _RecipeNames gives)."""

    def __mod__(self, params):
        from .training.recipes import DEFAULT_RECIPE

        return str.__mod__(str(self), dict(params, shipped=DEFAULT_RECIPE))


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps help text at spaces only: argparse's default also breaks at hyphens, which split
    recipe names ("default-\nframe-mean") in ``train --help``."""

    def _split_lines(self, text, width):
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class _Parser(argparse.ArgumentParser):
    """ArgumentParser with _HelpFormatter; subcommand parsers inherit the class."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="xrayviewer",
        description="Chest X-ray pneumonia second reader: score images, evaluate, train, view.")
    p.add_argument("--version", action="version", version=f"xrayviewer {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    pr = sub.add_parser(
        "predict", help="score image files and folders (recursively)",
        description="Score chest X-rays: one CSV (or JSON) row per image, written as each is done. "
                    "Exit code 0: every input was scored; 1: at least one could not be read (its row "
                    "says why); 2: usage error.")
    pr.add_argument("paths", nargs="+", metavar="PATH",
                    help="image files (JPEG, PNG, TIFF, BMP, DICOM) and folders, searched recursively")
    pr.add_argument("--model", help=MODEL_HELP)
    pr.add_argument("--format", choices=["csv", "json"], default="csv",
                    help="output on stdout: csv (a header, then one row per image) or json (a list of "
                         "objects; error is null when the image was scored) (default: csv)")
    pr.add_argument("--heatmap", metavar="DIR",
                    help="also write <name>_heatmap.png (Grad-CAM over the film) per scored image into DIR "
                         "(default: no heatmaps)")
    pr.add_argument("--batch-size", type=int, default=32, metavar="N",
                    help="images scored together; larger is a little faster and holds N inputs in memory "
                         "(default: 32)")
    pr.add_argument("--snapshot", metavar="DIR",
                    help="write <name>_snapshot.png per input: the film with a de-identified footer "
                         "(probability, verdict, threshold, model, the reader's read, disclaimer) "
                         "(default: no snapshots)")
    pr.add_argument("--shard", metavar="I/N",
                    help="score only part I of N (1 <= I <= N), chosen by a hash of each file's path relative "
                         "to its folder argument, rows in that hash order: N machines' outputs, concatenated "
                         "in part order, equal the output of --shard 1/1 row for row (default: every image)")

    ev = sub.add_parser("evaluate", help="accuracy, AUC, sensitivity, specificity, calibration; "
                        "--report: a local validation report (HTML)",
                        description="Evaluate a model on a labelled folder (NORMAL/ and PNEUMONIA/ subfolders, "
                                    "or any folder with --labels).")
    ev.add_argument("dataset", metavar="DATASET_DIR",
                    help="folder with NORMAL/ and PNEUMONIA/ image subfolders (or any folder, with --labels)")
    ev.add_argument("--model", help=MODEL_HELP)
    ev.add_argument("--report", metavar="REPORT.html",
                    help="write the local validation report: one self-contained HTML file (figures with 95%% "
                         "intervals, comparison with the model card, pictures, misses and false alarms) "
                         "(default: no report)")
    ev.add_argument("--labels", metavar="CSV", help=LABELS_HELP + " (default: the folder names give the labels)")
    ev.add_argument("--plots", metavar="DIR", help="write roc.png and reliability.png into DIR (default: no plots)")
    ev.add_argument("--split", choices=["all", "validation", "test"], default="all",
                    help="'validation': only the patient-level validation part (the model's own split, "
                         "recomputed from its metadata); 'test': only test/ of a Kaggle-layout folder "
                         "(default: all)")
    ev.add_argument("--bootstrap", action="store_true",
                    help=f"add 95%% confidence intervals (patient-level bootstrap, {BOOTSTRAP_RESAMPLES} resamples) "
                         "(default: off)")
    ev.add_argument("--format", choices=["text", "json"], default="text",
                    help="report as text or json on stdout (default: text)")

    tr = sub.add_parser("train", help="train a model from a dataset folder",
                        description="Train a model bundle from a folder with NORMAL/ and PNEUMONIA/ subfolders.")
    tr.add_argument("dataset", metavar="DATASET_DIR", help="folder with NORMAL/ and PNEUMONIA/ image subfolders")
    tr.add_argument("--out", required=True, metavar="DIR", help="folder the model bundle is saved in (required)")
    tr.add_argument("--recipe", choices=_RecipeNames(), default="default", metavar="RECIPE",
                    help=_RecipeHelp("training recipe: %(choices)s; 'default' is the shipped recipe "
                                     "(%(shipped)s) (default: default)"))
    tr.add_argument("--epochs", type=int, metavar="N", help="epochs to train (default: the recipe's own plan)")
    tr.add_argument("--seed", type=int, default=0, help="random seed for the split and training (default: 0)")
    tr.add_argument("--name", help="model name (default: <recipe>-<timestamp>)")
    tr.add_argument("--max-images", type=int, metavar="N",
                    help="train on a stratified subsample of N images, for quick runs (default: all images)")
    tr.add_argument("--val-fraction", type=float, default=VAL_FRACTION, metavar="F",
                    help="fraction of patients held out for validation (default: %(default)s)")
    tr.add_argument("--overwrite", action="store_true",
                    help="replace a model of the same name (default: refuse)")
    tr.add_argument("--distribute", choices=["none", "mirrored", "multiworker"], default="none",
                    help="mirrored: every GPU of this machine; multiworker: several machines, configured by "
                         "TF_CONFIG (README: 'Train on several machines') (default: none)")
    tr.add_argument("--per-replica-batch", type=int, metavar="N",
                    help="with --distribute: images per replica and step (default: the recipe's batch size); "
                         "the global batch is N x replicas and the learning rate scales by sqrt(global/recipe batch)")
    tr.add_argument("--monitor", metavar="DIR", help="labelled folder scored (never trained on) after every "
                    "epoch; its AUC is logged as monitor_auc (default: none)")
    tr.add_argument("--keep-snapshots", action="store_true",
                    help="also save every epoch's weights as <name>.epochs.npz (default: off)")

    ca = sub.add_parser("calibrate", help="re-fit calibration and threshold on a site's labelled cases "
                        "(same weights), claiming cross-validated figures")
    ca.add_argument("dataset", metavar="LOCAL_DIR",
                    help="the site's labelled X-rays: NORMAL/ and PNEUMONIA/ subfolders, or any folder with --labels")
    ca.add_argument("--name", required=True, help="name of the new model")
    ca.add_argument("--model", help="base model: " + MODEL_HELP)
    ca.add_argument("--labels", metavar="CSV", help=LABELS_HELP + " (default: the folder names give the labels)")
    ca.add_argument("--sensitivity-target", type=float, default=SENSITIVITY_TARGET, metavar="S",
                    help="threshold rule: the highest threshold keeping sensitivity >= S on the local cases "
                         "(default: %(default)s)")
    ca.add_argument("--out", metavar="DIR", help="where to write the bundle (default: your models folder)")
    ca.add_argument("--cases", choices=["site", "external"], default="site",
                    help="what the cases are for the model card: a site's own (default) or an external "
                         "validation set")
    ca.add_argument("--described-as", metavar="WORDS",
                    help="the cases in the card's words, e.g. 'independent X-rays from the same hospital' "
                         "(default: worded from --cases)")
    ca.add_argument("--internal-data", metavar="TRAIN_DIR",
                    help="the base model's training folder: re-measure its internal validation split at the "
                         "new threshold (default: none, and that figure is dropped from the card)")
    ca.add_argument("--overwrite", action="store_true", help="replace a model of the same name (default: refuse)")

    mi = sub.add_parser("model-info", help="the model card: data, metrics, operating point, scope",
                        description="Print a model's card: its data, metrics, operating point and scope.")
    mi.add_argument("--model", help=MODEL_HELP)
    mi.add_argument("--format", choices=["text", "json", "markdown"], default="text",
                    help="text: the card; json: the raw metadata; markdown: the card for "
                         "model_weights/README.md (default: text)")

    rd = sub.add_parser("reads", help="the reader's reads (the audit log of P/N/U reads)")
    rd_sub = rd.add_subparsers(dest="reads_command", metavar="ACTION", required=True)
    rx = rd_sub.add_parser("export", help="write the reads as CSV (usable as evaluate/calibrate --labels)")
    rx.add_argument("out", metavar="OUT.csv", help="the CSV file to write")
    rx.add_argument("--since", metavar="DATE",
                    help="only reads made on or after DATE (YYYY-MM-DD, UTC) (default: all reads)")
    rx.add_argument("--history", action="store_true",
                    help="every read, also those later changed (default: each image's current read)")

    gu = sub.add_parser("gui", help="open the desktop viewer",
                        description="Open the desktop viewer (same as xrayviewer-gui; see xrayviewer-gui --help).")
    gu.add_argument("files", nargs="*", help="images or folders to open as a worklist (default: none)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_USAGE
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "gui":  # the launcher opens the window; cli.main called directly does not
        print("Open the viewer with `xrayviewer gui` or `xrayviewer-gui`.", file=sys.stderr)
        return EXIT_USAGE
    handler = {"predict": cmd_predict, "evaluate": cmd_evaluate, "train": cmd_train,
               "model-info": cmd_model_info, "calibrate": cmd_calibrate, "reads": cmd_reads}[args.command]
    _escape_unencodable_output()
    try:
        rc = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler's reach
        return rc
    except KeyboardInterrupt:
        print("\nStopped.", file=sys.stderr)
        return 130
    except _UserError as exc:
        print(f"xrayviewer: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except BrokenPipeError:
        return _quiet_broken_pipe()


#: Exit status of a Unix tool whose reader went away (128 + SIGPIPE), as `... | head` sees it.
EXIT_BROKEN_PIPE = 141


def _quiet_broken_pipe() -> int:
    """The reader of stdout closed it (``| head``): stop quietly, as Unix tools do. stdout is
    pointed at devnull so that Python's final flush at exit does not complain again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return EXIT_BROKEN_PIPE


def _escape_unencodable_output() -> None:
    """Never stop mid-output on a character the stream cannot encode (an ASCII or strict
    UTF-8 locale, a file name that is not valid UTF-8): write it as a backslash escape."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):  # replaced by a test harness, or closed
            pass


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
    from .model.results_table import RowStream

    spec = None
    if args.shard:
        from .sharding import ShardSpec

        try:
            spec = ShardSpec.parse(args.shard)
        except ValueError as exc:
            print(f"xrayviewer: {exc}", file=sys.stderr)
            return EXIT_USAGE
    paths = find_images(args.paths)
    if not paths:
        RowStream(sys.stdout, args.format).close()  # the header, or []: still a well-formed table
        sys.stdout.flush()
        print("xrayviewer: no images found in " + ", ".join(_printable(p) for p in args.paths), file=sys.stderr)
        return EXIT_OK
    if spec is not None:
        from .sharding import select_part

        found = len(paths)
        paths = select_part(paths, args.paths, spec)
        if not paths:  # a legitimately empty part: it still writes its (empty) table below
            print(f"xrayviewer: part {spec.index}/{spec.count} holds none of the {found} images", file=sys.stderr)
    predictor = _load_predictor(args.model)  # before any output: a bad model prints no header
    out = RowStream(sys.stdout, args.format)
    heatmaps = _HeatmapWriter(predictor, args.heatmap) if args.heatmap else None
    batch = max(1, args.batch_size)
    unread = 0
    scored = []  # for --snapshot, made after the run as before (a FileResult holds no pixels)
    # Rows come one batch at a time, each written (and flushed) as soon as its batch is scored:
    # a failure later on loses nothing already done, and memory does not grow with the run.
    for n, r in enumerate(predictor.iter_files(paths, batch_size=batch), start=1):
        if r.prediction is None:
            unread += 1
        elif heatmaps is not None:
            heatmaps.write(r.path)
        out.write(_result_row(r))
        if args.snapshot and r.prediction is not None:
            scored.append(r)
        if n % batch == 0:
            sys.stdout.flush()
    out.close()
    sys.stdout.flush()
    if args.snapshot:
        _write_snapshots(predictor, scored, args.snapshot, with_overlay=bool(args.heatmap))
    failed_maps = heatmaps.failures if heatmaps is not None else 0
    if unread:
        print(f"xrayviewer: {unread} of {len(paths)} inputs could not be read (their rows say why)",
              file=sys.stderr)
    if failed_maps:
        print(f"xrayviewer: {failed_maps} heatmap(s) could not be written", file=sys.stderr)
    return EXIT_FAILURE if unread or failed_maps else EXIT_OK


def _printable(text: str) -> str:
    """A path as text any stream can carry: bytes that are not UTF-8 (kept by Python as
    surrogate escapes) become \\xNN escapes."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _result_row(r) -> dict:
    from .model.results_table import result_row

    row = result_row(r.path, r.prediction, r.error)
    return {k: _printable(v) if isinstance(v, str) else v for k, v in row.items()}


class _HeatmapWriter:
    """``--heatmap DIR``: one overlay PNG per scored file, written as each row is."""

    def __init__(self, predictor, folder: str):
        os.makedirs(folder, exist_ok=True)
        self.predictor, self.folder = predictor, folder
        self.used: set[str] = set()
        self.failures = 0

    def write(self, path: str) -> None:
        from .imaging import ImageLoadError, load_image
        from .model.heatmap_png import heatmap_file_name, save_overlay_png

        name = heatmap_file_name(path, self.used, max_bytes=_max_name_bytes(self.folder))
        try:
            image = load_image(path)
            save_overlay_png(image, self.predictor.explain(image), os.path.join(self.folder, name))
        except (OSError, ImageLoadError, MemoryError) as exc:
            self.failures += 1
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            print(f"xrayviewer: heatmap for {_printable(os.path.basename(path))} not written: "
                  f"{_printable(detail)}", file=sys.stderr)
            return
        self.used.add(name)


def _max_name_bytes(folder: str) -> int:
    """Longest file name the heatmap folder's file system takes (255 on most)."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (AttributeError, OSError, ValueError):
        return 255


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
    from .training.evaluate import evaluate_folder
    from .training.folder_report import format_report

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
    from .model.card import kept_weights_text
    from .progress import Cancelled
    from .training import CacheWriteError, DatasetError, TrainConfig, fit
    from .training.distribute import ClusterError

    flag = CancelFlag()
    config = TrainConfig(dataset_dir=args.dataset, out_dir=args.out, recipe=args.recipe, epochs=args.epochs,
                         seed=args.seed, name=args.name, max_images=args.max_images,
                         val_fraction=args.val_fraction, overwrite=args.overwrite, distribute=args.distribute,
                         per_replica_batch=args.per_replica_batch,
                         monitor_dir=args.monitor, keep_snapshots=args.keep_snapshots,
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
          f"weights kept: {kept_weights_text(m['training'])}, {m['training']['seconds']:.0f} s")
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
