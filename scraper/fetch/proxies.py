"""Proxies: which one carries a request, and how each one is doing.

A proxy is written ``http://``, ``https://`` or ``socks5://`` ``[user:password@]host:port``;
``${NAME}`` anywhere in it is replaced by the environment variable NAME (a password kept out of
the config), and the word ``env`` takes the proxy from ``$HTTPS_PROXY``, ``$HTTP_PROXY`` or
``$ALL_PROXY`` (the first set; the environment is read only when asked). Credentials are never
shown: :func:`mask` hides the password (``user:***@``) in every message and in what is stored.

Rotation (``proxy_rotation``): ``host`` (the default) keeps a target host on one proxy while it
works (its session and cookies see one address); ``request`` takes the next proxy for every
request. A proxy that fails (connect error, 407, its own 502/503) is charged to the proxy, cooled
down (1 s, then doubling up to ``proxy_cooldown_s``) and the request goes through another one.
When every proxy of a host has failed :data:`DOWN_AFTER` times in a row and is cooling down,
:class:`ProxiesDown` ends the crawl with one line.
"""

import asyncio
import itertools
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from scraper.config import Settings
from scraper.errors import ScraperError, TransientFetchError, UsageError
from scraper.urls import mask

SCHEMES = ("http", "https", "socks5")
DOWN_AFTER = 3  # failures in a row after which a proxy counts as down
_FIRST_COOLDOWN_S = 1.0
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_PROXIES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
MASKED = "***"


class ProxyReason(StrEnum):
    """Failure reasons charged to a proxy rather than to the site."""

    ERROR = "proxy_error"  # cannot connect, or the proxy's own 502/503, a broken CONNECT
    AUTH = "proxy_auth"  # 407: the proxy refused the credentials


class ProxyFailure(TransientFetchError):
    """The proxy, not the target, failed; the fetcher retries through another proxy."""

    def __init__(self, reason: ProxyReason, proxy: "Proxy", detail: str = "") -> None:
        super().__init__(str(reason), f"{proxy.shown}: {proxy.hide(detail)}")
        self.proxy = proxy


class ProxiesDown(ScraperError):
    """Every proxy a request could use is down: the crawl cannot go on (exit 1)."""


@dataclass(frozen=True, slots=True)
class Proxy:
    """One proxy: ``url`` (credentials expanded: never print it), ``shown`` (masked)."""

    url: str
    shown: str
    scheme: str
    password: str = field(default="", repr=False)

    @property
    def socks(self) -> bool:
        return self.scheme == "socks5"

    def hide(self, text: str) -> str:
        """``text`` without this proxy's password (aiohttp may quote the URL in an error)."""
        text = mask(text.replace(self.url, self.shown))
        long_enough = len(self.password) >= 4  # a shorter one would mask ordinary words
        return text.replace(self.password, MASKED) if long_enough else text


def parse_proxy(text: str, where: str = "--proxy") -> Proxy:
    """A proxy setting as a :class:`Proxy`; UsageError (masked) for a bad one."""
    shown = mask(text)
    raw = _from_env(text, where) if text.strip() == "env" else text.strip()
    try:
        url = _ENV_REF.sub(lambda m: _env(m.group(1)), raw)
    except KeyError as exc:
        raise UsageError(
            f"{where}: {shown}: environment variable {exc.args[0]} is not set"
        ) from None
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname or parts.path not in ("", "/"):
        raise UsageError(
            f"{where}: a proxy is http://, https:// or socks5:// host:port (got {shown})"
        )
    if parts.password == MASKED:
        raise UsageError(
            f"{where}: {shown}: its password was not stored; give --proxy again or use ${{ENV}}"
        )
    try:
        parts.port  # noqa: B018 - raises for a bad port
    except ValueError:
        raise UsageError(f"{where}: bad port in proxy {shown}") from None
    return Proxy(url.rstrip("/"), mask(url.rstrip("/")), parts.scheme, parts.password or "")


def _env(name: str) -> str:
    """The environment variable ``name``; KeyError(name) if unset."""
    value = os.environ.get(name)
    if value is None:
        raise KeyError(name)
    return value


def _from_env(text: str, where: str) -> str:
    for name in _ENV_PROXIES:
        if os.environ.get(name):
            return os.environ[name]
    raise UsageError(f"{where}: env: none of HTTPS_PROXY, HTTP_PROXY, ALL_PROXY is set")


# (masked URL, requests, failures, last error): what the fetcher reports of a proxy at its end.
ProxyRow = tuple[str, int, int, str]


@dataclass(slots=True)
class ProxyHealth:
    """How one proxy has done in this run (stored in ``proxy_health`` by its masked URL)."""

    proxy: str  # masked
    requests: int = 0
    failures: int = 0
    in_a_row: int = 0
    last_error: str = ""
    down_until: float = 0.0  # monotonic

    @property
    def down(self) -> bool:
        return self.in_a_row >= DOWN_AFTER


def settings_proxies(settings: Settings) -> tuple[str, ...]:
    """Every proxy the settings name: ``[fetch] proxies`` and the site tables'."""
    named = list(settings.proxies)
    for rule in settings.sites:
        for name, value in rule.values:
            if name == "proxies" and isinstance(value, tuple):
                named += [str(v) for v in value]
    return tuple(dict.fromkeys(named))


class ProxyPool:
    """Chooses a proxy per request and keeps each one's health. ``proxies_for(host)`` gives a
    host's proxy settings (its site table's, else ``[fetch] proxies``)."""

    def __init__(
        self,
        proxies_for: Callable[[str], tuple[str, ...]],
        known: Iterable[str],
        rotation: str = "host",
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._proxies_for = proxies_for
        self._parsed: dict[str, Proxy] = {}  # by the setting's text
        self._by_url: dict[str, Proxy] = {}  # by Proxy.url (credentials expanded)
        for text in known:
            self._parse(text)  # a bad proxy fails at once
        self._rotation = rotation
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._health: dict[str, ProxyHealth] = {}
        self._sticky: dict[str, Proxy] = {}
        self._turn = itertools.count()

    def _parse(self, text: str) -> Proxy:
        known = self._parsed.get(text)
        if known is None:
            known = self._parsed[text] = parse_proxy(text, "proxy")
            self._by_url[known.url] = known
        return known

    @property
    def used(self) -> bool:
        return bool(self._parsed)

    def health(self, proxy: Proxy) -> ProxyHealth:
        known = self._health.get(proxy.shown)
        if known is None:
            known = self._health[proxy.shown] = ProxyHealth(proxy.shown)
        return known

    def report(self) -> list[ProxyHealth]:
        """Every proxy used so far, by masked URL."""
        return sorted(self._health.values(), key=lambda h: h.proxy)

    async def choose(self, host: str) -> Proxy | None:
        """The proxy for a request to ``host`` (None: direct), waiting while every one of its
        proxies cools down; raises :class:`ProxiesDown` when they are all down."""
        texts = self._proxies_for(host)
        if not texts:
            return None
        candidates = [self._parse(text) for text in texts]
        while True:
            now = self._clock()
            ready = [p for p in candidates if self.health(p).down_until <= now]
            if ready:
                return self._pick(host, ready)
            if all(self.health(p).down for p in candidates):
                raise ProxiesDown(self._down_message(candidates))
            await asyncio.sleep(min(self.health(p).down_until for p in candidates) - now)

    def _pick(self, host: str, ready: list[Proxy]) -> Proxy:
        if self._rotation == "host":
            sticky = self._sticky.get(host)
            if sticky is not None and sticky in ready:
                return sticky
        chosen = ready[next(self._turn) % len(ready)]
        if self._rotation == "host":
            self._sticky[host] = chosen
        return chosen

    def failover_limit(self, host: str) -> int:
        """How many proxy failures one attempt at ``host`` may go through before it fails."""
        return DOWN_AFTER * max(len(self._proxies_for(host)), 1)

    def succeeded_url(self, url: str) -> None:
        """A request through the proxy at ``url`` (as :attr:`Proxy.url`) got an answer."""
        proxy = self._by_url.get(url)
        if proxy is not None:
            self.succeeded(proxy)

    def succeeded(self, proxy: Proxy) -> None:
        h = self.health(proxy)
        h.requests += 1
        h.in_a_row = 0

    def failed(self, failure: ProxyFailure) -> None:
        """Charge ``failure`` to its proxy and cool it down."""
        h = self.health(failure.proxy)
        h.requests += 1
        h.failures += 1
        h.in_a_row += 1
        h.last_error = f"{failure.reason}: {failure.detail}"[:300]
        wait_s = min(_FIRST_COOLDOWN_S * 2 ** (h.in_a_row - 1), self._cooldown_s)
        h.down_until = self._clock() + wait_s

    def _down_message(self, candidates: list[Proxy]) -> str:
        shown = "; ".join(f"{self.health(p).last_error}" for p in candidates)
        return f"every proxy is down, stopping the crawl ({shown})"
