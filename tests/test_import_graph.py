"""The import direction of the library: `tasks` is glue that nothing else imports, and the graph of
vidlab's subpackages and top-level modules has no cycle.

Imports are read from the source (`ast`), so function-level (lazy) imports count too: a lazy
import still makes one package depend on another.
"""

from __future__ import annotations

import ast
from pathlib import Path

import vidlab

SRC = Path(vidlab.__file__).resolve().parent
REPO = SRC.parent.parent


def _imported_modules(path: Path, src: Path = SRC) -> set[str]:
    """Absolute vidlab module names imported anywhere in `path` (relative imports resolved
    against the package `src`, the folder of ``vidlab``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ""
    if path.is_relative_to(src):
        package = ".".join(path.relative_to(src.parent).with_suffix("").parts)
        if path.name != "__init__.py":
            package = package.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                if node.module:
                    found.add(".".join([*base, node.module]))
                else:  # `from . import x`: x is a module of the package
                    found.update(".".join([*base, alias.name]) for alias in node.names)
            elif node.module:
                found.add(node.module)
    return {m for m in found if m == "vidlab" or m.startswith("vidlab.")}


def _unit(module: str) -> str | None:
    """The graph node of a module: its first component under vidlab (subpackage or module)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _unit_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).with_suffix("").parts
        if rel == ("__init__",):
            continue
        unit = rel[0]
        graph.setdefault(unit, set())
        for module in _imported_modules(path):
            target = _unit(module)
            if target is not None and target != unit:
                graph[unit].add(target)
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_nothing_outside_tasks_imports_tasks():
    offenders = []
    roots = [SRC] + [REPO / d for d in ("benchmarks",) if (REPO / d).is_dir()]
    for root in roots:
        for path in root.rglob("*.py"):
            if root == SRC and path.relative_to(SRC).parts[0] == "tasks":
                continue
            if any(
                m == "vidlab.tasks" or m.startswith("vidlab.tasks.")
                for m in _imported_modules(path)
            ):
                offenders.append(str(path.relative_to(REPO)))
    assert not offenders, f"these import vidlab.tasks (glue) from library code: {offenders}"


def test_subpackage_graph_has_no_cycle():
    graph = _unit_graph()
    assert {"tasks", "export", "tracking", "checkpoint", "models", "data"} <= set(graph)
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle between vidlab units: " + " -> ".join(cycle)


def test_the_checker_sees_cycles_and_lazy_imports(tmp_path):
    """The helpers above really detect what they look for (guards against a vacuous pass)."""
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None
    package = tmp_path / "vidlab" / "export"
    package.mkdir(parents=True)
    module = package / "probe.py"
    module.write_text("def f():\n    from vidlab.tasks.common import x\n    from . import bundle\n")
    found = _imported_modules(module, src=tmp_path / "vidlab")
    assert found == {"vidlab.tasks.common", "vidlab.export.bundle"}
