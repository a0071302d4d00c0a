"""``python -m benchmarks``: every benchmark and probe, with the first line of its docstring.

Read from the source (nothing is imported, so listing needs neither TensorFlow nor data). A
module is listed when it has a ``main`` function: the helpers (``common``,
``archive.probe_cli``) are not.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def probes(folder: Path, package: str) -> list[tuple[str, str]]:
    """(module name, summary) of each runnable module directly in ``folder``."""
    out = []
    for path in sorted(folder.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body):
            continue
        doc = ast.get_docstring(tree) or ""
        summary = " ".join(doc.split("\n\n")[0].split()).rstrip(":")
        out.append((f"{package}.{path.stem}", summary))
    return out


def main() -> int:
    sections = (("Benchmarks and probes", HERE, "benchmarks"),
                ("Finished experiments (decisions recorded; results in benchmarks/runs/)",
                 HERE / "archive", "benchmarks.archive"))
    for title, folder, package in sections:
        print(f"{title}:")
        for name, summary in probes(folder, package):
            print(f"  python -m {name}\n      {summary}")
        print()
    print("Each takes --help. The data folder: --data DIR where a probe takes it, else $XRAYVIEWER_DATA, "
          "else the first shared/data above the repository (benchmarks/common.py).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
