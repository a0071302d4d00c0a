"""LiteRT against Keras on real films: the same probabilities, OOD scores, CSV and JSON?

    python -m benchmarks.litert_agreement [--model FILE.keras] [--data DIR]

Scores the eleven full-resolution films and the 299 external films with both runtimes (the
same bundle, the same preprocessing, one process) and prints the largest differences, the
number of verdict / OOD-flag changes and whether every `xrayviewer predict` row (CSV and JSON)
is identical. Issue 15's target: probabilities within 1e-5. Results: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import io
import json
import sys

from xrayviewer.imaging import find_images
from xrayviewer.model import Predictor, bundled_model_path, read_model_info
from xrayviewer.model.networks import KerasNetwork, LiteRTNetwork
from xrayviewer.model.results_table import result_row, write_csv_rows

from .common import add_data_argument, data_dir


def _rows(results) -> list[dict]:
    return [result_row(r.path, r.prediction, r.error) for r in results]


def _csv(rows) -> str:
    out = io.StringIO()
    write_csv_rows(out, rows)
    return out.getvalue()


def compare(lite: Predictor, keras: Predictor, files: list[str]) -> dict:
    a, b = lite.predict_files(files), keras.predict_files(files)
    pairs = [(x.prediction, y.prediction) for x, y in zip(a, b) if x.prediction and y.prediction]
    ra, rb = _rows(a), _rows(b)
    return {
        "films": len(files), "scored": len(pairs),
        "max_abs_probability_difference": max(abs(p.probability - q.probability) for p, q in pairs),
        "max_abs_raw_probability_difference": max(abs(p.raw_probability - q.raw_probability) for p, q in pairs),
        "max_abs_ood_score_difference": max(abs(p.ood_score - q.ood_score) for p, q in pairs),
        "verdicts_changed": sum(p.label != q.label for p, q in pairs),
        "ood_flags_changed": sum(p.out_of_distribution != q.out_of_distribution for p, q in pairs),
        "csv_identical": _csv(ra) == _csv(rb),
        "json_identical": json.dumps(ra) == json.dumps(rb),
        "same_columns": [list(x) for x in ra[:1]] == [list(y) for y in rb[:1]],
        # rows are rounded (probability to 6 decimals): a 4e-7 difference can move the last digit
        "rows_differing": sum(x != y for x, y in zip(ra, rb)),
        "row_fields_differing": sorted({k for x, y in zip(ra, rb) for k in x if x[k] != y[k]}),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="bundle .keras (default: the bundled model)")
    add_data_argument(ap)
    args = ap.parse_args()
    data = data_dir(args.data)
    info = read_model_info(args.model or bundled_model_path())
    lite, keras = Predictor(LiteRTNetwork(info), info), Predictor(KerasNetwork(info), info)
    report = {"model": info.name}
    for name, folder in (("fullres", data / "fullres"), ("external", data / "chest_xray_external")):
        report[name] = compare(lite, keras, find_images([str(folder)]))
        print(name, json.dumps(report[name]), flush=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
