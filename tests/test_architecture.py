"""The package's shape, as docs/architecture.md draws it: data flows one way through the layers,
and modules stay small."""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "vindex"

# Bottom to top; a module may import its own layer and the layers below (docs/architecture.md).
LAYERS = [
    ("foundation", ["defaults", "display", "errors", "locations", "results", "hits", "clock", "norms"]),
    ("files", ["scanning", "frames", "stills", "footage", "fingerprints", "sample_pictures", "shots", "shot_frames", "sampling", "demo"]),
    ("vectors", ["embedding"]),
    ("store", ["store", "schema", "locking"]),
    ("indexing", ["indexing"]),
    ("analysis", ["search", "segments", "moment_pictures", "duplicates", "clustering"]),
    ("outputs", ["report", "gallery", "organizing", "exporting", "info"]),
    ("library", ["index", "curating"]),
    ("interfaces", ["cli", "curation_cli", "serve_cli", "model_cli", "upkeep_cli", "served_query", "options", "output", "serve", "__main__"]),
]
LEVEL = {name: level for level, (_, names) in enumerate(LAYERS) for name in names}
MAX_LINES = 420

def modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def stage_of(path: Path) -> str:
    """The top-level module or package a file belongs to ("indexing" for vindex/indexing/plan.py)."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported_stages(path: Path) -> set[str]:
    """Top-level vindex modules that `path` imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(), str(path))
    package_parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this file's package
                base = list(package_parts[: len(package_parts) - node.level])
                if path.name == "__init__.py":
                    base = list(package_parts[: len(package_parts) - node.level + 1])
                module = ".".join(base + ([node.module] if node.module else []))
                names = [module] + [f"{module}.{alias.name}" for alias in node.names]
            else:
                names = [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "vindex" and len(parts) > 1 and parts[1] in LEVEL:
                found.add(parts[1])
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The vindex modules (files) that `path` imports anywhere: at module level, inside functions,
    and under `if TYPE_CHECKING:`, since a type-only cycle is still two modules that need each other.
    `from vindex.a import b` names the module `vindex.a.b` when that is a file, else `vindex.a`."""
    tree = ast.parse(path.read_text(), str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            names = [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for imported in names:
            while imported and imported not in known:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                found.add(imported)
    return found


def import_cycles() -> list[list[str]]:
    """Each set of modules that import one another, directly or through others (the strongly
    connected components of the import graph with more than one module), sorted."""
    files = {module_name(path): path for path in modules()}
    graph = {name: imported_modules(path, set(files)) for name, path in files.items()}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in order:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], order[target])
        if low[node] == order[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(graph):
        if name not in order:
            visit(name)
    return sorted(cycles)


def test_no_import_cycles():
    cycles = import_cycles()
    assert not cycles, f"modules that import each other (type-only imports count): {cycles}"


def test_an_import_cycle_is_found(tmp_path, monkeypatch):
    """The check itself: two modules that import each other only for types form a cycle."""
    package = tmp_path / "vindex"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from vindex.sub.a import A\n")
    (package / "sub" / "a.py").write_text("from vindex.sub.b import B\nclass A: ...\n")
    (package / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from vindex.sub.a import A\nclass B: ...\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    assert import_cycles() == [["vindex.sub.a", "vindex.sub.b"]]


def test_every_module_has_a_layer():
    unplaced = {stage_of(path) for path in modules()} - set(LEVEL) - {"__init__"}
    assert not unplaced, f"add these to LAYERS and docs/architecture.md: {sorted(unplaced)}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_one_way(path):
    stage = stage_of(path)
    if stage == "__init__":  # the package's front door re-exports the library's public names
        return
    upward = {name for name in imported_stages(path) if LEVEL[name] > LEVEL[stage]}
    assert not upward, f"{path.name} ({LAYERS[LEVEL[stage]][0]}) reaches up to {sorted(upward)}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines: split it by job"
