"""A synthetic site served by aiohttp, for the test suite and the benchmark.

Routes are behaviours: ``/flaky/{n}`` fails ``n`` times with 500 before it works, ``/slow/{ms}``
answers after ``ms`` milliseconds, ``/status/{code}`` answers with that status, ``/deep/{n}`` is
a chain of links, ``/fan/{n}`` links to ``n`` slow pages,
``/hub?u=URL&u=URL`` links to the URLs it is given. ``/robots.txt`` answers what the app's
:class:`SiteConfig` says (404 by default); ``/sitemap_index.xml`` names ``/sitemap.xml`` and the
gzipped ``/sitemap2.xml.gz``. The app records what it saw: hits per
path (with query), the peak number of requests in flight, and each request's start time.
"""

import asyncio
import gzip
import time
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler


@dataclass
class Traffic:
    """What the server saw."""

    hits: Counter[str] = field(default_factory=Counter)
    starts: list[tuple[float, str]] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0


@dataclass
class SiteConfig:
    """Behaviour a test can change while the site runs (app state itself is frozen then)."""

    robots_status: int = 404
    robots_body: str = ""


TRAFFIC = web.AppKey("traffic", Traffic)
CONFIG = web.AppKey("config", SiteConfig)
FLAKY = web.AppKey("flaky", Counter[str])

PDF_BYTES = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"


def html(title: str, body: str, head: str = "") -> web.Response:
    doc = (
        f"<!doctype html><html><head><title>{title}</title>{head}</head>"
        f"<body><h1>{title}</h1>{body}</body></html>"
    )
    return web.Response(text=doc, content_type="text/html")


@web.middleware
async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
    traffic = request.app[TRAFFIC]
    traffic.hits[request.path_qs] += 1
    traffic.starts.append((time.monotonic(), request.path_qs))
    traffic.in_flight += 1
    traffic.peak_in_flight = max(traffic.peak_in_flight, traffic.in_flight)
    try:
        response: web.StreamResponse = await handler(request)
        return response
    finally:
        traffic.in_flight -= 1


async def home(request: web.Request) -> web.Response:
    host = request.host
    links = [
        '<a href="a">relative</a>',
        f'<a href="http://{host}/b?x=1">absolute</a>',
        f'<a href="//{host}/c">protocol-relative</a>',
        '<a href="/a#section">fragment</a>',
        '<a href="/a/../b?x=1">dot segments</a>',
        '<a href="javascript:void(0)">js</a>',
        '<a href="mailto:someone@example.com">mail</a>',
        '<a href="tel:+15555550100">phone</a>',
        '<a href="data:text/html,hello">data</a>',
        '<a href="/status/404">broken</a>',
        '<a href="/flaky/1">flaky</a>',
        '<a href="/doc.pdf">pdf</a>',
        '<a href="http://elsewhere.invalid/page">external</a>',
    ]
    head = '<meta name="description" content="The test site home page">'
    return html("Home", "<p>Welcome to the test site.</p>" + "".join(links), head)


async def page_a(request: web.Request) -> web.Response:
    head = '<base href="/dir/">'
    return html("Page A", '<a href="leaf">leaf via base</a> <a href="/">home</a>', head)


async def page_b(request: web.Request) -> web.Response:
    return html("Page B", '<a href="/c">c</a><script>var hidden = "no";</script>')


async def page_c(request: web.Request) -> web.Response:
    return html("Page C", '<a href="/deep/1">deeper</a><style>p{color:red}</style>')


async def leaf(request: web.Request) -> web.Response:
    return html("Leaf", "<p>The end of the base-href path.</p>")


async def deep(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    limit = int(request.query.get("limit", "3"))
    nxt = f'<a href="/deep/{n + 1}?limit={limit}">next</a>' if n < limit else ""
    return html(f"Deep {n}", nxt)


async def flaky(request: web.Request) -> web.Response:
    failures = int(request.match_info["n"])
    seen = request.app[FLAKY]
    seen[request.path] += 1
    if seen[request.path] <= failures:
        return web.Response(status=500, text="try again")
    return html(f"Flaky {failures}", "<p>worked at last</p>")


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(int(request.match_info["ms"]) / 1000)
    return html(f"Slow {request.match_info['ms']}", "<p>sorry for the wait</p>")


async def fan(request: web.Request) -> web.Response:
    count = int(request.match_info["n"])
    ms = int(request.query.get("ms", "50"))
    links = "".join(f'<a href="/slow/{ms}?i={i}">{i}</a>' for i in range(count))
    return html(f"Fan {count}", links)


async def hub(request: web.Request) -> web.Response:
    links = "".join(f'<a href="{url}">{url}</a>' for url in request.query.getall("u", []))
    return html("Hub", links)


async def robots_txt(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    return web.Response(status=config.robots_status, text=config.robots_body)


def urlset(request: web.Request, paths: list[str]) -> str:
    locs = "".join(f"<url><loc>http://{request.host}{p}</loc></url>" for p in paths)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
    )


async def sitemap(request: web.Request) -> web.Response:
    body = urlset(request, ["/a", "/dir/leaf", "/deep/1?limit=1"])
    return web.Response(text=body, content_type="application/xml")


async def sitemap_gz(request: web.Request) -> web.Response:
    body = gzip.compress(urlset(request, ["/slow/1", "/slow/2"]).encode())
    return web.Response(body=body, content_type="application/gzip")


async def sitemap_index(request: web.Request) -> web.Response:
    maps = "".join(
        f"<sitemap><loc>http://{request.host}{p}</loc></sitemap>"
        for p in ("/sitemap.xml", "/sitemap2.xml.gz")
    )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{maps}</sitemapindex>'
    )
    return web.Response(text=body, content_type="application/xml")


async def status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    return web.Response(status=code, text=f"status {code}", content_type="text/html")


async def pdf(request: web.Request) -> web.Response:
    return web.Response(body=PDF_BYTES, content_type="application/pdf")


def make_app() -> web.Application:
    app = web.Application(middlewares=[record])
    app[TRAFFIC] = Traffic()
    app[FLAKY] = Counter()
    app[CONFIG] = SiteConfig()
    app.router.add_get("/", home)
    app.router.add_get("/a", page_a)
    app.router.add_get("/b", page_b)
    app.router.add_get("/c", page_c)
    app.router.add_get("/dir/leaf", leaf)
    app.router.add_get("/deep/{n:\\d+}", deep)
    app.router.add_get("/flaky/{n:\\d+}", flaky)
    app.router.add_get("/slow/{ms:\\d+}", slow)
    app.router.add_get("/fan/{n:\\d+}", fan)
    app.router.add_get("/hub", hub)
    app.router.add_get("/status/{code:\\d+}", status)
    app.router.add_get("/doc.pdf", pdf)
    app.router.add_get("/robots.txt", robots_txt)
    app.router.add_get("/sitemap.xml", sitemap)
    app.router.add_get("/sitemap2.xml.gz", sitemap_gz)
    app.router.add_get("/sitemap_index.xml", sitemap_index)
    return app
