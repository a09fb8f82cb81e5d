"""A crawl with --archive stores every hop of every page it fetched in ``captures``."""

import zlib

from aiohttp.test_utils import TestServer

from scraper.testing.archive import ARCHIVE_PAGES
from tests.conftest import CrawlFn


async def test_an_archive_crawl_captures_every_hop(site: TestServer, crawl: CrawlFn):
    """Pages, each redirect hop and a body cut at max_body_bytes are captured, the payload as
    served; the pages themselves are parsed from the decoded bytes as usual."""
    result = await crawl(site.make_url("/archive/"), max_depth=1, archive=True,
                         max_body_bytes=200_000)  # fmt: skip
    rows = result.rows(
        "SELECT target_uri, hop, status, body, truncated, version_id IS NOT NULL FROM captures"
    )
    base = str(site.make_url("")).rstrip("/")
    found = {r[0].removeprefix(base): r for r in rows}
    for path, page in ARCHIVE_PAGES.items():
        assert zlib.decompress(found[path][3]) == page.payload
        assert found[path][1:3] == (0, 200)
    assert [found[f"/redirect/{n}"][1:3] for n in (2, 1, 0)] == [(0, 302), (1, 302), (2, 200)]
    assert found["/huge/1?mode=chunked"][4] == 1
    assert all(r[5] for r in rows)  # each belongs to its page's version
    titles = dict(result.rows("SELECT url, title FROM pages"))
    assert titles[base + "/archive/br"] == "Archived page br"
