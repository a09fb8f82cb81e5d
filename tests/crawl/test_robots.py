"""Crawls that obey robots.txt and follow sitemaps, against the synthetic site."""

import itertools
import time

from aiohttp.test_utils import TestServer

from scraper.testing import CONFIG
from tests.conftest import CrawlFn, traffic


def robots(site: TestServer, body: str, status: int = 200) -> None:
    config = site.app[CONFIG]
    config.robots_status = status
    config.robots_body = body


async def test_disallowed_urls_are_blocked_and_never_requested(site: TestServer, crawl: CrawlFn):
    """A path robots.txt disallows is recorded `blocked` and the server never sees it."""
    robots(site, "User-agent: *\nDisallow: /a\nDisallow: /deep/\n")
    result = await crawl(site.make_url("/"))
    hits = traffic(site).hits
    assert "/a" not in hits
    assert not any(path.startswith("/deep/") for path in hits)
    assert hits["/robots.txt"] == 1
    blocked = result.rows("SELECT url, last_error FROM frontier WHERE state = 'blocked'")
    assert {(url.split("/", 3)[3], reason) for url, reason in blocked} == {
        ("a", "robots"),
        ("deep/1", "robots"),
    }
    assert result.rows("SELECT count(*) FROM pages WHERE url LIKE '%/a'") == [(0,)]


async def test_group_for_our_product_token_wins(site: TestServer, crawl: CrawlFn):
    """Rules in a `User-agent: scraper` group apply to us instead of the `*` group."""
    robots(site, "User-agent: *\nDisallow: /\n\nUser-agent: scraper\nDisallow: /c\n")
    await crawl(site.make_url("/"), max_depth=1)
    hits = traffic(site).hits
    assert "/c" not in hits
    assert hits["/a"] == 1


async def test_robots_404_allows_everything(site: TestServer, crawl: CrawlFn):
    """With no robots.txt (404) every page is crawled and robots.txt is asked for once."""
    result = await crawl(site.make_url("/"))
    assert traffic(site).hits["/robots.txt"] == 1
    assert result.summary.pages == 11


async def test_no_robots_flag_skips_robots_entirely(site: TestServer, crawl: CrawlFn):
    """With robots off, a disallow-all robots.txt is neither fetched nor obeyed."""
    robots(site, "User-agent: *\nDisallow: /\n")
    result = await crawl(site.make_url("/"), robots=False)
    assert "/robots.txt" not in traffic(site).hits
    assert result.summary.pages == 11


async def test_unreachable_robots_blocks_the_host_after_retry_rounds(
    site: TestServer, crawl: CrawlFn
):
    """robots.txt answering 500 disallows the host; it is asked again later, then URLs block."""
    robots(site, "", status=500)
    started = time.monotonic()
    result = await crawl(site.make_url("/"), retries=0, robots_retry_s=0.2)
    elapsed = time.monotonic() - started
    hits = traffic(site).hits
    assert hits == {"/robots.txt": 3}
    assert result.rows("SELECT state, last_error FROM frontier") == [
        ("blocked", "robots_unreachable")
    ]
    assert 0.55 <= elapsed < 3.0  # waits 0.2 s then 0.4 s between the rounds


async def test_crawl_delay_spaces_requests(site: TestServer, crawl: CrawlFn):
    """A robots.txt Crawl-delay of 0.2 s spaces the starts of requests to the host."""
    robots(site, "User-agent: *\nCrawl-delay: 0.2\n")
    started = time.monotonic()
    await crawl(site.make_url("/fan/3?ms=0"), per_host=4)
    elapsed = time.monotonic() - started
    starts = [t for t, path in traffic(site).starts if path != "/robots.txt"]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 4
    assert min(gaps) >= 0.18
    assert elapsed < 3.0


async def test_sitemaps_named_in_robots_are_crawled(site: TestServer, crawl: CrawlFn):
    """Sitemap: lines lead to a sitemap index, its gzip child, and every URL they list."""
    robots(site, f"User-agent: *\nAllow: /\nSitemap: {site.make_url('/sitemap_index.xml')}\n")
    await crawl(site.make_url("/dir/leaf"))
    hits = traffic(site).hits
    for path in ("/sitemap_index.xml", "/sitemap.xml", "/sitemap2.xml.gz", "/a", "/slow/1"):
        assert hits[path] == 1, path
    assert hits["/deep/1?limit=1"] == 1
    assert hits["/slow/2"] == 1


async def test_sitemap_given_as_seed_adds_its_urls(site: TestServer, crawl: CrawlFn):
    """A sitemap.xml seed is fetched once and the pages it lists are crawled at depth 1."""
    result = await crawl(site.make_url("/sitemap.xml"), max_depth=1)
    base = str(site.make_url("")).rstrip("/")
    depths = dict(result.rows("SELECT url, depth FROM pages"))
    assert depths[f"{base}/sitemap.xml"] == 0
    assert depths[f"{base}/a"] == 1
    assert depths[f"{base}/dir/leaf"] == 1
    assert f"{base}/deep/1?limit=1" in depths


async def test_robots_answering_503_once_is_asked_again_later(site: TestServer, crawl: CrawlFn):
    """A 503 from robots.txt holds the host; the next round finds rules and the crawl goes on."""
    site.app[CONFIG].robots_failures = 1
    robots(site, "User-agent: *\nDisallow: /c\n")
    started = time.monotonic()
    result = await crawl(site.make_url("/"), retries=0, robots_retry_s=0.3, max_depth=1)
    hits = traffic(site).hits
    robots_starts = [t for t, path in traffic(site).starts if path == "/robots.txt"]
    assert hits["/robots.txt"] == 2
    assert robots_starts[1] - robots_starts[0] >= 0.28
    assert "/c" not in hits
    assert hits["/a"] == 1
    assert result.summary.pages == 5  # home, /a, /b, the 404 and the PDF
    assert result.summary.blocked == 1  # /c
    assert result.summary.failed == 1  # /flaky/1, with no retries
    assert time.monotonic() - started < 5
