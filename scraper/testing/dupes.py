"""A site of duplicate pages, for ``scraper dupes`` and ``follow_canonical`` tests:
``make_dupes_app()``.

``/`` links to every page. ``/a`` and ``/a-copy`` are the same page (an exact duplicate);
``/story?ref=mail`` names ``/story`` as its canonical URL and is the only page linking to
``/print-only``; ``/near-1`` and ``/near-2`` are one article of 400 words, one word changed
(a near duplicate); ``/other`` is unrelated. ``app[HITS]`` counts the requests by path and query.
"""

import random
from collections import Counter

from aiohttp import web

HITS: web.AppKey[Counter[str]] = web.AppKey("hits", Counter)
PATHS = ("/a", "/a-copy", "/story?ref=mail", "/near-1", "/near-2", "/other")


def _words(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return [f"w{rng.randrange(600)}" for _ in range(count)]


_ARTICLE = _words(29, 400)
_NEAR = [*_ARTICLE[:200], "changed", *_ARTICLE[201:]]


def _page(title: str, words: list[str], head: str = "", links: tuple[str, ...] = ()) -> str:
    anchors = "".join(f'<a href="{href}">{href}</a> ' for href in links)
    return (
        f"<!doctype html><html lang=en><head><title>{title}</title>{head}</head><body>"
        f"<nav>{anchors}</nav><article><h1>{title}</h1><p>{' '.join(words)}</p></article>"
        "</body></html>"
    )


_PAGES = {
    "/": _page("Home", _words(1, 30), links=PATHS),
    "/a": _page("A", _words(2, 200)),
    "/a-copy": _page("A", _words(2, 200)),
    "/story": _page("Story", _words(3, 200), '<link rel="canonical" href="/story">'),
    "/story?ref=mail": _page(
        "Story", _words(3, 200), '<link rel="canonical" href="/story">', ("/print-only",)
    ),
    "/print-only": _page("Print", _words(4, 50)),
    "/near-1": _page("Near", _ARTICLE),
    "/near-2": _page("Near", _NEAR),
    "/other": _page("Other", _words(5, 300)),
}


async def _serve(request: web.Request) -> web.Response:
    key = request.path_qs
    request.app[HITS][key] += 1
    body = _PAGES.get(key)
    if body is None:
        raise web.HTTPNotFound()
    return web.Response(text=body, content_type="text/html")


def make_dupes_app() -> web.Application:
    app = web.Application()
    app[HITS] = Counter()
    app.router.add_get("/{tail:.*}", _serve)
    return app
