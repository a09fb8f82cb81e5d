"""Crawls through real proxies on loopback: politeness held at the server, failover and the
proxies' health stored and shown, every proxy down ends the crawl with one line, and no
password in the database or the output."""

import itertools
import json
import time

from aiohttp.test_utils import TestServer

from scraper.testing.proxies import Squid, Tinyproxy
from tests.conftest import (
    CrawlFn,
    assert_one_error_line,
    dead_proxy,
    run,
    run_cli,
    traffic,
)

DELAY_S = 0.1


async def test_politeness_holds_through_a_proxy(
    site: TestServer, crawl: CrawlFn, tinyproxy: Tinyproxy
) -> None:
    """Through a proxy, requests to one host still start ``delay`` apart at the server (no gap
    below delay - 10 ms; per_host 4 is one at a time there), and every one of them went
    through the proxy."""
    result = await crawl(
        site.make_url("/fan/12?ms=0"), concurrency=8, per_host=4, delay_s=DELAY_S,
        proxies=(tinyproxy.url,),
    )  # fmt: skip
    assert result.summary.pages == 13
    starts = [t for t, _ in traffic(site).starts]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 14  # robots.txt and 13 pages
    assert min(gaps) >= DELAY_S - 0.01
    assert starts[-1] - starts[0] < 14 * DELAY_S + 5.0  # one at a time: gaps over the delay
    log = tinyproxy.log()
    assert all(f"GET {site.make_url(path)}" in log for _, path in traffic(site).starts)


async def test_dead_proxy_is_charged_and_shown_by_stats(
    site: TestServer, crawl: CrawlFn, tinyproxy: Tinyproxy
) -> None:
    """A crawl with a dead proxy (with a password) beside a live one stores every page; the dead
    one's failures are in ``proxy_health`` and ``stats``, its password nowhere in the database
    file or the output."""
    dead = dead_proxy().replace("http://", "http://bot:hunter22pw@")
    result = await crawl(
        site.make_url("/fan/5?ms=0"), proxies=(dead, tinyproxy.url), proxy_rotation="request"
    )
    assert result.summary.pages == 6
    assert result.summary.failed == 0
    health = result.rows("SELECT proxy, requests, failures FROM proxy_health")
    found = {p: (r, f) for p, r, f in health}
    masked = dead.replace("hunter22pw", "***")
    assert found[masked][1] >= 1
    assert found[tinyproxy.url] == (7, 0)  # robots.txt and six pages
    assert b"hunter22pw" not in result.db.read_bytes()
    code, out, err = await run_cli("stats", "--db", str(result.db))
    assert code == 0, err
    assert "proxies:" in out
    assert masked in out
    assert "hunter22pw" not in out + err
    code, out, _ = await run_cli("stats", "--db", str(result.db), "--json")
    proxies = {p["proxy"]: p for p in json.loads(out)["proxies"]}
    assert proxies[tinyproxy.url]["failures"] == 0
    assert proxies[masked]["last_error"].startswith("proxy_error")


async def test_every_proxy_down_stops_the_crawl(site: TestServer, tmp_path) -> None:
    """When every proxy is down the crawl stops with one error line (exit 1), instead of
    failing each URL, and nothing reaches the site; the password is not in the message."""
    a = dead_proxy().replace("http://", "http://bot:hunter22pw@")
    db = tmp_path / "c.db"
    started = time.monotonic()
    code, _, err = await run(
        tmp_path, "crawl", str(site.make_url("/fan/20?ms=0")), "--db", str(db),
        "--proxy", a, "--proxy", dead_proxy(), "--delay", "0",
    )  # fmt: skip
    assert code == 1
    assert_one_error_line(err, "every proxy is down")
    assert "hunter22pw" not in err
    assert "bot:***@" in err
    assert time.monotonic() - started < 30
    assert sum(traffic(site).hits.values()) == 0


async def test_squid_carries_a_crawl(site: TestServer, crawl: CrawlFn, squid: Squid) -> None:
    """A crawl through squid stores every page; squid's access log has each request."""
    result = await crawl(site.make_url("/fan/5?ms=0"), proxies=(squid.url,))
    assert result.summary.pages == 6
    log = squid.log()
    assert log.count(" GET http://127.0.0.1:") == 7  # robots.txt and six pages


async def test_bad_proxy_flag_is_one_error_line(tmp_path) -> None:
    """--proxy with another scheme is a usage error (exit 2) on one line, the password masked."""
    code, _, err = await run_cli(
        "crawl", "http://127.0.0.1:9/", "--db", str(tmp_path / "c.db"),
        "--proxy", "ftp://bot:hunter22pw@127.0.0.1:21",
    )  # fmt: skip
    assert code == 2
    assert_one_error_line(err, "http://, https:// or socks5://")
    assert "hunter22pw" not in err
