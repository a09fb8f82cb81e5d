"""A round trip: a crawl with ``--archive`` exported as WARC and imported into a new database
gives the same pages (statuses, titles, texts) and the same Markdown; a redirect chain, one
page of the crawl, comes back as a page per hop."""

from pathlib import Path

from aiohttp.test_utils import TestServer

from tests.conftest import rows, run

PAGES = "SELECT url, status, title, text FROM pages"
MARKDOWN = "SELECT url, markdown FROM pages_markdown"


async def test_an_exported_crawl_imports_as_the_same_pages(site: TestServer, tmp_path: Path):
    """The CLI's crawl of the test site (a redirect, a 404, gzip, brotli and chunked bodies),
    its WARC export and its import into a new database: the same (url, status, title, text)
    rows and the same Markdown per URL; the redirect's page is its hops' pages, the last with
    the crawl's title and text."""
    crawled, imported = tmp_path / "crawl.db", tmp_path / "imported.db"
    warc = tmp_path / "crawl.warc.gz"
    seeds = [str(site.make_url(path)) for path in ("/", "/archive/", "/wide/0?fan=5&total=20")]
    code, _, err = await run(
        tmp_path, "crawl", *seeds, "--archive", "--delay", "0", "--db", str(crawled)
    )
    assert code == 0, err
    code, _, err = await run(
        tmp_path, "export", "-f", "warc", "-o", str(warc), "--db", str(crawled)
    )
    assert code == 0, err
    code, _, err = await run(tmp_path, "import", str(warc), "--db", str(imported))
    assert code == 0, err
    hop = [str(site.make_url(f"/redirect/{n}")) for n in range(3)]
    pages = set(rows(crawled, PAGES))
    assert len(pages) >= 30
    assert {200, 404} <= {status for _, status, _, _ in pages}
    (redirected,) = [p for p in pages if p[0] == hop[2]]
    assert redirected[1:3] == (200, "Redirect target")
    expected = pages - {redirected} | {(hop[0], *redirected[1:])}
    expected |= {(hop[1], 302, None, None), (hop[2], 302, None, None)}
    assert set(rows(imported, PAGES)) == expected
    markdown = {(hop[0] if url == hop[2] else url, md) for url, md in rows(crawled, MARKDOWN)}
    assert set(rows(imported, MARKDOWN)) == markdown
