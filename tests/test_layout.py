"""The package's layout is its architecture: imports flow one way, modules and functions stay small."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sidecar"

# Each layer may import only from the layers listed for it (and from itself).
ALLOWED = {
    "errors": set(),
    "exits": set(),
    "faults": set(),
    "inputs": {"errors"},
    "rows": {"errors", "inputs"},
    "settings": {"errors", "inputs", "rows"},
    "store": {"errors", "faults", "inputs", "settings", "rows"},
    "engine": {"errors", "faults", "inputs", "settings", "rows", "store"},
    "tools": {"errors", "inputs", "settings", "rows", "store"},
    "service": {"errors", "faults", "inputs", "settings", "rows", "store", "engine"},
    "logs": {"errors"},
    "cli": {"errors", "exits", "settings", "rows", "store", "engine", "tools", "service", "logs"},
    "__main__": {"exits", "cli"},
    "__init__": set(),
}


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def _layer(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imported_layers(path: Path) -> set[str]:
    """The sidecar layers a module imports (relative or absolute imports alike)."""
    tree = ast.parse(path.read_text())
    depth = len(path.relative_to(PACKAGE).parts) - 1  # 0 for sidecar/x.py, 1 for sidecar/rows/x.py
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names = [node.module] if node.module and node.module.startswith("sidecar") else []
                found.update(n.split(".")[1] for n in names if "." in n)
                continue
            if node.level <= depth:  # within the same layer package
                continue
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("sidecar."))
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_from_higher_layers_to_lower_ones_only(path):
    layer = _layer(path)
    forbidden = _imported_layers(path) - ALLOWED[layer] - {layer, "__version__"}
    assert not forbidden, f"{path.relative_to(PACKAGE)} ({layer}) imports {sorted(forbidden)}"


def test_the_import_check_sees_a_forbidden_import(tmp_path, monkeypatch):
    fake = PACKAGE / "rows" / "__layout_probe__.py"
    try:
        fake.write_text("from ..store.ledger import Ledger\nfrom . import convert\n")
        assert _imported_layers(fake) == {"store"}
    finally:
        fake.unlink()


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_400_lines_and_no_function_over_60(path):
    source = path.read_text()
    assert source.count("\n") <= 400, f"{path.name} has {source.count(chr(10))} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= 60, f"{path.name}: {node.name}() is {length} lines"
