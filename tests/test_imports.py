"""No import cycles among lrcount's modules, counting imports inside functions too: data flows
one way (io -> network -> domain -> region -> problem -> engines -> count -> cli)."""

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "lrcount"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def relative_imports(path: Path, modules: set[str]) -> set[str]:
    """The modules (or packages) that ``path``'s relative imports name, anywhere in its body."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
    return found - {name}


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The lrcount modules that ``path`` imports anywhere in its body."""
    return relative_imports(path, modules) & modules


def import_graph() -> nx.DiGraph:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for path in paths:
        graph.add_edges_from((module_name(path), target) for target in imported_modules(path, modules))
    return graph


def test_every_relative_import_names_a_module_of_the_package():
    """Imports inside functions run only when called: a wrong one is found here, not by a user."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    unresolved = {(module_name(p), target) for p in paths for target in relative_imports(p, modules) - modules}
    assert not unresolved, sorted(unresolved)


def test_there_is_no_import_cycle():
    cycles = list(nx.simple_cycles(import_graph()))
    assert cycles == [], cycles


def test_the_counting_core_does_not_import_the_command_line_or_training():
    graph = import_graph()
    for module in ("lrcount.count", "lrcount.engines.split", "lrcount.region", "lrcount.problem"):
        reached = nx.descendants(graph, module)
        assert not reached & {"lrcount.cli", "lrcount.train", "lrcount.compare", "lrcount.plot"}, module
