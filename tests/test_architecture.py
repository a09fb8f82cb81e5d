"""The dependency rules of CONVENTIONS.md, checked per package on the source with `ast`.

A *unit* is a top-level module (``scraper/urls.py``) or a subpackage (``scraper/crawl/``). Units
sit in layers; a unit imports only units of strictly lower layers (modules inside one package may
use each other). ``bench`` and ``testing`` sit outside the product: nothing in the product imports
them, except the ``bench`` command, which imports ``scraper.bench`` inside its function.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "scraper"

LAYERS = {
    "__init__": -1,  # the version string, importable from anywhere
    "errors": 0,
    "models": 1,
    "urls": 1,
    "digest": 2,  # the hashes revisits compare: stdlib only
    "timespec": 1,  # durations and times as users write them
    "logs": 1,
    "sites": 1,  # per-site settings: [site."PATTERN"] tables
    "output": 1,  # rich only: shows what it is given
    "config": 2,
    "fetch": 3,  # the only HTTP client
    "parse": 3,  # pure and picklable
    "storage": 3,  # all SQL
    "importing": 3,  # reading web archives (WARC, ARC, WACZ) for `scraper import`
    "query": 4,  # read services over storage
    "render": 4,  # the headless browser of pages built by JavaScript (over fetch's guard)
    "crawl": 5,  # the engine
    "export": 5,  # exports of the main content over the read store
    "cli": 6,
    "__main__": 7,
    # outside the product
    "testing": 8,  # the local test site and process helpers
    "bench": 9,  # uses the engine, the fetcher and testing's helpers
}
OUTSIDE_PRODUCT = {"bench", "testing"}
# The one place a product unit may import a unit outside the product, inside a function only.
LAZY_ALLOWED = {("cli", "bench")}

# Third-party libraries and the one unit allowed to import each (testing: the test site's server).
OWNERS = {
    "aiohttp": {"fetch", "testing"},
    "aiohttp_socks": {"fetch"},  # SOCKS5 proxies
    "python_socks": {"fetch"},  # aiohttp-socks' errors
    "tenacity": {"fetch", "storage"},  # retries: of fetches, of transactions (PostgreSQL)
    "aiosqlite": {"storage"},
    "psycopg": {"storage"},
    "psycopg_pool": {"storage"},
    "orjson": {"storage"},
    "selectolax": {"parse"},
    "charset_normalizer": {"parse"},
    "protego": {"parse"},
    "warcio": {"importing", "testing"},  # testing: WARC files for the import's tests
    "typer": {"cli"},
    "rich": {"output"},
    "click": set(),  # typer vendors it: never import click
}


def unit_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def source_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imports(path: Path) -> Iterator[tuple[str, bool]]:
    """(module imported, at module level?) for every absolute import of ``path``."""
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in top_level
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, id(node) in top_level
            if node.module == "scraper":  # from scraper import crawl
                yield from (
                    (f"scraper.{a.name}", id(node) in top_level)
                    for a in node.names
                    if not a.name.startswith("__")
                )


FILES = source_files()
IDS = [str(p.relative_to(PACKAGE)) for p in FILES]


def test_every_unit_has_a_layer():
    """Each top-level module and subpackage of the package is placed in the layer table."""
    assert {unit_of(p) for p in FILES} == set(LAYERS)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_imports_point_down(path: Path):
    """A unit imports only units of lower layers; the product never imports bench or testing."""
    unit = unit_of(path)
    for name, at_top in imports(path):
        parts = name.split(".")
        if parts[0] != "scraper" or len(parts) == 1 or parts[1] == unit:
            continue
        target = parts[1]
        if target in OUTSIDE_PRODUCT and unit not in OUTSIDE_PRODUCT:
            assert (unit, target) in LAZY_ALLOWED, f"{unit} imports {target}"
            assert not at_top, f"{unit} imports {target} at module level"
            continue
        assert LAYERS[target] < LAYERS[unit], f"{unit} imports {target}"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_third_party_libraries_have_one_owner(path: Path):
    """aiohttp, aiosqlite, selectolax, tenacity, typer, rich... are each imported by one unit."""
    unit = unit_of(path)
    for name, _ in imports(path):
        top = name.split(".")[0]
        if top in OWNERS:
            assert unit in OWNERS[top], f"{unit} imports {top}"


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_modules_stay_small(path: Path):
    """Modules stay under about 400 lines (CONVENTIONS.md: a module is read whole)."""
    assert len(path.read_text().splitlines()) <= 420


def test_no_bare_create_task_in_the_package():
    """Tasks are started in a TaskGroup (tg.create_task), never with asyncio.create_task."""
    for path in FILES:
        assert "asyncio.create_task" not in path.read_text(), path.name


def test_storage_is_the_only_unit_with_sql():
    """All SQL lives behind the storage layer: no other unit says SELECT/INSERT/UPDATE ... FROM."""
    for path in FILES:
        if unit_of(path) in {"storage", "testing", "bench"}:
            continue
        text = path.read_text()
        for word in ("INSERT INTO", "UPDATE frontier", "SELECT count(*) FROM"):
            assert word not in text, f"{path.name}: {word}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The package's modules ``path`` imports, anywhere in it (``from pkg import mod``: the
    module ``pkg.mod``, not the package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & known
            found |= subs or {node.module}
    return found & known


def test_no_two_modules_import_each_other():
    """No circle of imports between the package's modules, lazy imports included (a circle is
    one module's parts in two files)."""
    names = {module_name(p): p for p in FILES}
    graph = {name: imported_modules(path, set(names)) - {name} for name, path in names.items()}
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            name = todo.pop()
            assert name != start, f"{start} is imported again by a module it imports"
            if name not in seen:
                seen.add(name)
                todo += graph[name]
