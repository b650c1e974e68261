"""No import cycle inside the trendcast package: every import counts (module level, in functions, TYPE_CHECKING).

A module importing a sibling through its own package (``from trendcast.dashboard import views`` inside
``trendcast.dashboard``) depends on the sibling, not on the package ``__init__`` that is already importing it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ML = Path(__file__).resolve().parents[1] / "ml"


def _modules() -> dict[str, Path]:
    found = {}
    for path in (ML / "trendcast").rglob("*.py"):
        parts = list(path.relative_to(ML).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _edges(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    package = _package_of(name, path)
    out: set[str] = set()

    def add(target: str) -> None:
        # A module outside a package also runs the package's __init__ on import.
        parts = target.split(".")
        for i in range(2, len(parts)):
            parent = ".".join(parts[:i])
            if parent in modules and not (package + ".").startswith(parent + "."):
                out.add(parent)
        if target in modules:
            out.add(target)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            submodules = [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in modules]
            for sub in submodules:
                add(sub)
            if len(submodules) < len(node.names) or not (package + ".").startswith(source + "."):
                add(source)
    out.discard(name)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_sees_a_lazy_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


def test_no_import_cycle_in_trendcast() -> None:
    modules = _modules()
    graph = {name: _edges(name, path, modules) for name, path in modules.items()}
    assert "trendcast.quality.outcomes" in graph["trendcast.quality.alert"]  # the graph sees real imports
    assert _cycles(graph) == []
