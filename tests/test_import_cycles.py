"""No import cycle between the modules of xrayviewer, imports inside functions included.

import-linter's layer contracts only see the packages; a cycle inside one layer (fit importing
evaluate's helpers while evaluate imports fit's, each "inside a function to dodge the cycle")
makes both modules harder to change and to test apart. This walks every ``import`` statement
in the source, wherever it stands, and fails on any strongly connected group of modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import xrayviewer

PACKAGE_ROOT = Path(xrayviewer.__file__).parent


def _modules() -> dict[str, tuple[Path, bool]]:
    mods = {}
    for path in PACKAGE_ROOT.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        mods[".".join(parts)] = (path, is_package)
    return mods


def _imported(module: str, is_package: bool, node: ast.AST, known: set[str]) -> set[str]:
    """The project modules one import statement names. ``from pkg import sub`` names ``sub``
    only (the package is already initialised by then); ``from mod import name`` names ``mod``."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            origin = ".".join(base + ([node.module] if node.module else []))
        else:
            origin = node.module or ""
        subs = [f"{origin}.{alias.name}" for alias in node.names if f"{origin}.{alias.name}" in known]
        targets = subs if len(subs) == len(node.names) else subs + [origin]
    else:
        return set()
    out = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != module:
            out.add(target)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    graph = {}
    for name, (path, is_package) in mods.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            deps |= _imported(name, is_package, node, known)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_the_detector_finds_a_cycle_through_a_function_level_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_function_level_imports_are_seen():
    node = ast.parse("def f():\n    from .fit import thing\n")
    deps = set()
    for n in ast.walk(node):
        deps |= _imported("xrayviewer.training.evaluate", False, n,
                          {"xrayviewer.training.fit", "xrayviewer.training.evaluate"})
    assert deps == {"xrayviewer.training.fit"}


def test_no_import_cycle_between_modules_of_xrayviewer():
    graph = import_graph()
    assert len(graph) > 50  # the walk really saw the package
    assert cycles(graph) == [], "modules that import each other (directly or round a loop)"



def _private_names(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) of each ``from <project module> import _name`` in ``tree``: one module
    reaching into another's private helpers (what the fit/evaluate/recalibrate tangle did to
    dodge a cycle)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("xrayviewer")):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    return found


def test_the_private_import_check_sees_one_inside_a_function():
    tree = ast.parse("import os\nfrom .card import public\ndef f():\n    from .fit import _helper\n")
    assert _private_names(tree) == [(4, "_helper")]
    assert _private_names(ast.parse("from os.path import _get_sep\n")) == []  # not ours


def test_no_module_imports_another_modules_private_helpers():
    found = [f"{name}:{line} imports {helper}" for name, (path, _) in sorted(_modules().items())
             for line, helper in _private_names(ast.parse(path.read_text(encoding="utf-8")))]
    assert found == [], "make the helper public in the module that owns it, or move it"
