"""The tests mirror the package: a directory per package unit, helpers shared through conftest."""

import ast
from pathlib import Path

TESTS = Path(__file__).parent
PACKAGE = TESTS.parent / "scraper"
DATA = {"fixtures", "__pycache__"}  # directories of test data, not of tests

SOURCES = sorted(TESTS.rglob("*.py"))


def imported_modules(tree: ast.Module) -> list[str]:
    """Dotted names of the modules a file imports, ``from X import y`` giving both X and X.y."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            names.append(module)
            names += [f"{module}.{alias.name}".replace("..", ".") for alias in node.names]
    return names


def test_no_test_module_imports_another():
    """Shared helpers come from tests.conftest: no file under tests/ imports a test module."""
    found = {}
    for path in SOURCES:
        names = imported_modules(ast.parse(path.read_text(), str(path)))
        found[str(path.relative_to(TESTS))] = [
            name
            for name in names
            if name.startswith(("tests.", "."))
            and any(part.startswith("test_") for part in name.split("."))
        ]
    assert {path: names for path, names in found.items() if names} == {}


def test_each_test_directory_mirrors_a_package_unit():
    """Each directory of tests/ (test data aside) is a package named after a subpackage of scraper/,
    so test modules of the same name in two directories do not collide."""
    directories = [p for p in TESTS.iterdir() if p.is_dir() and p.name not in DATA]
    assert directories
    unmatched = [p.name for p in directories if not (PACKAGE / p.name / "__init__.py").is_file()]
    not_packages = [p.name for p in directories if not (p / "__init__.py").is_file()]
    assert (unmatched, not_packages) == ([], [])
