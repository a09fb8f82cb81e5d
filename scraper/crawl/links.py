"""Link admission: which discovered links enter the frontier (scope, allow/deny, depth, length,
and on a site with a login neither its logout links nor the login page), and a fixed-size memory
of URLs seen lately that spares the database the links met over and over.
"""

import re
from array import array
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from urllib.parse import urlsplit

from scraper.models import FetchResult, Scope
from scraper.sites import HostSettings
from scraper.urls import in_scope, try_normalize, url_host


class RecentUrls:
    """A fixed-size memory of URLs seen lately: 64-bit fingerprints in a direct-mapped table.

    It spares the database the links a crawl meets over and over (navigation, footers): on a
    site of 5,000 pages with 40 links each, 200,000 links are about 5,000 URLs. A URL found
    again here is certainly known to the frontier; one that is not found may be known too (its
    slot was taken since), and the frontier's ``INSERT OR IGNORE`` then drops it. Memory is fixed
    at ``8 << bits`` bytes whatever the size of the crawl.
    """

    def __init__(self, bits: int = 18) -> None:
        self._mask = (1 << bits) - 1
        self._table = array("q", bytes(8 << bits))

    def add(self, url: str) -> bool:
        """Remember ``url``; False if it was seen lately (a 2**-63 chance of a wrong False)."""
        fingerprint = hash(url) | 1  # never 0, an empty slot
        slot = fingerprint & self._mask
        if self._table[slot] == fingerprint:
            return False
        self._table[slot] = fingerprint
        return True


class LinkFilter:
    """Decides which discovered links enter the frontier: scope, allow/deny, depth, and not
    seen lately (:class:`RecentUrls`)."""

    def __init__(
        self,
        seed_hosts: Iterable[str],
        scope: Scope,
        allow: Sequence[str],
        deny: Sequence[str],
        max_depth: int,
        max_url_length: int = 2048,
        for_host: Callable[[str], HostSettings] | None = None,
    ) -> None:
        """``allow`` and ``deny`` apply to every host unless ``for_host`` (``Settings.for_host``)
        gives a host its own."""
        self._seed_hosts = frozenset(seed_hosts)
        self._max_url_length = max_url_length
        self._scope = scope
        default = HostSettings(allow=tuple(allow), deny=tuple(deny))
        self._for_host = for_host or (lambda host: default)
        self._max_depth = max_depth
        self._recent = RecentUrls()

    def host_if_allowed(self, url: str) -> str | None:
        """``url``'s host if the crawl would follow it (scope, allow/deny, length), else None."""
        if len(url) > self._max_url_length:
            return None
        host = url_host(url)
        if not in_scope(host, self._seed_hosts, self._scope):
            return None
        site = self._for_host(host)
        if site.allow and not any(p.search(url) for p in _compiled(site.allow)):
            return None
        denied = site.deny and any(p.search(url) for p in _compiled(site.deny))
        if site.login is not None and not denied:
            denied = _session_link(url, site)
        return None if denied else host

    def admit(self, links: Iterable[str], depth: int) -> tuple[tuple[str, str], ...]:
        """The (url, host) pairs of ``links``, found at ``depth``, that the crawl should follow."""
        if depth + 1 > self._max_depth:
            return ()
        fresh = (url for url in links if self._recent.add(url))
        pairs = ((url, self.host_if_allowed(url)) for url in fresh)
        return tuple((url, host) for url, host in pairs if host is not None)


def _session_link(url: str, site: HostSettings) -> bool:
    """On a site with a login: a link that looks like a logout (one of ``logout_patterns`` in
    its path or query, any case), or the login page itself (never stored as content)."""
    parts = urlsplit(url)
    where = f"{parts.path}?{parts.query}".lower()
    if any(pattern in where for pattern in site.logout_patterns):
        return True
    login = site.login.url if site.login is not None else ""
    return parts.path == (urlsplit(login).path or "/")


@lru_cache(maxsize=256)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """The compiled ``allow`` or ``deny`` patterns of a host (few distinct sets in a crawl)."""
    return tuple(re.compile(p) for p in patterns)


def to_follow(
    links: tuple[str, ...], fetched: FetchResult, canonical: str | None
) -> tuple[str, ...]:
    """The links to follow from a page with ``[crawl] follow_canonical = false``: its own when
    it names no canonical URL or its own URL (as requested or where redirects ended), else only
    the canonical URL (the page is a copy of that one, whose links are followed there)."""
    if canonical is None:
        return links
    own = canonical in (fetched.url, fetched.final_url, try_normalize(fetched.final_url))
    return links if own else (canonical,)
