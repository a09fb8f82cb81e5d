"""Whole crawls against hostile responses: each recorded, none fatal, nothing lost."""

import asyncio
import os
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from scraper.testing import cli_peak_rss_code
from tests.conftest import CrawlFn, CrawlResult, traffic


def hub(site: TestServer, *paths: str) -> str:
    """A URL of the site's hub page linking to ``paths`` (absolute or site-relative)."""
    return str(site.make_url("/hub").with_query([("u", p) for p in paths]))


def frontier(result: CrawlResult, path: str) -> tuple[str, int, str | None]:
    [row] = result.rows(
        "SELECT state, attempts, last_error FROM frontier WHERE url LIKE ?", f"%{path}"
    )
    state, attempts, last_error = row
    return state, attempts, last_error


async def test_retry_after_holds_the_whole_host(site: TestServer, crawl: CrawlFn):
    """After a 429 with Retry-After: 1, no new request starts on that host for a second."""
    ra = "/retry-after/seconds?after=1&times=1"
    result = await crawl(
        hub(site, ra, "/a", "/c", "/dir/leaf"),
        per_host=2,
        concurrency=4,
        retry_backoff_max_s=5.0,
        max_depth=1,
    )
    starts = traffic(site).starts
    t429 = next(t for t, path in starts if path == ra)
    later = [t for t, _ in starts if t > t429 + 0.05]
    assert later
    assert min(later) >= t429 + 0.95
    assert max(later) < t429 + 6.0  # the host's delay also doubled to 1 s, then recovers
    assert frontier(result, ra) == ("done", 2, None)
    assert traffic(site).hits[ra] == 2


async def test_redirect_to_a_known_url_is_not_stored_twice(site: TestServer, crawl: CrawlFn):
    """A redirect to a URL already in the frontier is stored as the 3xx; the target once."""
    base = str(site.make_url("")).rstrip("/")
    result = await crawl(hub(site, "/a", f"/goto?u={base}/a"), max_depth=1)
    assert traffic(site).hits["/a"] == 1
    [(status, final_url, title)] = result.rows(
        "SELECT status, final_url, title FROM pages WHERE status = 302"
    )
    assert (status, final_url, title) == (302, f"{base}/a", None)


async def test_redirect_to_a_new_url_is_followed(site: TestServer, crawl: CrawlFn):
    """A redirect to an unseen in-scope URL stores the target's content under the first URL."""
    result = await crawl(site.make_url("/redirect/3"))
    [(status, final_url, title)] = result.rows("SELECT status, final_url, title FROM pages")
    assert status == 200
    assert final_url.endswith("/redirect/0")
    assert title is not None


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/loop/a", "redirect_loop"),
        ("/self-redirect", "redirect_loop"),
        ("/bad-redirect/scheme", "bad_redirect"),
        ("/redirect/5", "too_many_redirects"),
    ],
)
async def test_broken_redirects_are_recorded_failures(site, crawl: CrawlFn, path, reason):
    """Redirect loops, bad Locations and overlong chains end as failures with their reason."""
    result = await crawl(site.make_url(path), max_redirects=3)
    assert frontier(result, path) == ("failed", 1, reason)
    assert result.rows("SELECT count(*) FROM pages") == [(0,)]


async def test_huge_body_is_refused_while_streaming(site: TestServer, crawl: CrawlFn):
    """A 50 MiB response is cut off at max_body_bytes and recorded as failed."""
    result = await crawl(site.make_url("/huge/50?mode=chunked"), max_body_bytes=1_000_000)
    assert frontier(result, "/huge/50?mode=chunked") == ("failed", 1, "body_too_large")
    assert traffic(site).sent["/huge/50"] < 20 * 2**20


async def test_broken_connections_are_retried_then_recorded(site: TestServer, crawl: CrawlFn):
    """Resets, truncated bodies and bad chunking are retried, then failed with a reason."""
    result = await crawl(
        hub(site, "/reset", "/truncated", "/bad-chunked", "/hangup", "/a"), retries=1, max_depth=1
    )
    reasons = dict(result.rows("SELECT url, last_error FROM frontier WHERE state = 'failed'"))
    assert {url.rsplit("/", 1)[1] for url in reasons} == {
        "reset",
        "truncated",
        "bad-chunked",
        "hangup",
    }
    assert all(reasons.values())
    assert traffic(site).hits["/a"] == 1  # the crawl went on
    assert result.summary.pages == 2  # the hub and /a


async def test_trickling_server_is_cut_off(site: TestServer, crawl: CrawlFn):
    """A body that trickles forever is cut at the timeout and recorded as a timeout."""
    result = await crawl(site.make_url("/trickle"), timeout_s=0.6, retries=0)
    assert frontier(result, "/trickle") == ("failed", 1, "timeout")


@pytest.mark.parametrize("codec", ["cp1251", "cp1252", "shift_jis"])
async def test_undeclared_encodings_are_detected(site: TestServer, crawl: CrawlFn, codec: str):
    """A page in a legacy encoding declared nowhere still gets its real title."""
    from scraper.testing import UNDECLARED_TEXT

    result = await crawl(site.make_url(f"/charset/{codec}"))
    [(title,)] = result.rows("SELECT title FROM pages")
    assert title == UNDECLARED_TEXT[codec][0]


@pytest.mark.parametrize("kind", ["gzip", "deflate", "br"])
async def test_compressed_pages_are_decoded(site: TestServer, crawl: CrawlFn, kind: str):
    """gzip, deflate and brotli pages are stored decoded, with their title."""
    result = await crawl(site.make_url(f"/encoded/{kind}"), max_depth=0)
    [(status, title)] = result.rows("SELECT status, title FROM pages")
    assert status == 200
    assert title


async def test_links_into_private_addresses_are_not_followed(site: TestServer, crawl: CrawlFn):
    """From a seed host, links and redirects into loopback are blocked; nothing reaches them."""
    port = site.port
    seed = f"http://public.test:{port}/hub?u=http://127.0.0.1:{port}/a&u=http://localhost:{port}/c"
    result = await crawl(seed, scope="any", resolve=(f"public.test:{site.host}",))
    blocked = dict(result.rows("SELECT url, last_error FROM frontier WHERE state = 'blocked'"))
    assert blocked == {
        f"http://127.0.0.1:{port}/a": "private_address",
        f"http://localhost:{port}/c": "private_address",
    }
    assert "/a" not in traffic(site).hits
    assert "/c" not in traffic(site).hits


async def test_redirect_into_a_private_address_is_blocked(site: TestServer, crawl: CrawlFn):
    """A seed host's redirect to a loopback address is refused at that hop."""
    seed = f"http://public.test:{site.port}/to-loopback"
    result = await crawl(seed, scope="any", resolve=(f"public.test:{site.host}",))
    assert frontier(result, "/to-loopback") == ("blocked", 1, "private_address")
    assert "/a" not in traffic(site).hits


async def test_allow_private_lets_links_into_private_addresses(site: TestServer, crawl: CrawlFn):
    """With allow_private, the same loopback link is crawled."""
    port = site.port
    seed = f"http://public.test:{port}/hub?u=http://localhost:{port}/c"
    result = await crawl(
        seed, scope="any", resolve=(f"public.test:{site.host}",), allow_private=True, max_depth=1
    )
    assert traffic(site).hits["/c"] == 1
    assert result.rows("SELECT count(*) FROM frontier WHERE state = 'blocked'") == [(0,)]


async def test_overlong_urls_and_extra_links_are_not_followed(site: TestServer, crawl: CrawlFn):
    """A URL over max_url_length is skipped, and only max_links_per_page links are taken."""
    long_path = "/dir/" + "x" * 300
    result = await crawl(hub(site, long_path, "/a"), max_url_length=200, max_depth=1)
    assert result.rows(
        "SELECT count(*) FROM frontier WHERE length(url) > 200 AND url NOT LIKE '%/hub?%'"
    ) == [(0,)]
    assert traffic(site).hits["/a"] == 1
    fan = await crawl(
        site.make_url("/fan/50?ms=0"), max_links_per_page=10, db=str(result.db) + ".fan"
    )
    assert fan.summary.pages == 11


async def test_calendar_trap_is_stopped_by_max_depth(site: TestServer, crawl: CrawlFn):
    """An endless chain of 'next' links ends at max_depth."""
    result = await crawl(site.make_url("/deep/1?limit=100000"), max_depth=5)
    assert result.summary.pages == 6
    assert result.rows("SELECT max(depth) FROM frontier") == [(5,)]


async def test_cli_memory_stays_bounded_while_huge_bodies_are_refused(
    site: TestServer, tmp_path: Path
):
    """The real CLI refusing a 300 MiB body and a 1 GiB gzip bomb peaks under 150 MB RSS."""
    rss_file = tmp_path / "rss"
    code = cli_peak_rss_code(rss_file)
    seeds = [str(site.make_url("/huge/300?mode=chunked")), str(site.make_url("/bomb/gzip"))]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        "crawl",
        *seeds,
        "--db",
        str(tmp_path / "c.db"),
        "--retries",
        "0",
        "--delay",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=50)
    assert proc.returncode == 0, err.decode()
    assert "0 pages stored, 2 failed" in out.decode()
    peak_mb = int(rss_file.read_text()) / 1024
    print(f"peak RSS {peak_mb:.1f} MB")
    assert 10 < peak_mb < 150
    assert sum(traffic(site).sent.values()) < 40 * 2**20


async def test_a_followed_redirect_target_linked_later_is_not_fetched_again(
    site: TestServer, crawl: CrawlFn
):
    """/redirect/1 is followed to the unseen /redirect/0 and stored under /redirect/1; a link to
    /redirect/0 found two levels deeper finds it done: the server serves its content once."""
    target = str(site.make_url("/redirect/0"))
    deeper = str(site.make_url("/hub").with_query([("u", "/redirect/0")]))
    result = await crawl(hub(site, "/redirect/1", hub(site, deeper)))
    assert traffic(site).hits["/redirect/0"] == 1
    rows = result.rows("SELECT url FROM pages WHERE final_url = ?", target)
    assert rows == [(str(site.make_url("/redirect/1")),)]
    assert result.rows("SELECT state FROM frontier WHERE url = ?", target) == [("done",)]


async def test_a_redirect_target_linked_in_the_same_batch_is_not_fetched_again(
    site: TestServer, crawl: CrawlFn
):
    """The target is linked by a page committed in the same batch as the redirect's page."""
    target = str(site.make_url("/redirect/0"))
    result = await crawl(hub(site, "/redirect/1", "/hub?u=/redirect/0"), flush_interval_s=5.0)
    assert traffic(site).hits["/redirect/0"] == 1
    assert result.rows("SELECT state FROM frontier WHERE url = ?", target) == [("done",)]
