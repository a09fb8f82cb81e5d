"""Fetching through real proxies on loopback: tinyproxy (HTTP, basic auth), dante (SOCKS5);
failover, a proxy's own failures charged to it, the address guard in front of the proxy."""

import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp.test_utils import TestServer

from scraper.config import Settings
from scraper.errors import FetchError, UsageError
from scraper.fetch import Fetcher, ProxiesDown
from scraper.testing import make_app
from scraper.testing.proxies import Dante, Squid, Tinyproxy
from tests.conftest import dead_proxy, traffic

SETTINGS: dict[str, Any] = {
    "retries": 0,
    "timeout_s": 5.0,
    "connect_timeout_s": 2.0,
    "proxy_cooldown_s": 0.05,
}


class Hooks:
    """FetchHooks that count the attempts (the politeness slot is not waited for)."""

    def __init__(self) -> None:
        self.attempts = 0
        self.reasons: list[str] = []

    async def before_attempt(self, n: int) -> None:
        self.attempts += 1

    async def allow_redirect(self, target: str) -> bool:
        return True

    def on_response(self, reason: str, status: int, s: float, retry_after: float | None) -> None:
        self.reasons.append(reason)


def _hooks() -> Any:
    from scraper.fetch import FetchHooks

    h = Hooks()
    return h, FetchHooks(h.before_attempt, h.allow_redirect, h.on_response)


async def fetch_all(urls: list[str], trusted: tuple[str, ...] = ("127.0.0.1",), **values: Any):
    """Fetch ``urls`` with one Fetcher; (results or errors, the fetcher's proxy report)."""
    settings = Settings(**{**SETTINGS, **values})
    out: list[Any] = []
    async with Fetcher(settings, trusted_hosts=trusted) as fetcher:
        for url in urls:
            _, hooks = _hooks()
            try:
                out.append(await fetcher.fetch(url, hooks))
            except FetchError as exc:
                out.append(exc)
        return out, fetcher.proxies.report()


async def test_page_through_tinyproxy(site: TestServer, tinyproxy: Tinyproxy) -> None:
    """A page fetched with a proxy goes through it: the proxy logs the request, the site
    serves it once."""
    url = str(site.make_url("/a"))
    (result,), report = await fetch_all([url], proxies=(tinyproxy.url,))
    assert result.status == 200
    assert f"GET {url}" in tinyproxy.log()
    assert traffic(site).hits["/a"] == 1
    assert [(h.requests, h.failures) for h in report] == [(1, 0)]


async def test_page_through_socks5(site: TestServer, dante: Dante) -> None:
    """A socks5:// proxy carries the request (dante logs the connection to the site)."""
    url = str(site.make_url("/b"))
    (result,), _ = await fetch_all([url], proxies=(dante.url,))
    assert result.status == 200
    assert traffic(site).hits["/b"] == 1
    assert f"127.0.0.1.{site.port}" in dante.log()


async def test_proxy_with_credentials(site: TestServer, authproxy: Tinyproxy) -> None:
    """Credentials in the proxy URL (here from ``${ENV}``) are sent to the proxy."""
    url = str(site.make_url("/a"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROXY_PW", authproxy.password)
        proxy = f"http://crawler:${{PROXY_PW}}@127.0.0.1:{authproxy.port}"
        (result,), _ = await fetch_all([url], proxies=(proxy,))
    assert result.status == 200
    assert traffic(site).hits["/a"] == 1


async def test_wrong_credentials_are_the_proxys_failure(
    site: TestServer, authproxy: Tinyproxy
) -> None:
    """A 407 is charged to the proxy (``proxy_auth``), never reaches the site, and with no other
    proxy left the fetch stops with ProxiesDown, its message without the password."""
    url = str(site.make_url("/a"))
    proxy = f"http://crawler:wrong-pw-42@127.0.0.1:{authproxy.port}"
    with pytest.raises(ProxiesDown) as caught:
        await fetch_all([url], proxies=(proxy,))
    assert "proxy_auth" in str(caught.value)
    assert "wrong-pw-42" not in str(caught.value)
    assert "crawler:***@" in str(caught.value)
    assert traffic(site).hits["/a"] == 0


async def test_dead_proxy_fails_over(site: TestServer, tinyproxy: Tinyproxy) -> None:
    """With a dead proxy and a live one, every page is fetched through the live one and the
    dead one is charged ``proxy_error`` (the site's own failures stay at zero)."""
    urls = [str(site.make_url(p)) for p in ("/a", "/b", "/c", "/dir/leaf")]
    dead = dead_proxy()
    results, report = await fetch_all(urls, proxies=(dead, tinyproxy.url), proxy_rotation="request")
    assert [r.status for r in results] == [200, 200, 200, 200]
    health = {h.proxy: h for h in report}
    assert health[dead].failures >= 1
    assert health[dead].last_error.startswith("proxy_error")
    assert health[tinyproxy.url].failures == 0
    assert health[tinyproxy.url].requests == 4
    assert sum(traffic(site).hits[p] for p in ("/a", "/b", "/c", "/dir/leaf")) == 4


async def test_every_proxy_dead_raises_proxies_down(site: TestServer) -> None:
    """When every proxy is down the fetch raises ProxiesDown naming each one's failure."""
    a, b = dead_proxy(), dead_proxy()
    with pytest.raises(ProxiesDown) as caught:
        await fetch_all([str(site.make_url("/a"))], proxies=(a, b))
    assert a in str(caught.value)
    assert b in str(caught.value)
    assert "every proxy is down" in str(caught.value)


async def test_guard_checks_the_target_behind_a_proxy(
    site: TestServer, tinyproxy: Tinyproxy
) -> None:
    """An untrusted name resolving to a private address is refused before the proxy is asked
    (the proxy would resolve it itself): private_address, nothing in the proxy's log."""
    url = f"http://localhost:{site.port}/a"
    (error,), _ = await fetch_all([url], trusted=(), proxies=(tinyproxy.url,))
    assert isinstance(error, FetchError)
    assert error.reason == "private_address"
    assert "localhost" not in tinyproxy.log()
    assert traffic(site).hits["/a"] == 0


async def test_resolve_pin_applies_behind_a_proxy(site: TestServer, tinyproxy: Tinyproxy) -> None:
    """A ``resolve`` pin to a private address refuses an untrusted public-looking name too."""
    url = f"http://pinned.example:{site.port}/a"
    (error,), _ = await fetch_all(
        [url], trusted=(), proxies=(tinyproxy.url,), resolve=("pinned.example:10.0.0.7",)
    )
    assert isinstance(error, FetchError)
    assert error.reason == "private_address"


def test_bad_proxy_is_a_usage_error() -> None:
    """A proxy with another scheme, or a missing ${ENV} variable, is refused at once, masked."""
    with pytest.raises(UsageError, match=r"http://, https:// or socks5://"):
        Fetcher(Settings(proxies=("ftp://u:pw123@127.0.0.1:21",)))
    with pytest.raises(UsageError, match="NOT_SET_ANYWHERE is not set"):
        Fetcher(Settings(proxies=("http://u:${NOT_SET_ANYWHERE}@127.0.0.1:1",)))
    with pytest.raises(UsageError) as caught:
        Fetcher(Settings(proxies=("ftp://u:pw123@127.0.0.1:21",)))
    assert "pw123" not in str(caught.value)


async def test_https_goes_through_connect(aiohttp_server: Any, tinyproxy: Tinyproxy) -> None:
    """An https URL goes through the proxy as a CONNECT tunnel; the target's TLS failure (an
    unknown CA) is the target's ``tls_error``, not charged to the proxy."""
    cert = trustme.CA().issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    server: TestServer = await aiohttp_server(make_app(), ssl=context)
    (error,), report = await fetch_all([str(server.make_url("/a"))], proxies=(tinyproxy.url,))
    assert isinstance(error, FetchError)
    assert error.reason == "tls_error"
    assert f"CONNECT 127.0.0.1:{server.port}" in tinyproxy.log()
    assert [(h.requests, h.failures) for h in report] == [(0, 0)]


async def test_rotation_is_sticky_per_host_by_default(
    site: TestServer, tinyproxy: Tinyproxy, tmp_path: Path
) -> None:
    """With two live proxies, a host's requests all go through one of them (rotation
    ``host``); with ``request`` they alternate."""
    urls = [str(site.make_url(f"/a?n={n}")) for n in range(4)]
    with Tinyproxy(tmp_path / "second") as second:
        _, sticky = await fetch_all(urls, proxies=(tinyproxy.url, second.url))
        _, rotated = await fetch_all(
            urls, proxies=(tinyproxy.url, second.url), proxy_rotation="request"
        )
    assert sorted(h.requests for h in sticky) == [0, 4]
    assert sorted(h.requests for h in rotated) == [2, 2]


async def test_dead_socks_proxy_is_a_proxy_error(site: TestServer) -> None:
    """A SOCKS5 proxy that refuses connections is charged ``proxy_error`` (down: ProxiesDown)."""
    dead = dead_proxy().replace("http://", "socks5://")
    with pytest.raises(ProxiesDown, match=r"proxy_error: socks5://127\.0\.0\.1"):
        await fetch_all([str(site.make_url("/a"))], proxies=(dead,))


async def test_squid_error_for_a_dead_target_is_the_targets(squid: Squid) -> None:
    """squid's own 503 for a target it cannot reach (ERR_CONNECT_FAIL) is the target's failure
    (``http_503``), not the proxy's: the proxy stays healthy."""
    url = dead_proxy() + "/page"  # nothing listens: the target is down
    (error,), report = await fetch_all([url], proxies=(squid.url,))
    assert isinstance(error, FetchError)
    assert error.reason == "http_503"
    assert [(h.requests, h.failures) for h in report] == [(1, 0)]


def test_env_takes_the_standard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """``env`` reads HTTPS_PROXY / HTTP_PROXY / ALL_PROXY only when asked; none set is a usage
    error."""
    from scraper.fetch.proxies import parse_proxy

    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    with pytest.raises(UsageError, match="none of HTTPS_PROXY, HTTP_PROXY, ALL_PROXY is set"):
        parse_proxy("env")
    monkeypatch.setenv("HTTP_PROXY", "http://bot:envpass1@127.0.0.1:3128")
    proxy = parse_proxy("env")
    assert proxy.url == "http://bot:envpass1@127.0.0.1:3128"
    assert proxy.shown == "http://bot:***@127.0.0.1:3128"
    assert Settings().proxies == ()  # the variables alone change nothing
