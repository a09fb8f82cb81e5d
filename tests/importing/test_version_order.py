"""A URL's latest version is the one fetched last, not the one written last: an older capture
imported after a newer one leaves the views, a reparse's page and the chunks delta on the newer
(both backends), and a schema-12 crawl gets the views made again by fetch time."""

import sqlite3
from pathlib import Path

import pytest

from scraper.config import Settings
from scraper.crawl import import_archives
from scraper.export import export_chunks
from scraper.storage import open_crawl_store
from scraper.storage.sqlite.schema import SCHEMA_VERSION
from scraper.testing.warcs import Captured, html_page, write_warc
from tests.conftest import PG_VERSION_12, VERSION_12, pg_rows, rows, run_cli

OLD, NEW = "2014-05-01T10:00:00Z", "2024-05-01T10:00:00Z"
# What the views show of the page, and the title of the version each one points at.
VIEWS = """
SELECT m.markdown LIKE '%last words%', v1.title, v2.title
FROM pages_markdown AS m JOIN versions AS v1 ON v1.id = m.version_id
JOIN pages_metadata AS d ON d.url = m.url JOIN versions AS v2 ON v2.id = d.version_id
"""
META = "SELECT value FROM meta WHERE key = 'schema_version'"


async def import_new_then_old(tmp_path: Path, db: str, *, store_html: bool = False) -> None:
    """Two imports of one URL: the 2024 capture, then (a later run) the 2014 one."""
    write_warc(tmp_path / "new.warc.gz", [Captured("http://a.test/", NEW, new_page())])
    old = html_page("Old title", "first words")
    write_warc(tmp_path / "old.warc.gz", [Captured("http://a.test/", OLD, old)])
    settings = Settings(db=db, parse_workers=0, store_html=store_html)
    await import_archives(settings, [tmp_path / "new.warc.gz"])
    await import_archives(settings, [tmp_path / "old.warc.gz"])


def new_page() -> bytes:
    return html_page("New title", "last words")


async def view_rows(backend: str, address: str) -> list[tuple[object, ...]]:
    if backend == "postgres":
        return await pg_rows(address, VIEWS) + await pg_rows(address, META)
    return rows(Path(address), VIEWS) + rows(Path(address), META)


def address_of(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "crawl.db")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_an_older_capture_imported_later_leaves_the_views_on_the_newer(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """After the 2014 capture is imported after the 2024 one, pages_markdown and
    pages_metadata show the 2024 version (its Markdown, its metadata row)."""
    address = address_of(backend, tmp_path, request)
    await import_new_then_old(tmp_path, address)
    assert await view_rows(backend, address) == [
        (True, "New title", "New title"),
        (str(SCHEMA_VERSION),),
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_version_12_crawl_gets_its_views_by_fetch_time(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """A schema-12 crawl (views by highest id: the 2014 capture imported last) opened again
    has its views made again by fetch time: they show the 2024 version."""
    address = address_of(backend, tmp_path, request)
    await import_new_then_old(tmp_path, address)
    if backend == "postgres":
        await pg_rows(
            address, PG_VERSION_12 + "UPDATE meta SET value = '12' WHERE key = 'schema_version'"
        )
    else:
        with sqlite3.connect(address) as conn:
            conn.executescript(VERSION_12)
    assert (await view_rows(backend, address))[0] == (False, "Old title", "Old title")
    async with open_crawl_store(address):
        pass
    assert await view_rows(backend, address) == [
        (True, "New title", "New title"),
        (str(SCHEMA_VERSION),),
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_chunks_since_compare_with_the_version_fetched_last_before(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """``export --chunks --changed-since 2020`` after imports of the 2024, 2019 and 2014
    captures in that order: the delta is from the 2019 version (the last fetched before), not
    from the 2014 one (written last, and the same as 2024's)."""
    address = address_of(backend, tmp_path, request)
    captures = [
        (NEW, new_page()),
        ("2019-05-01T10:00:00Z", html_page("Mid title", "middle words")),
        (OLD, new_page()),
    ]
    for n, (date, body) in enumerate(captures):
        write_warc(tmp_path / f"{n}.warc.gz", [Captured("http://a.test/", date, body)])
        await import_archives(Settings(db=address, parse_workers=0), [tmp_path / f"{n}.warc.gz"])
    async with export_chunks(address, "2020-01-01T00:00:00.000+00:00") as found:
        delta = [(row[0], "last words" in str(row[-1])) for row in await found.fetch()]
    assert sorted(delta) == [("delete", False), ("upsert", True)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_reparse_leaves_the_page_on_the_version_fetched_last(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """``scraper reparse`` of the two imported versions (bodies kept) leaves the page with the
    2024 version's title, not the 2014 one's (written last)."""
    address = address_of(backend, tmp_path, request)
    await import_new_then_old(tmp_path, address, store_html=True)
    status, _, err = await run_cli("reparse", "--db", address)
    assert (status, err) == (0, "")
    check = "SELECT title, text FROM pages"
    found = await pg_rows(address, check) if backend == "postgres" else rows(Path(address), check)
    assert found == [("New title", "New title last words")]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_an_older_capture_of_the_same_content_imported_later_is_a_version(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """The 2014 capture of the content the 2024 one has, imported after it, is compared with
    what preceded it in time (nothing): a 'new' version of 2014, so the history says what the
    page said in 2015."""
    address = address_of(backend, tmp_path, request)
    settings = Settings(db=address, parse_workers=0)
    for n, date in enumerate((NEW, OLD)):
        write_warc(tmp_path / f"{n}.warc.gz", [Captured("http://a.test/", date, new_page())])
        await import_archives(settings, [tmp_path / f"{n}.warc.gz"])
    check = (
        "SELECT substr(CAST(fetched_at AS text), 1, 4), change FROM versions ORDER BY fetched_at"
    )
    found = await pg_rows(address, check) if backend == "postgres" else rows(Path(address), check)
    assert found == [("2014", "new"), ("2024", "new")]
