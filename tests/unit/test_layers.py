"""Dependencies point one way: ui → controller → workers → service → store, domain."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "envops_desktop"
ORDER = ["ui", "controller", "workers", "service", "store", "domain"]


def _imports(module: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("layer", ORDER[1:])
def test_a_layer_imports_nothing_above_it(layer):
    above = {f"envops_desktop.{name}" for name in ORDER[: ORDER.index(layer)]}
    upward = {
        f"{module.relative_to(PACKAGE)} imports {name}"
        for module in (PACKAGE / layer).rglob("*.py")
        for name in _imports(module)
        if any(name == a or name.startswith(a + ".") for a in above)
    }
    assert upward == set()


@pytest.mark.parametrize("layer", ["service", "store", "domain"])
def test_the_engine_never_imports_qt(layer):
    with_qt = {
        str(module.relative_to(PACKAGE))
        for module in (PACKAGE / layer).rglob("*.py")
        if any(name.startswith("PySide6") for name in _imports(module))
    }
    assert with_qt == set()
