"""The dependency rules of CONVENTIONS.md, checked on the source with `ast`."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "scraper"

# Each module's layer: a module may import only from strictly lower layers.
LAYERS = {
    "errors": 0,
    "models": 1,
    "logs": 1,
    "urls": 1,
    "config": 2,  # reads models.Scope
    "addresses": 2,  # reads urls
    "schema": 0,  # SQL text only
    "store": 3,
    "readstore": 3,
    "fetcher": 3,
    "extract": 3,
    "parse": 4,  # uses extract
    "sitemap": 2,  # reads urls
    "politeness": 3,
    "robots": 3,
    "output": 3,
    "frontier": 4,
    "sink": 4,
    "gate": 4,
    "status": 4,
    "query": 4,
    "pipeline": 5,  # the per-URL work, joining the stages
    "orchestrator": 6,
    "reparse": 7,  # reuses the orchestrator's parse pool
    "sitegen": 6,
    "bench": 8,  # wiring: runs the orchestrator, the fetcher and benchscrapy against a served site
    "benchsite": 1,  # the bench's static site and its server process (errors only)
    "benchscrapy": 7,  # runs Scrapy (another interpreter) against the bench's served site
    "benchfrontier": 7,  # frontier memory: crawls of a fan-out site, RSS at 20k and 1M URLs
    "cliopts": 8,  # the crawl options and the settings of a run (reads a stored crawl's)
    "cliread": 9,  # the read commands (query, search, export, stats, status)
    "cli": 10,
    "__main__": 11,
    "__init__": -1,
}
# Third-party libraries and the one module allowed to import each.
OWNERS = {
    "aiohttp": {"fetcher", "sitegen"},
    "aiosqlite": {"store", "readstore"},
    "orjson": {"store"},
    "selectolax": {"parse", "extract"},
    "charset_normalizer": {"parse"},
    "tenacity": {"fetcher"},
    "typer": {"cli", "cliread", "cliopts"},
    "rich": {"output"},
    "protego": {"robots"},
    "click": set(),
}


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


MODULES = sorted(p.stem for p in PACKAGE.glob("*.py"))


def test_every_module_has_a_layer():
    """Each module of the package is placed in the layer table."""
    assert set(MODULES) <= set(LAYERS)


@pytest.mark.parametrize("module", MODULES)
def test_imports_point_down(module: str):
    """A module imports only package modules of a lower layer (the package root is free)."""
    for name in imports(PACKAGE / f"{module}.py"):
        if name.startswith("scraper."):
            target = name.split(".")[1]
            assert LAYERS[target] < LAYERS[module], f"{module} imports {target}"


@pytest.mark.parametrize("module", MODULES)
def test_third_party_libraries_have_one_owner(module: str):
    """aiohttp, aiosqlite, selectolax, tenacity, typer and rich are each imported in one place."""
    for name in imports(PACKAGE / f"{module}.py"):
        top = name.split(".")[0]
        if top in OWNERS:
            assert module in OWNERS[top], f"{module} imports {top}"


def test_no_bare_create_task_in_the_package():
    """Tasks are started in a TaskGroup (tg.create_task), never with asyncio.create_task."""
    for path in PACKAGE.glob("*.py"):
        assert "asyncio.create_task" not in path.read_text(), path.name
