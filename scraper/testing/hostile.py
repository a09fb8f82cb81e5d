"""The test site's hostile routes, for the fetcher's tests; each ends by itself once the client
has gone.

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
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Iterator

import brotli  # type: ignore[import-untyped]
from aiohttp import web
from aiohttp.typedefs import Handler

from scraper.testing.traffic import FLAKY, TRAFFIC, html

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


_ROUTES: tuple[tuple[str, Handler], ...] = (
    ("/redirect/{n:\\d+}", redirect_chain),
    *((path, fixed_redirect) for path in FIXED_REDIRECTS),
    ("/goto", goto),
    ("/to-loopback", to_loopback),
    ("/huge/{mb:\\d+}", huge),
    ("/bomb/{coding:gzip|br}", bomb),
    ("/encoded/{coding:gzip|deflate|raw-deflate|br}", encoded),
    ("/bad-encoding", bad_encoding),
    ("/trickle", trickle),
    ("/reset", cut),
    ("/truncated", cut),
    ("/hangup", hangup),
    ("/bad-chunked", bad_chunked),
    ("/charset/{codec}", undeclared_charset),
    ("/retry-after/{kind:seconds|date}", retry_after),
)


def add_hostile_routes(router: web.UrlDispatcher) -> None:
    """Add the routes of the module docstring to the test site's ``router``."""
    for path, handler in _ROUTES:
        router.add_get(path, handler)
