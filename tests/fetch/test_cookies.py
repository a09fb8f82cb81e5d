"""The session's cookie jar: per-site opt-in, Set-Cookie kept and sent back, cookies.txt loaded,
kept in the crawl database and restored."""

import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from scraper.config import Settings
from scraper.errors import UsageError
from scraper.fetch import Fetcher, FetchHooks, jar_cookies, restore_cookies
from scraper.models import StoredCookie
from scraper.sites import read_sites
from tests.conftest import CrawlFn, traffic


async def _noop(_: int) -> None:
    return None


async def _follow(_: str) -> bool:
    return True


HOOKS = FetchHooks(_noop, _follow, lambda *_: None)


async def _get(settings: Settings, site: TestServer, *paths: str) -> None:
    async with Fetcher(settings, trusted_hosts=["127.0.0.1"]) as fetcher:
        for path in paths:
            await fetcher.fetch(str(site.make_url(path)), HOOKS)


def _sites(table: dict[str, Any]) -> Any:
    from scraper.config import _coerce_checked

    return read_sites(table, "test", _coerce_checked)


async def test_cookies_on_for_a_site_are_kept_and_sent_back(site: TestServer) -> None:
    """With cookies = true in the host's site table, a Set-Cookie comes back as a Cookie header."""
    sites = _sites({"127.0.0.1": {"cookies": True}})
    await _get(Settings(sites=sites, retries=0), site, "/cookie/set", "/a")
    assert traffic(site).headers["/a"].get("Cookie") == "sid=s3ss10n"


async def test_cookies_off_by_default_send_no_cookie(site: TestServer) -> None:
    """Without cookies on, the same Set-Cookie is dropped and no Cookie header is sent."""
    await _get(Settings(retries=0), site, "/cookie/set", "/a")
    assert "Cookie" not in traffic(site).headers["/a"]


async def test_cookies_txt_is_loaded_and_sent(site: TestServer, tmp_path: Path) -> None:
    """A Netscape cookies.txt (comments, #HttpOnly_ prefix) is sent to its domain."""
    jar = tmp_path / "cookies.txt"
    jar.write_text(
        "# Netscape HTTP Cookie File\n"
        "#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\ttoken\tabc123\n"
        "127.0.0.1\tFALSE\t/nowhere\tFALSE\t0\tother\tx\n"
        "127.0.0.1\tFALSE\t/\tFALSE\t1000\told\texpired\n"
    )
    await _get(Settings(cookies_file=str(jar), retries=0), site, "/a")
    assert traffic(site).headers["/a"].get("Cookie") == "token=abc123"


def test_missing_cookies_file_is_a_usage_error(tmp_path: Path) -> None:
    """A cookies file that cannot be read is one UsageError naming it, before any fetch."""
    missing = tmp_path / "none.txt"
    with pytest.raises(UsageError, match=r"cannot read cookies file .*none\.txt"):
        Fetcher(Settings(cookies_file=str(missing)))


async def test_the_jar_round_trips_through_stored_rows(site: TestServer) -> None:
    """A jar saved as rows and restored in a new session sends the same cookies with their
    flags and expiry; an expired row and a name no Cookie header carries are left out."""
    sites = _sites({"127.0.0.1": {"cookies": True}})
    settings = Settings(sites=sites, retries=0)
    async with Fetcher(settings, trusted_hosts=["127.0.0.1"]) as fetcher:
        await fetcher.fetch(str(site.make_url("/cookie/set")), HOOKS)
        assert fetcher.cookie_jar is not None
        saved = jar_cookies(fetcher.cookie_jar)
    assert saved == [StoredCookie("127.0.0.1", "/", "sid", "s3ss10n", host_only=True)]
    soon = int(time.time()) + 600
    kept = [
        *saved,
        StoredCookie("127.0.0.1", "/", "pref", "dark", expires=soon, secure=False, httponly=True),
        StoredCookie("127.0.0.1", "/", "old", "x", expires=int(time.time()) - 1),
        StoredCookie("127.0.0.1", "/", "bad name", "x"),
    ]
    async with Fetcher(settings, trusted_hosts=["127.0.0.1"]) as fetcher:
        assert fetcher.cookie_jar is not None
        assert restore_cookies(fetcher.cookie_jar, kept) == 2
        again = sorted(jar_cookies(fetcher.cookie_jar), key=lambda c: c.name)
        await fetcher.fetch(str(site.make_url("/a")), HOOKS)
    assert again == sorted(kept[:2], key=lambda c: c.name)
    assert traffic(site).headers["/a"].get("Cookie") == "pref=dark; sid=s3ss10n"


async def test_a_resumed_crawl_sends_the_cookies_of_the_last_run(
    site: TestServer, crawl: CrawlFn
) -> None:
    """cookies = true: the jar of one run is in the database and the next run sends it."""
    sites = _sites({"127.0.0.1": {"cookies": True}})
    await crawl(site.make_url("/cookie/set"), sites=sites, max_depth=0)
    result = await crawl(site.make_url("/a"), sites=sites, max_depth=0)
    assert result.rows("SELECT name, value FROM cookies") == [("sid", "s3ss10n")]
    assert traffic(site).headers["/a"].get("Cookie") == "sid=s3ss10n"
