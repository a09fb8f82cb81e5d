"""A synthetic site served by aiohttp, for the test suite and the benchmark.

Routes are behaviours: ``/flaky/{n}`` fails ``n`` times with 500 before it works, ``/slow/{ms}``
answers after ``ms`` milliseconds, ``/status/{code}`` answers with that status, ``/deep/{n}`` is
a chain of links, ``/fan/{n}`` links to ``n`` slow pages, ``/hub?u=URL&u=URL`` links to the URLs
it is given, ``/gen/{n}`` is a generated site of ``SiteConfig.gen_pages`` pages (1000) all
reachable from ``/gen/0``, ``/wide/{n}?fan=K&total=N`` is page n of a site of N pages (0: no end)
each linking to K others (a frontier of any size from a few pages), ``/heavy`` is a 3.6 MB page.
``/robots.txt`` answers what the app's :class:`SiteConfig` says (404 by default);
``/sitemap_index.xml`` names ``/sitemap.xml`` and the gzipped ``/sitemap2.xml.gz``. The app
records what it saw (:class:`Traffic`). ``python -m scraper.testing.site [PORT]`` serves it.

Hostile routes, for the fetcher's tests; each ends by itself once the client has gone:

- redirects: ``/redirect/{n}`` is ``n`` hops (``?code=301|302|303|307|308``, default 302) to the
  page ``/redirect/0``; ``/loop/a`` <-> ``/loop/b``; ``/self-redirect``;
  ``/bad-redirect/{missing|scheme|invalid}`` (no Location, ``ftp:``, unparsable);
  ``/goto?u=URL&code=302`` answers ``code`` with ``Location: URL``; ``/to-loopback`` redirects
  to ``http://127.0.0.1:<this port>/a`` (reach the site by a name pinned to 127.0.0.1).
- size: ``/huge/{mb}?mode=length|chunked|eof|lie&type=MIME`` streams ``mb`` MiB with a true
  Content-Length, chunked, until the connection closes, or after a Content-Length of 1000.
  ``/bomb/{gzip|br}?mib=1024`` inflates to ``mib`` MiB of zeros from ~1 KiB (gzip) or ~190 bytes
  (brotli) per MiB, with the compressed size as Content-Length.
- encodings: ``/encoded/{gzip|deflate|raw-deflate|br}`` is a page with that Content-Encoding;
  ``/bad-encoding`` claims gzip and is not.
- broken: ``/trickle`` sends a byte every 0.2 s (two minutes at most); ``/reset`` sends 10 KB of
  a promised 100 KB then a TCP reset, ``/truncated`` then a clean close; ``/hangup`` closes
  without answering; ``/bad-chunked`` sends an invalid chunk size mid-body.
- ``/charset/{cp1251|cp1252|shift_jis}`` is a page in that encoding, declared nowhere.
- ``/retry-after/{seconds|date}`` is a 429 with ``Retry-After: 2`` or the HTTP-date 2 s ahead
  (``?after=S`` for another delay, ``?times=N`` to answer 200 after N of them).
"""

import asyncio
import email.utils
import functools
import gzip
import itertools
import socket
import struct
import sys
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field

import brotli  # type: ignore[import-untyped]
from aiohttp import web
from aiohttp.typedefs import Handler


@dataclass
class Traffic:
    """What the server saw: hits and start times per path (with query), requests in flight,
    each path's last request headers, and the body bytes that streaming routes got out."""

    hits: Counter[str] = field(default_factory=Counter)
    starts: list[tuple[float, str]] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    sent: Counter[str] = field(default_factory=Counter)
    idle: asyncio.Event = field(default_factory=asyncio.Event)  # set while nothing is in flight

    def __post_init__(self) -> None:
        self.idle.set()


@dataclass
class SiteConfig:
    """Behaviour a test can change while the site runs (app state itself is frozen then)."""

    robots_status: int = 404
    robots_body: str = ""
    robots_failures: int = 0  # answer this many robots.txt requests with 503 first
    gen_pages: int = 1000  # size of the generated site under /gen/
    gen_latency_ms: int = 0  # each /gen/ page answers after this long


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
    traffic.headers[request.path_qs] = dict(request.headers)
    traffic.in_flight += 1
    traffic.peak_in_flight = max(traffic.peak_in_flight, traffic.in_flight)
    traffic.idle.clear()
    try:
        response: web.StreamResponse = await handler(request)
        return response
    finally:
        traffic.in_flight -= 1
        if traffic.in_flight == 0:
            traffic.idle.set()


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


# --- hostile routes (see the module docstring) -----------------------------------------------

_MIB = 1 << 20
_STREAM_CHUNK = 64 * 1024
_TRICKLE_INTERVAL_S = 0.2
_TRICKLE_MAX_BYTES = 600  # two minutes: bounded even if nobody ever hangs up


def redirect(location: str | None, code: int = 302) -> web.Response:
    response = web.Response(status=code, text="moved", content_type="text/html")
    if location is not None:
        response.headers["Location"] = location
    return response


async def redirect_chain(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    if n == 0:
        return html("Redirect target", "<p>the end of the chain</p>")
    query = f"?code={request.query['code']}" if "code" in request.query else ""
    return redirect(f"/redirect/{n - 1}{query}", int(request.query.get("code", "302")))


FIXED_REDIRECTS: dict[str, str | None] = {
    "/loop/a": "/loop/b",
    "/loop/b": "/loop/a",
    "/self-redirect": "/self-redirect",
    "/bad-redirect/missing": None,
    "/bad-redirect/scheme": "ftp://example.com/file",
    "/bad-redirect/invalid": "http://[::1/",
}


async def fixed_redirect(request: web.Request) -> web.Response:
    return redirect(FIXED_REDIRECTS[request.path])


async def goto(request: web.Request) -> web.Response:
    return redirect(request.query["u"], int(request.query.get("code", "302")))


async def to_loopback(request: web.Request) -> web.Response:
    transport = request.transport
    port = transport.get_extra_info("sockname")[1] if transport is not None else 80
    return redirect(f"http://127.0.0.1:{port}/a")


async def _stream(
    request: web.Request, write: Callable[[bytes], Awaitable[None]], parts: Iterable[bytes]
) -> None:
    """Write ``parts`` until they end or the client leaves; count what got out."""
    sent = request.app[TRAFFIC].sent
    try:
        for part in parts:
            await write(part)
            sent[request.path_qs] += len(part)
    except ConnectionError:
        pass  # the client hung up: stop


async def _send_raw(
    request: web.Request, parts: Iterable[bytes], pause_s: float = 0.0, reset: bool = False
) -> web.Response:
    """Write bytes straight to the socket (our own HTTP framing), then close it or reset it.

    With ``pause_s``, the first part goes out that long before the rest (the client has read
    the head by then, so what follows hits its body reader).
    """
    parts = iter(parts)
    if pause_s:
        await _stream(request, request.writer.write, [next(parts)])
        await asyncio.sleep(pause_s)
    await _stream(request, request.writer.write, parts)
    transport = request.transport
    if transport is not None:
        if reset:  # linger 0: close() sends RST instead of FIN
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
    return web.Response()  # never sent: aiohttp finds the transport closed and moves on


def _chunks(total: int, fill: bytes = b"x") -> Iterator[bytes]:
    piece = fill * _STREAM_CHUNK
    for start in range(0, total, _STREAM_CHUNK):
        yield piece[: min(_STREAM_CHUNK, total - start)]


async def huge(request: web.Request) -> web.StreamResponse:
    total = int(request.match_info["mb"]) * _MIB
    mode = request.query.get("mode", "length")
    ctype = request.query.get("type", "text/html")
    if mode in ("eof", "lie"):
        length = "Content-Length: 1000\r\n" if mode == "lie" else ""
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\n{length}Connection: close\r\n\r\n"
        return await _send_raw(request, itertools.chain([head.encode()], _chunks(total)))
    response = web.StreamResponse(headers={"Content-Type": ctype})
    if mode == "chunked":
        response.enable_chunked_encoding()
    else:
        response.content_length = total
    await response.prepare(request)
    await _stream(request, response.write, _chunks(total))
    return response


@functools.cache
def _deflated_mib() -> bytes:
    """Raw deflate of 1 MiB of zeros, ending on a full flush so that copies can be chained."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(bytes(_MIB)) + packer.flush(zlib.Z_FULL_FLUSH)


@functools.cache
def _gzip_trailer(mib: int) -> bytes:
    crc, zeros = 0, bytes(_MIB)
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    return struct.pack("<II", crc, (mib * _MIB) & 0xFFFFFFFF)


@functools.cache
def brotli_bomb(mib: int) -> bytes:
    """``mib`` MiB of zeros as brotli (quality 1: fast to make, about 190 bytes per MiB)."""
    packer, zeros = brotli.Compressor(quality=1), bytes(_MIB)
    parts = [packer.process(zeros) for _ in range(mib)]
    return b"".join([*parts, packer.finish()])


def _gzip_bomb(mib: int) -> tuple[int, Iterator[bytes]]:
    """Length and pieces of a valid gzip member inflating to ``mib`` MiB of zeros."""
    head, block, tail = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", _deflated_mib(), b"\x03\x00"
    per_write = 64  # 64 KiB on the wire inflate to 64 MiB

    def pieces() -> Iterator[bytes]:
        yield head
        for start in range(0, mib, per_write):
            yield block * min(per_write, mib - start)
        yield tail + _gzip_trailer(mib)

    return len(head) + len(block) * mib + len(tail) + 8, pieces()


async def bomb(request: web.Request) -> web.StreamResponse:
    mib = int(request.query.get("mib", "1024"))
    coding = request.match_info["coding"]
    if coding == "gzip":
        length, pieces = _gzip_bomb(mib)
    else:
        body = brotli_bomb(mib)
        length, pieces = len(body), iter([body])
    headers = {"Content-Type": "text/html", "Content-Encoding": coding}
    response = web.StreamResponse(headers=headers)
    response.content_length = length
    await response.prepare(request)
    await _stream(request, response.write, pieces)
    return response


ENCODED_TITLE = "Encoded page"


def _encode(doc: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip.compress(doc)
    if coding == "deflate":
        return zlib.compress(doc)
    if coding == "raw-deflate":  # what some servers send as "deflate"
        packer = zlib.compressobj(wbits=-15)
        return packer.compress(doc) + packer.flush()
    body: bytes = brotli.compress(doc)
    return body


async def encoded(request: web.Request) -> web.Response:
    coding = request.match_info["coding"]
    doc = html(ENCODED_TITLE, f"<p>{coding} {'filler ' * 200}</p>").body
    assert isinstance(doc, bytes)
    response = web.Response(body=_encode(doc, coding), content_type="text/html")
    response.headers["Content-Encoding"] = coding.removeprefix("raw-")
    return response


async def bad_encoding(request: web.Request) -> web.Response:
    response = web.Response(body=b"this is not gzip at all" * 10, content_type="text/html")
    response.headers["Content-Encoding"] = "gzip"
    return response


async def trickle(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/html"})
    await response.prepare(request)
    sent = request.app[TRAFFIC].sent
    for _ in range(_TRICKLE_MAX_BYTES):
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        try:
            await response.write(b"x")
        except ConnectionError:
            break
        sent[request.path_qs] += 1
        await asyncio.sleep(_TRICKLE_INTERVAL_S)
    return response


async def cut(request: web.Request) -> web.Response:
    """``/reset`` and ``/truncated``: 10 KB of 100 KB, then RST or FIN."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n"
    return await _send_raw(request, [head + b"x" * 10_000], 0.05, request.path == "/reset")


async def hangup(request: web.Request) -> web.Response:
    return await _send_raw(request, [])


async def bad_chunked(request: web.Request) -> web.Response:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
    return await _send_raw(request, [head + b"5\r\nhello\r\n", b"zz\r\nno chunk size\r\n"], 0.05)


async def retry_after(request: web.Request) -> web.Response:
    seen = request.app[FLAKY]
    seen[request.path_qs] += 1
    if seen[request.path_qs] > int(request.query.get("times", "1000000")):
        return html("Patience rewarded", "<p>thanks for waiting</p>")
    seconds = float(request.query.get("after", "2"))
    if request.match_info["kind"] == "date":
        value = email.utils.formatdate(time.time() + seconds, usegmt=True)
    else:
        value = f"{seconds:g}"
    return web.Response(status=429, text="slow down", headers={"Retry-After": value})


UNDECLARED_TEXT = {
    "cp1251": (
        "Книжный магазин",
        "Добро пожаловать в наш книжный магазин. Лучшие книги по низким ценам, ",
    ),
    "cp1252": ("Café crème", "Le café est très bon à Paris, où les crêpes sont délicieuses. "),
    "shift_jis": (
        "日本語のページ",
        "これは日本語で書かれたテストページです。本の価格と在庫を表示します。",
    ),
}


async def undeclared_charset(request: web.Request) -> web.Response:
    """A page in a legacy encoding that neither the headers nor the markup declare."""
    codec = request.match_info["codec"]
    title, sentence = UNDECLARED_TEXT[codec]
    doc = f"<html><head><title>{title}</title></head><body><p>{sentence * 20}</p></body></html>"
    return web.Response(body=doc.encode(codec), headers={"Content-Type": "text/html"})


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
    app.router.add_get("/robots.txt", robots_txt)
    app.router.add_get("/sitemap.xml", sitemap)
    app.router.add_get("/sitemap2.xml.gz", sitemap_gz)
    app.router.add_get("/sitemap_index.xml", sitemap_index)
    add_hostile_routes(app.router)
    return app


def add_hostile_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/redirect/{n:\\d+}", redirect_chain)
    for path in FIXED_REDIRECTS:
        router.add_get(path, fixed_redirect)
    router.add_get("/goto", goto)
    router.add_get("/to-loopback", to_loopback)
    router.add_get("/huge/{mb:\\d+}", huge)
    router.add_get("/bomb/{coding:gzip|br}", bomb)
    router.add_get("/encoded/{coding:gzip|deflate|raw-deflate|br}", encoded)
    router.add_get("/bad-encoding", bad_encoding)
    router.add_get("/trickle", trickle)
    router.add_get("/reset", cut)
    router.add_get("/truncated", cut)
    router.add_get("/hangup", hangup)
    router.add_get("/bad-chunked", bad_chunked)
    router.add_get("/charset/{codec}", undeclared_charset)
    router.add_get("/retry-after/{kind:seconds|date}", retry_after)


def listen(port: int = 0) -> socket.socket:
    """A socket listening on 127.0.0.1:``port`` (0: any free port), for :func:`serve`."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)  # connections queue from now on, before the app runs
    return sock


def serve(sock: socket.socket) -> None:
    """Serve the site on ``sock`` until SIGINT or SIGTERM."""
    web.run_app(make_app(), sock=sock, print=None, access_log=None, backlog=1024)


if __name__ == "__main__":  # python -m scraper.testing.site [PORT]: the root URL, then serve
    listening = listen(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    sys.stdout.write(f"http://127.0.0.1:{listening.getsockname()[1]}/\n")
    sys.stdout.flush()
    serve(listening)
