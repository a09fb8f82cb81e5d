"""End-to-end crawls of the synthetic site: what is stored, and what the server saw."""

import asyncio
import itertools
import json
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from scraper.config import load_settings
from tests.conftest import CrawlFn, traffic


async def test_crawl_stores_exactly_the_reachable_pages_once(site: TestServer, crawl: CrawlFn):
    """Every page reachable on the seed's host is stored once, with its title, status and depth."""
    result = await crawl(site.make_url("/"))
    base = str(site.make_url("")).rstrip("/")
    assert result.pages() == {
        f"{base}/": (200, "Home", "text/html", 0),
        f"{base}/a": (200, "Page A", "text/html", 1),
        f"{base}/b?x=1": (200, "Page B", "text/html", 1),
        f"{base}/c": (200, "Page C", "text/html", 1),
        f"{base}/status/404": (404, None, "text/html", 1),
        f"{base}/flaky/1": (200, "Flaky 1", "text/html", 1),
        f"{base}/doc.pdf": (200, None, "application/pdf", 1),
        f"{base}/dir/leaf": (200, "Leaf", "text/html", 2),
        f"{base}/deep/1": (200, "Deep 1", "text/html", 2),
        f"{base}/deep/2?limit=3": (200, "Deep 2", "text/html", 3),
        f"{base}/deep/3?limit=3": (200, "Deep 3", "text/html", 4),
    }
    assert result.summary.pages == 11
    assert result.summary.failed == 0


async def test_server_sees_each_url_once_except_retries(site: TestServer, crawl: CrawlFn):
    """No URL is requested twice; only the 500-then-200 page is requested again."""
    await crawl(site.make_url("/"))
    hits = traffic(site).hits
    assert hits.pop("/flaky/1") == 2
    assert hits.pop("/robots.txt") == 1
    assert set(hits.values()) == {1}
    assert len(hits) == 10


async def test_links_are_resolved_normalized_and_filtered(site: TestServer, crawl: CrawlFn):
    """Links are stored absolute and normalized; javascript/mailto/tel/data links are dropped."""
    result = await crawl(site.make_url("/"), max_depth=1)
    base = str(site.make_url("")).rstrip("/")
    links = {to for (to,) in result.rows("SELECT to_url FROM links WHERE from_url = ?", base + "/")}
    assert links == {
        f"{base}/a",
        f"{base}/b?x=1",
        f"{base}/c",
        f"{base}/status/404",
        f"{base}/flaky/1",
        f"{base}/doc.pdf",
        "http://elsewhere.invalid/page",
    }
    leaf = result.rows("SELECT to_url FROM links WHERE from_url = ?", f"{base}/a")
    assert (f"{base}/dir/leaf",) in leaf  # resolved against <base href="/dir/">


async def test_external_links_are_recorded_but_not_followed(site: TestServer, crawl: CrawlFn):
    """With the default host scope, a link to another host is in `links` but not the frontier."""
    result = await crawl(site.make_url("/"), max_depth=1)
    assert result.rows("SELECT count(*) FROM frontier WHERE url LIKE '%elsewhere%'") == [(0,)]
    assert result.rows("SELECT count(*) FROM links WHERE to_url LIKE '%elsewhere%'") == [(1,)]


async def test_visible_text_excludes_scripts_and_styles(site: TestServer, crawl: CrawlFn):
    """Page text holds what a reader sees, not script or style contents."""
    result = await crawl(site.make_url("/b?x=1"), max_depth=0)
    [(text, description)] = result.rows("SELECT text, description FROM pages")
    assert "Page B" in text
    assert "hidden" not in text
    assert description is None


async def test_non_html_is_recorded_not_parsed(site: TestServer, crawl: CrawlFn):
    """A PDF is stored with its content type and size, no title, text or links."""
    result = await crawl(site.make_url("/doc.pdf"))
    [row] = result.rows("SELECT status, content_type, size_bytes, title, text FROM pages")
    assert row == (200, "application/pdf", 2016, None, None)
    assert result.rows("SELECT count(*) FROM links") == [(0,)]


async def test_flaky_page_is_retried_then_stored(site: TestServer, crawl: CrawlFn):
    """A URL that fails twice with 500 is fetched three times and stored once."""
    result = await crawl(site.make_url("/flaky/2"), retries=3)
    assert traffic(site).hits["/flaky/2"] == 3
    assert result.rows("SELECT status, title FROM pages") == [(200, "Flaky 2")]
    assert result.rows("SELECT state, attempts, last_error FROM frontier") == [("done", 3, None)]


async def test_page_failing_every_attempt_is_recorded_failed(site: TestServer, crawl: CrawlFn):
    """After its retries a failing URL is `failed` with reason and attempts, and the crawl ends."""
    result = await crawl(site.make_url("/flaky/9"), retries=2)
    assert traffic(site).hits["/flaky/9"] == 3
    assert result.rows("SELECT count(*) FROM pages") == [(0,)]
    assert result.rows("SELECT state, attempts, last_error FROM frontier") == [
        ("failed", 3, "http_500")
    ]
    assert result.summary.failed == 1


async def test_unreachable_host_is_recorded_failed(crawl: CrawlFn, unused_tcp_port: int):
    """A refused connection is retried, then recorded as a connect error; nothing is stored."""
    result = await crawl(f"http://127.0.0.1:{unused_tcp_port}/", retries=1, robots=False)
    assert result.rows("SELECT state, attempts, last_error FROM frontier") == [
        ("failed", 2, "connect_error")
    ]


async def test_host_unreachable_for_robots_fails_its_urls_at_once(
    crawl: CrawlFn, unused_tcp_port: int
):
    """When even robots.txt cannot connect, the host's URLs fail with that reason, unrequested."""
    started = time.monotonic()
    result = await crawl(f"http://127.0.0.1:{unused_tcp_port}/", retries=1)
    assert time.monotonic() - started < 5
    assert result.rows("SELECT state, attempts, last_error FROM frontier") == [
        ("failed", 0, "connect_error")
    ]


async def test_per_host_limit_holds_in_flight_requests(site: TestServer, crawl: CrawlFn):
    """With --per-host 2 the server never sees more than 2 requests at once from the crawler."""
    result = await crawl(site.make_url("/fan/12?ms=60"), concurrency=8, per_host=2)
    assert traffic(site).peak_in_flight == 2
    assert result.summary.pages == 13


async def test_delay_spaces_request_starts(site: TestServer, crawl: CrawlFn):
    """With --delay 0.1, consecutive requests to one host start at least ~0.1 s apart."""
    await crawl(site.make_url("/fan/5?ms=0"), concurrency=8, per_host=4, delay_s=0.1)
    starts = [t for t, _ in traffic(site).starts]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 7  # robots.txt and six pages
    assert min(gaps) >= 0.09
    assert starts[-1] - starts[0] < 1.5


async def test_busy_host_does_not_hold_the_pool(aiohttp_server, crawl: CrawlFn):
    """Two hosts with per-host 1 are crawled side by side, not one after the other."""
    from scraper.testing import make_app

    one, two = await aiohttp_server(make_app()), await aiohttp_server(make_app())
    started = time.monotonic()
    result = await crawl(
        one.make_url("/fan/5?ms=200"), two.make_url("/fan/5?ms=200"), concurrency=4, per_host=1
    )
    elapsed = time.monotonic() - started
    assert result.summary.pages == 12
    assert traffic(one).peak_in_flight == traffic(two).peak_in_flight == 1
    assert 1.0 <= elapsed < 1.9  # 5 x 0.2 s per host in parallel; serially it would be 2 s+


async def test_max_pages_is_exact(site: TestServer, crawl: CrawlFn):
    """--max-pages 4 leaves exactly 4 pages in the database; the rest stays pending."""
    result = await crawl(site.make_url("/fan/20?ms=10"), max_pages=4, concurrency=8, per_host=8)
    assert result.rows("SELECT count(*) FROM pages") == [(4,)]
    assert sum(traffic(site).hits.values()) == 4 + 1  # and robots.txt
    assert result.rows("SELECT count(*) FROM frontier WHERE state = 'pending'") == [(17,)]


async def test_max_depth_stops_a_chain(site: TestServer, crawl: CrawlFn):
    """--max-depth 2 from /deep/1 stores three links of an endless chain."""
    result = await crawl(site.make_url("/deep/1?limit=1000"), max_depth=2)
    assert sorted(title for _, title, _, _ in result.pages().values()) == [
        "Deep 1",
        "Deep 2",
        "Deep 3",
    ]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"allow": ("/a$", "/dir/")}, {"/", "/a", "/dir/leaf"}),
        ({"deny": ("deep", "flaky", "status", "pdf", "/b", "/c")}, {"/", "/a", "/dir/leaf"}),
    ],
)
async def test_allow_and_deny_filter_followed_links(site, crawl: CrawlFn, options, expected):
    """--allow keeps only matching URLs, --deny drops matching ones; the seed is always crawled."""
    result = await crawl(site.make_url("/"), **options)
    base = str(site.make_url("")).rstrip("/")
    assert {url.removeprefix(base) for url in result.pages()} == expected


async def test_scope_any_follows_other_hosts(aiohttp_server, crawl: CrawlFn):
    """Scope `host` stays on the seed's host; scope `any` follows a link to another host."""
    from scraper.testing import make_app

    one, two = await aiohttp_server(make_app()), await aiohttp_server(make_app())
    seed = one.make_url("/hub").with_query(u=str(two.make_url("/dir/leaf")))
    stay = await crawl(seed)
    assert traffic(two).hits == {}
    assert stay.summary.pages == 1
    await crawl(seed, scope="any", db=str(stay.db) + ".any")
    assert traffic(two).hits == {"/robots.txt": 1, "/dir/leaf": 1}


async def test_parsing_in_a_process_pool_gives_the_same_pages(site: TestServer, crawl: CrawlFn):
    """Parsing in a separate process stores the same pages and titles as inline parsing."""
    result = await crawl(site.make_url("/"), parse_workers=1)
    assert len(result.pages()) == 11
    assert result.pages()[str(site.make_url("/a"))][1] == "Page A"


async def test_second_crawl_into_same_database_fetches_nothing_again(
    site: TestServer, crawl: CrawlFn
):
    """Crawling the same seed into the same database again requests no page a second time."""
    await crawl(site.make_url("/"))
    before = dict(traffic(site).hits)
    again = await crawl(site.make_url("/"))
    assert dict(traffic(site).hits) == before
    assert again.rows("SELECT count(*) FROM pages") == [(11,)]


async def test_crawl_never_blocks_the_event_loop_for_long(site: TestServer, crawl: CrawlFn):
    """A ticker on the same loop keeps ticking during a crawl (no stage blocks the loop)."""
    gaps: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        await crawl(site.make_url("/fan/30?ms=5"), parse_workers=1, concurrency=8, per_host=8)
    finally:
        ticker.cancel()
    assert gaps
    assert max(gaps) < 0.5


RULES_TOML = """
[extract.heading]
selector = "h1"

[extract.hub_links]
selector = "a"
attr = "href"
all = true
url = "/hub"
"""


async def test_crawl_stores_extracted_fields_as_json(
    site: TestServer, tmp_path: Path, crawl: CrawlFn
):
    """Fields land in pages.data and are queryable with json_extract."""
    config = tmp_path / "rules.toml"
    config.write_text(RULES_TOML)
    rules = load_settings(config).extract
    result = await crawl(site.make_url("/hub?u=/a&u=/c"), max_depth=1, extract=rules)
    rows = dict(
        result.rows("SELECT url, json_extract(data, '$.heading') FROM pages WHERE data IS NOT NULL")
    )
    assert sorted(rows.values()) == ["Hub", "Page A", "Page C"]
    [(links,)] = result.rows(
        "SELECT json_extract(data, '$.hub_links') FROM pages WHERE url LIKE '%hub%'"
    )
    assert json.loads(links) == [str(site.make_url("/a")), str(site.make_url("/c"))]
