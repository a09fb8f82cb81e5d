"""Proxies on the wire (aiohttp and aiohttp-socks): a session per SOCKS proxy, and which
failures are the proxy's own (:class:`scraper.fetch.proxies.ProxyFailure`) rather than the
target's.

HTTP and HTTPS proxies go through aiohttp's ``proxy=`` on the shared session (CONNECT for an
https target); a SOCKS5 proxy needs its own connector (aiohttp-socks), so its own session, the
proxy resolving the target's name (``rdns``: the address guard checks the target before, see
:class:`scraper.fetch.guard.TargetGuard`).
"""

from collections.abc import Mapping

import aiohttp
import aiohttp_socks
from python_socks import ProxyError as SocksError

from scraper.errors import FetchError, TransientFetchError
from scraper.fetch.proxies import Proxy, ProxyFailure, ProxyReason

PROXY_ERRORS = (  # what a request through aiohttp-socks may raise besides aiohttp's errors
    aiohttp_socks.ProxyConnectionError,
    aiohttp_socks.ProxyTimeoutError,
    aiohttp_socks.ProxyError,
    SocksError,
)
# Squid's errors that say the destination, not the proxy, failed.
_TARGET_ERRORS = ("ERR_CONNECT_FAIL", "ERR_DNS_FAIL", "ERR_READ_TIMEOUT", "ERR_ZERO_SIZE_OBJECT")
_PROXY_SERVERS = ("squid", "tinyproxy")
_SOCKS_TARGET_CODES = (3, 4, 5, 6)  # RFC 1928 replies: network/host unreachable, refused, TTL


def socks_connector(proxy: Proxy, **kwargs: object) -> aiohttp.BaseConnector:
    """A connector that dials through the SOCKS5 ``proxy`` (the proxy resolves names)."""
    return aiohttp_socks.ProxyConnector.from_url(proxy.url, rdns=True, **kwargs)


def failure_of(exc: BaseException, proxy: Proxy) -> FetchError | None:
    """The proxy's failure in ``exc`` (raised by a request through ``proxy``): a
    :class:`ProxyFailure`, a ``connect_error`` when a SOCKS proxy says the target refused or
    is unreachable, or None for an error of the target's (translated as without a proxy)."""
    if isinstance(exc, (aiohttp.ClientProxyConnectionError, *PROXY_ERRORS)):
        text = proxy.hide(str(exc)) or type(exc).__name__
        if "authentication" in text.lower():  # SOCKS5 (RFC 1929): the login refused
            return ProxyFailure(ProxyReason.AUTH, proxy, text)
        if getattr(exc, "error_code", None) in _SOCKS_TARGET_CODES:
            return TransientFetchError("connect_error", f"through {proxy.shown}: {text}")
        return ProxyFailure(ProxyReason.ERROR, proxy, text)
    if isinstance(exc, aiohttp.ClientHttpProxyError):  # CONNECT answered with an error
        reason = _status_reason(exc.status, exc.headers or {})
        if reason is not None:
            return ProxyFailure(reason, proxy, f"CONNECT answered {exc.status} {exc.message}")
    return None


def proxy_answer(status: int, headers: Mapping[str, str], proxy: Proxy) -> ProxyFailure | None:
    """A response through ``proxy`` that the proxy made itself to say it failed: 407 (or
    tinyproxy's own 401), or its own 502/503 (``Server: squid`` / ``tinyproxy``,
    ``X-Squid-Error``, RFC 9209 ``Proxy-Status``) unless it names the destination as the one
    that failed."""
    reason = _status_reason(status, headers)
    return None if reason is None else ProxyFailure(reason, proxy, f"answered {status}")


def _status_reason(status: int, headers: Mapping[str, str]) -> ProxyReason | None:
    if status == 407:
        return ProxyReason.AUTH
    if status not in (401, 502, 503):
        return None
    found = {k.lower(): v for k, v in headers.items()}
    if status == 401:  # tinyproxy refuses wrong credentials with its own 401
        made = found.get("server", "").lower().startswith(_PROXY_SERVERS)
        return ProxyReason.AUTH if made else None
    squid_error = found.get("x-squid-error", "")
    proxy_status = found.get("proxy-status", "")
    if squid_error.startswith(_TARGET_ERRORS) or "error=destination" in proxy_status:
        return None  # the target is down: the target's failure
    server = found.get("server", "").lower()
    if squid_error or proxy_status or server.startswith(_PROXY_SERVERS):
        return ProxyReason.ERROR
    return None


def hidden(error: FetchError, proxy: Proxy) -> FetchError:
    """``error`` (the target's, raised through ``proxy``) with the proxy's password hidden
    from its detail; raised ``from None``, so no aiohttp error quoting the URL is chained."""
    if proxy.hide(error.detail) == error.detail:
        return error
    kind = type(error)
    return kind(error.reason, proxy.hide(error.detail))
