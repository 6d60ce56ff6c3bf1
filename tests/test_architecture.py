"""The package's shape, as docs/architecture.md draws it: data flows one way through the layers,
and modules stay small."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "vindex"

# Bottom to top; a module may import its own layer and the layers below (docs/architecture.md).
LAYERS = [
    ("foundation", ["defaults", "errors", "locations", "results"]),
    ("files", ["scanning", "frames", "stills", "fingerprints", "shots", "sampling", "demo"]),
    ("vectors", ["embedding"]),
    ("store", ["store", "schema", "vector_index", "locking", "checking"]),
    ("indexing", ["indexing"]),
    ("analysis", ["search", "segments", "duplicates", "clustering"]),
    ("outputs", ["report", "gallery", "organizing", "exporting", "info"]),
    ("library", ["index"]),
    ("interfaces", ["cli", "options", "output", "serve", "__main__"]),
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
