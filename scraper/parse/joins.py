"""Links resolved as :func:`scraper.urls.join_url` resolves them, memoized per parse process: a
page's hrefs are resolved for its links, then again in its main content's Markdown, and sites
repeat their navigation and footer links on every page (bounded caches of pure functions).
"""

import functools

from scraper.urls import join_url


@functools.lru_cache(maxsize=8_192)
def join_rooted(origin: str, href: str) -> str | None:
    """:func:`join_url` of an href that starts with a single "/": its result depends on the
    origin only, and sites repeat such links (nav, footer, listings) on every page, so it is
    memoized (a bounded cache of a pure function, per parse process)."""
    return join_url(origin + "/", href)


@functools.lru_cache(maxsize=8_192)
def join_relative(base: str, href: str) -> str | None:
    """:func:`join_url`, memoized."""
    return join_url(base, href)


def origin_of(base: str) -> str | None:
    """``scheme://host[:port]`` of an absolute URL with a path (as normalized URLs are), or None
    if ``base`` has none."""
    start = base.find("//") + 2
    end = base.find("/", start)
    if start < 2 or end < 0 or "?" in base[start:end] or "#" in base[start:end]:
        return None
    return base[:end]


def join_href(base: str, origin: str | None, href: str) -> str | None:
    """:func:`join_url` of ``href`` against ``base``, whose :func:`origin_of` is ``origin``."""
    if origin is not None and href.startswith("/") and not href.startswith("//"):
        return join_rooted(origin, href)
    return join_relative(base, href)
