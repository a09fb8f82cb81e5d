"""The local test site, served by aiohttp for the test suite and the benchmark.

Routes are behaviours: ``/flaky/{n}`` fails ``n`` times with 500 before it works, ``/slow/{ms}``
answers after ``ms`` milliseconds, ``/status/{code}`` answers with that status, ``/deep/{n}`` is
a chain of links, ``/fan/{n}`` links to ``n`` slow pages, ``/hub?u=URL&u=URL`` links to the URLs
it is given, ``/gen/{n}`` is a generated site of ``SiteConfig.gen_pages`` pages (1000) all
reachable from ``/gen/0``, ``/wide/{n}?fan=K&total=N`` is page n of a site of N pages (0: no end)
each linking to K others (a frontier of any size from a few pages), ``/heavy`` is a 3.6 MB page.
``/robots.txt`` answers what the app's :class:`SiteConfig` says (404 by default);
``/sitemap_index.xml`` names ``/sitemap.xml`` and the gzipped ``/sitemap2.xml.gz``. The app
records what it saw (:class:`Traffic`); the hostile routes are :mod:`scraper.testing.hostile`'s,
``/js/`` :mod:`scraper.testing.jsroutes`'s, ``/block/`` :mod:`scraper.testing.blockroutes`', the
members area (``/login``, ``/members/``) :mod:`scraper.testing.login`'s.
``python -m scraper.testing [PORT]`` serves it.
"""

import asyncio
import gzip
import socket
from collections import Counter

from aiohttp import web

from scraper.testing.archive import add_archive_routes
from scraper.testing.blockroutes import add_block_routes
from scraper.testing.hostile import add_hostile_routes
from scraper.testing.jsroutes import add_js_routes
from scraper.testing.login import add_login_routes
from scraper.testing.pdfgen import make_pdf
from scraper.testing.traffic import CONFIG, FLAKY, TRAFFIC, SiteConfig, Traffic, html, record

PDF_BYTES = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"  # broken: a header and no objects
# A real PDF of three pages of text (scraper.testing.pdfgen), with a title and an author.
REPORT_PDF = make_pdf(
    [["Quarterly report", "Aardvarks thrive in spring."], ["Zebras graze at dusk."], []],
    title="The Report", author="Ada Lovelace",
)  # fmt: skip


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
    if config.robots_failures > 0:
        config.robots_failures -= 1
        return web.Response(status=503, text="busy")
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


async def report_pdf(request: web.Request) -> web.Response:
    return web.Response(body=REPORT_PDF, content_type="application/pdf")


async def heavy(request: web.Request) -> web.Response:
    """A big page (``?n=`` paragraphs, each with a link): slow to parse, for debug-mode tests."""
    n = int(request.query.get("n", "40000"))
    para = "<p>Lorem ipsum dolor sit amet, consectetur <a href='/x/{0}'>link</a> elit.</p>"
    return html("Heavy", "".join(para.format(i) for i in range(n)))


def gen_links(n: int, total: int) -> list[int]:
    """The pages /gen/n links to: its three children, its parent and one far page."""
    targets = [3 * n + k for k in (1, 2, 3)] + [n // 3, (n * 7 + 13) % total]
    return [t for t in dict.fromkeys(targets) if t < total and t != n]


async def gen_page(request: web.Request) -> web.Response:
    """Page n of a generated site of ``gen_pages`` pages, all reachable from /gen/0."""
    config = request.app[CONFIG]
    n = int(request.match_info["n"])
    if n >= config.gen_pages:
        raise web.HTTPNotFound()
    if config.gen_latency_ms:
        await asyncio.sleep(config.gen_latency_ms / 1000)
    links = "".join(f'<a href="/gen/{t}">page {t}</a> ' for t in gen_links(n, config.gen_pages))
    return html(f"Gen {n}", f"<p>Generated page number {n}.</p>{links}")


def wide_links(n: int, fan: int, total: int) -> list[int]:
    """The pages /wide/n links to: ``fan`` pages from ``n * fan + 1`` on, a tree where no two
    pages share a link, folded onto the first ``total`` pages when ``total`` is not 0."""
    targets = range(n * fan + 1, n * fan + 1 + fan)
    return [t % total for t in targets] if total else list(targets)


async def wide(request: web.Request) -> web.Response:
    """Page n of a site where every page has ``fan`` links: ``p`` pages fetched discover
    ``p * fan`` new URLs, or at most ``total`` in all (``total=0``: no bound)."""
    n = int(request.match_info["n"])
    fan, total = int(request.query.get("fan", "10")), int(request.query.get("total", "0"))
    if total and n >= total:
        raise web.HTTPNotFound()
    query = f"?fan={fan}&amp;total={total}"
    links = "".join(f'<a href="/wide/{t}{query}">{t}</a> ' for t in wide_links(n, fan, total))
    return html(f"Wide {n}", f"<p>Page {n} of {total or 'many'}.</p>{links}")


async def cookie_set(request: web.Request) -> web.Response:
    response = html("Cookie set", "<p>sid set</p>")
    response.set_cookie("sid", "s3ss10n", path="/")
    return response


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
    app.router.add_get("/heavy", heavy)
    app.router.add_get("/gen/{n:\\d+}", gen_page)
    app.router.add_get("/wide/{n:\\d+}", wide)
    app.router.add_get("/deep/{n:\\d+}", deep)
    app.router.add_get("/flaky/{n:\\d+}", flaky)
    app.router.add_get("/slow/{ms:\\d+}", slow)
    app.router.add_get("/fan/{n:\\d+}", fan)
    app.router.add_get("/hub", hub)
    app.router.add_get("/status/{code:\\d+}", status)
    app.router.add_get("/doc.pdf", pdf)
    app.router.add_get("/report.pdf", report_pdf)
    app.router.add_get("/cookie/set", cookie_set)
    app.router.add_get("/robots.txt", robots_txt)
    app.router.add_get("/sitemap.xml", sitemap)
    app.router.add_get("/sitemap2.xml.gz", sitemap_gz)
    app.router.add_get("/sitemap_index.xml", sitemap_index)
    add_hostile_routes(app.router)
    add_archive_routes(app.router)  # known bytes on the wire, for WARC
    add_js_routes(app.router)  # pages built by JavaScript
    add_login_routes(app)  # a members area behind a login form
    add_block_routes(app.router)  # challenge, captcha and access-denied pages
    return app


def listen(port: int = 0, host: str = "127.0.0.1") -> socket.socket:
    """A socket listening on ``host``:``port`` (0: any free port), for :func:`serve`
    (``0.0.0.0``: every interface, for network namespaces reaching it through veth pairs)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)  # connections queue from now on, before the app runs
    return sock


def serve(sock: socket.socket) -> None:
    """Serve the site on ``sock`` until SIGINT or SIGTERM."""
    web.run_app(make_app(), sock=sock, print=None, access_log=None, backlog=1024)
