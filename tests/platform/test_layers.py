"""The packages import downwards only, so the data flow reads in the folder tree and no two import each other.

Layers, lowest first (README, "Which folder owns what"). A module may import its own
layer and the layers below; the CLI (`gdp/cli.py`, `gdp/commands/`) may import
anything and nothing imports it. Every import counts, a lazy one inside a function too.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from gdp.settings import REPO_ROOT

REPO = REPO_ROOT
LAYERS = ("platform", "ingest_app", "ledger", "activation", "privacy", "orchestration", "tools", "cli")
PACKAGES = ("gdp", "ingest_app", "ledger", "activation", "privacy", "orchestration", "tools")


def layer_of(module: str) -> str | None:
    top = module.split(".")[0]
    if top not in PACKAGES:
        return None
    if top == "gdp":
        return "cli" if module == "gdp.cli" or module.startswith(("gdp.cli.", "gdp.commands")) else "platform"
    return top


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(module: str, path: Path) -> set[str]:
    """Every module this file imports, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    named = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            named.add(base)
            named.update(f"{base}.{alias.name}" for alias in node.names)
    return named


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules().items():
        source = layer_of(module)
        for target in map(layer_of, imports(module, path)):
            if target and target != source:
                graph[source].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one layer (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_every_import_points_down_the_layers():
    rank = {layer: n for n, layer in enumerate(LAYERS)}
    upward = []
    for module, path in modules().items():
        source = layer_of(module)
        for name in sorted(imports(module, path)):
            target = layer_of(name)
            if target and rank[target] > rank[source]:
                upward.append(f"{module} ({source}) imports {name} ({target})")
    assert upward == [], "imports against the layer order:\n" + "\n".join(upward)


def test_no_import_cycle_between_packages():
    assert cycles(package_graph()) == []


def test_the_scan_sees_the_imports_it_checks():
    """The checker itself: it finds lazy imports and reports a cycle it is given."""
    graph = package_graph()
    assert "ingest_app" in graph["cli"] and "platform" in graph["activation"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", ["gdp.settings", "gdp.db", "gdp.dbt", "gdp.migrate", "gdp.serve", "gdp.links"])
def test_platform_modules_import_no_other_package(module):
    path = modules()[module]
    others = {n for n in imports(module, path) if layer_of(n) not in (None, "platform")}
    assert others == set()
