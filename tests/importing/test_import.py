"""``scraper import`` of WARC files written here with warcio: WACZ, revisits, the order of
versions, what query and search find, a cut file, and a resume of the imported crawl."""

import gzip
import os
from pathlib import Path

from aiohttp.test_utils import TestServer

from scraper.config import Settings
from scraper.crawl import import_archives
from scraper.testing.warcs import Captured, html_page, write_revisit, write_wacz, write_warc
from tests.conftest import pg_rows, rows, run_cli, traffic

OLD, NEW = "2014-05-01T10:00:00Z", "2024-05-01T10:00:00Z"


def settings(tmp_path: Path) -> Settings:
    return Settings(db=str(tmp_path / "crawl.db"), parse_workers=0)


async def test_a_wacz_imports_the_warcs_in_its_archive_folder(tmp_path: Path):
    """A WACZ's WARCs (gzip under a .warc name, as py-wacz writes) are imported, named by
    content, not by extension."""
    warc = tmp_path / "data.warc"
    page = Captured("http://a.test/", NEW, html_page("Zebra page", "stripes everywhere"))
    write_warc(warc, [page])
    wacz = tmp_path / "crawl.wacz"
    write_wacz(wacz, {"data.warc": warc.read_bytes()})
    status, out, err = await run_cli("import", str(wacz), "--db", str(tmp_path / "crawl.db"))
    assert (status, err) == (0, "")
    assert "imported 1 captures from 1 file(s)" in out
    assert rows(tmp_path / "crawl.db", "SELECT url, title FROM pages") == [
        ("http://a.test/", "Zebra page")
    ]


async def test_a_revisit_resolves_to_the_content_it_points_at(tmp_path: Path):
    """A revisit record (identical-payload-digest) becomes a capture at its own time of the
    content of the response it refers to, in another file."""
    original = Captured("http://a.test/", OLD, html_page("Kept title", "unchanged words"))
    write_warc(tmp_path / "one.warc.gz", [original])
    write_revisit(tmp_path / "two.warc.gz", original, NEW)
    summary = await import_archives(
        settings(tmp_path), [tmp_path / "two.warc.gz", tmp_path / "one.warc.gz"]
    )
    assert [r.imported for r in summary.files] == [1, 1]
    db = tmp_path / "crawl.db"
    assert rows(db, "SELECT title, text, fetched_at FROM pages") == [
        ("Kept title", "Kept title unchanged words", "2024-05-01T10:00:00.000+00:00")
    ]


async def test_versions_follow_warc_date_whatever_the_import_order(tmp_path: Path):
    """Captures of one URL become versions in WARC-Date order, and the page is the newest, when
    the older is imported after the newer: in one run or in a later one."""
    old = Captured("http://a.test/", OLD, html_page("Old title", "first words"))
    mid = Captured("http://a.test/", "2019-05-01T10:00:00Z", html_page("Mid title", "middle"))
    new = Captured("http://a.test/", NEW, html_page("New title", "last words"))
    write_warc(tmp_path / "new.warc.gz", [new])
    write_warc(tmp_path / "old.warc.gz", [mid, old])  # not in order within the file either
    await import_archives(settings(tmp_path), [tmp_path / "new.warc.gz", tmp_path / "old.warc.gz"])
    db = tmp_path / "crawl.db"
    history = "SELECT title FROM versions ORDER BY fetched_at"
    assert rows(db, history) == [("Old title",), ("Mid title",), ("New title",)]
    assert rows(db, "SELECT title FROM pages") == [("New title",)]
    again = tmp_path / "again"
    again.mkdir()
    await import_archives(settings(again), [tmp_path / "new.warc.gz"])
    await import_archives(settings(again), [tmp_path / "old.warc.gz"])  # a later import
    assert rows(again / "crawl.db", "SELECT title FROM pages") == [("New title",)]


async def test_query_and_search_find_imported_text(tmp_path: Path):
    """Imported pages (a gzip Content-Encoding undone) are in the full-text index and the
    pages table, with their Markdown."""
    aardvark = html_page("Aardvark facts", "the aardvark digs")
    pages = [
        Captured("http://a.test/", NEW, aardvark, gzip_encoded=True),
        Captured("http://a.test/b", NEW, html_page("Badger facts", "the badger sleeps")),
    ]
    write_warc(tmp_path / "a.warc.gz", pages)
    db = str(tmp_path / "crawl.db")
    assert (await run_cli("import", str(tmp_path / "a.warc.gz"), "--db", db))[0] == 0
    status, out, err = await run_cli("search", "aardvark", "--db", db)
    assert (status, err) == (0, "")
    assert '"url": "http://a.test/"' in out
    assert "badger" not in out
    status, out, _ = await run_cli("query", "SELECT count(*) AS n FROM pages_markdown", "--db", db)
    assert status == 0
    assert '"n": 2' in out


async def test_a_file_cut_short_imports_the_records_before_the_cut(tmp_path: Path):
    """A WARC cut in its third record gives the two pages before it and what the third holds,
    and says the third was cut; gzipped whole and cut, the same."""
    texts = [os.urandom(1500).hex() for _ in range(3)]  # no compression: a cut of 200 bytes
    pages = [html_page(f"Page {i}", t) for i, t in enumerate(texts)]
    captures = [Captured(f"http://a.test/{i}", NEW, page) for i, page in enumerate(pages)]
    whole = tmp_path / "whole.warc"
    write_warc(whole, captures, gzip_records=False)
    cut = tmp_path / "cut.warc"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size - 1500])
    status, _, err = await run_cli("import", str(cut), "--db", str(tmp_path / "crawl.db"))
    assert status == 0
    assert err.strip() == f"warning: {cut}: 1 record(s) cut short (imported as far as they go)"
    assert rows(tmp_path / "crawl.db", "SELECT count(*) FROM pages") == [(3,)]
    gz = tmp_path / "cut.warc.gz"
    gz.write_bytes(gzip.compress(whole.read_bytes())[:-200])  # gzipped whole, then cut
    status, _, err = await run_cli("import", str(gz), "--db", str(tmp_path / "gz.db"))
    assert status == 0
    assert err.strip() == (
        f"warning: {gz}: its gzip members are not one per record: read as one stream; "
        "1 record(s) cut short (imported as far as they go)"
    )
    assert rows(tmp_path / "gz.db", "SELECT count(*) FROM pages") == [(3,)]


async def test_an_imported_crawl_resumes_by_fetching_the_links_it_did_not_capture(
    site: TestServer, tmp_path: Path
):
    """After an import, ``resume`` fetches the pending links of the imported pages from the live
    site, and not the pages the archive held."""
    home = str(site.make_url("/"))
    link = str(site.make_url("/a"))
    write_warc(tmp_path / "a.warc.gz", [Captured(home, NEW, html_page("Home", "hi", [link]))])
    db = str(tmp_path / "crawl.db")
    status, out, err = await run_cli("import", str(tmp_path / "a.warc.gz"), "--db", db)
    assert (status, err) == (0, "")
    assert "1 links pending" in out
    status, out, err = await run_cli("resume", "--db", db, "--max-depth", "1", "--delay", "0")
    assert status == 0, err
    hits = traffic(site).hits
    assert hits.get("/a") == 1
    assert "/" not in hits
    assert rows(tmp_path / "crawl.db", "SELECT count(*) FROM pages") == [(2,)]


async def test_an_import_into_postgresql_orders_versions_by_warc_date(tmp_path: Path, pg_url: str):
    """On PostgreSQL too, captures become versions in WARC-Date order, the page the newest."""
    old = Captured("http://a.test/", OLD, html_page("Old title", "first words"))
    new = Captured("http://a.test/", NEW, html_page("New title", "last words"))
    write_warc(tmp_path / "new.warc.gz", [new])
    write_warc(tmp_path / "old.warc.gz", [old])
    pg = Settings(db=pg_url, parse_workers=0)
    await import_archives(pg, [tmp_path / "new.warc.gz"])
    await import_archives(pg, [tmp_path / "old.warc.gz"])
    assert await pg_rows(pg_url, "SELECT title FROM pages") == [("New title",)]
    history = "SELECT title FROM versions ORDER BY fetched_at"
    assert await pg_rows(pg_url, history) == [("Old title",), ("New title",)]
    states = await pg_rows(pg_url, "SELECT state, count(*) FROM frontier GROUP BY 1")
    assert states == [("done", 1)]


async def test_an_imported_crawl_recrawls_its_pages_from_the_live_site(
    site: TestServer, tmp_path: Path
):
    """``recrawl`` after an import revisits the imported page on the live site, which answers
    other content than the archive held: a second version, newer than the capture."""
    home = str(site.make_url("/"))
    write_warc(tmp_path / "a.warc.gz", [Captured(home, OLD, html_page("Archived", "long ago"))])
    db = str(tmp_path / "crawl.db")
    assert (await run_cli("import", str(tmp_path / "a.warc.gz"), "--db", db))[0] == 0
    status, _, err = await run_cli("recrawl", "--db", db, "--max-depth", "0", "--delay", "0")
    assert status == 0, err
    assert traffic(site).hits.get("/") == 1
    history = rows(tmp_path / "crawl.db", "SELECT title FROM versions ORDER BY fetched_at")
    assert len(history) == 2
    assert history[0] == ("Archived",)
    assert rows(tmp_path / "crawl.db", "SELECT title FROM pages") == [history[1]]
