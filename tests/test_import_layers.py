"""No two parts of the engine import each other: the top-level packages and modules
of platform/formloom form no cycle at import time, so each layer can be read (and
tested) standing only on the layers to its left.

The graph counts module-level imports (those run when a module is imported; an
`if TYPE_CHECKING:` block is not). Imports inside functions are how a lower layer
may reach a higher one at call time and are not counted. Two leaf modules of
`definitions` that every layer reads are their own nodes, as STYLE.md's layers
draw them ("definitions -> model -> fields"): the compiled model and the wording
helpers; a test below holds them leaves. Alembic's scripts (store/migrations) are
loaded by file path by Alembic, never imported by the engine, and are left out.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "platform" / "formloom"
#: leaf modules counted as their own node (module name -> node name)
OWN_NODES = {"formloom.definitions.model": "definitions.model",
             "formloom.definitions.wording": "definitions.wording"}
#: what those leaves may import of ours
LEAF_MAY_IMPORT = {"frozen"}
NOT_IMPORTED = ("store/migrations/",)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ENGINE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["formloom", *parts])


def node_of(module: str) -> str | None:
    """The graph node a module belongs to: its top-level package or module (None: the root)."""
    for prefix, node in OWN_NODES.items():
        if module == prefix or module.startswith(prefix + "."):
            return node
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def import_time_statements(body: list[ast.stmt]):
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            yield stmt
        elif isinstance(stmt, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(stmt.test):
                yield from import_time_statements(stmt.body)
                yield from import_time_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            for block in (stmt.body, stmt.orelse, stmt.finalbody, *[h.body for h in stmt.handlers]):
                yield from import_time_statements(block)


def imported_modules(path: Path) -> set[str]:
    """Every module of ours that importing `path` imports (for `from x import y`, both x and x.y)."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for stmt in import_time_statements(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(stmt, ast.Import):
            names = [alias.name for alias in stmt.names]
        else:
            base = ".".join(package[:len(package) - stmt.level + 1] if stmt.level else [])
            source = ".".join(p for p in (base, stmt.module or "") if p)
            names = [source, *(f"{source}.{alias.name}" for alias in stmt.names)]
        found |= {n for n in names if n == "formloom" or n.startswith("formloom.")}
    return found


def engine_modules() -> list[Path]:
    return sorted(p for p in ENGINE.rglob("*.py")
                  if not any(part in p.relative_to(ENGINE).as_posix() for part in NOT_IMPORTED))


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (ENGINE / relative).is_dir() or (ENGINE / relative).with_suffix(".py").is_file()


def import_graph() -> dict[str, dict[str, set[str]]]:
    """node -> imported node -> the files whose imports make that edge."""
    graph: dict[str, dict[str, set[str]]] = {}
    for path in engine_modules():
        source = node_of(module_name(path))
        for module in imported_modules(path):
            target = node_of(module)
            if source and target and target != source and _exists(module):
                graph.setdefault(source, {}).setdefault(target, set()).add(str(path.relative_to(ENGINE)))
    return graph


def cycles(graph: dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """One shortest cycle through each node that is on any, as [a, b, ..., a]."""
    found, seen = [], set()
    for start in sorted(graph):
        if start in seen:
            continue
        paths, visited = [[start]], {start}
        while paths:
            path = paths.pop(0)
            for nxt in sorted(graph.get(path[-1], {})):
                if nxt == start:
                    found.append(path + [start])
                    seen.update(path)
                    paths = []
                    break
                if nxt not in visited:
                    visited.add(nxt)
                    paths.append(path + [nxt])
    return found


def describe(cycle: list[str], graph) -> str:
    steps = [f"{a} -> {b} ({', '.join(sorted(graph[a][b])[:3])})" for a, b in zip(cycle, cycle[1:])]
    return " -> ".join(cycle) + "\n    " + "\n    ".join(steps)


def test_the_graph_sees_the_layers():
    graph = import_graph()
    assert "definitions.model" in graph["fields"]
    assert "store" in graph["auth"]          # auth stands on the store's tables ...
    assert "auth" in graph["web"]


def test_no_import_cycle_between_top_level_packages():
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles (break them: pass a callable, or move the shared part left):\n" + "\n".join(
        describe(c, graph) for c in found)


def test_the_store_never_imports_auth_even_at_call_time():
    """The query layer takes a Reader (store/access.py) that auth's Actor implements."""
    offenders = [str(p.relative_to(ENGINE)) for p in (ENGINE / "store").rglob("*.py")
                 if any(isinstance(n, ast.ImportFrom) and "auth" in (n.module or "").split(".")
                        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))))]
    assert offenders == []


@pytest.mark.parametrize("module", sorted(OWN_NODES))
def test_modules_counted_on_their_own_are_leaves(module):
    path = ENGINE.joinpath(*module.split(".")[1:]).with_suffix(".py")
    ours = {node_of(m) for m in imported_modules(path)} - {None}
    assert ours <= LEAF_MAY_IMPORT, f"{module} imports {sorted(ours - LEAF_MAY_IMPORT)}: it is no longer a leaf"


def test_a_cycle_is_named_with_the_files_that_make_it():
    graph = {"a": {"b": {"a/x.py"}}, "b": {"a": {"b/y.py"}}, "c": {"a": {"c.py"}}}
    found = cycles(graph)
    assert found == [["a", "b", "a"]]
    assert describe(found[0], graph) == "a -> b -> a\n    a -> b (a/x.py)\n    b -> a (b/y.py)"
