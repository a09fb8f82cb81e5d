"""The test site's archive routes (``/archive/...``): pages whose exact bytes on the wire are
known, for the capture and WARC tests to compare with what was stored and replayed.

``/archive/`` links to each of them, to ``/redirect/2`` and to ``/huge/1?mode=chunked`` (cut
by a small ``max_body_bytes``). :data:`ARCHIVE_PAGES` maps each path to what it serves: extra
headers (name case, order and a duplicate kept) and the payload (content-coded, without the
chunked framing). ``/archive/chunked`` sends its payload in three chunks.
"""

import gzip
from dataclasses import dataclass

import brotli  # type: ignore[import-untyped]
from aiohttp import web

ARCHIVE_TITLE = "Archived page"


def _doc(name: str) -> bytes:
    filler = "archive me " * 300
    return (
        f"<!doctype html><html><head><title>{ARCHIVE_TITLE} {name}</title></head>"
        f"<body><h1>{name}</h1><p>{filler}</p></body></html>"
    ).encode()


@dataclass(frozen=True, slots=True)
class ArchivePage:
    """What one archive route sends: ``headers`` (besides aiohttp's own) and ``payload``."""

    headers: tuple[tuple[str, str], ...]
    payload: bytes
    chunks: int = 0  # > 0: sent chunked, in this many pieces
    doc: bytes = b""  # the decoded document


def _page(name: str, coding: str | None = None, chunks: int = 0) -> ArchivePage:
    doc = _doc(name)
    headers = [("Content-Type", "text/html; charset=utf-8"), ("X-Archive-Test", "one")]
    headers += [("x-archive-test", "Two"), ("X-MiXeD-CaSe", "kept")]
    payload = doc
    if coding == "gzip":
        payload = gzip.compress(doc, mtime=0)
    elif coding == "br":
        payload = brotli.compress(doc)
    if coding:
        headers.append(("Content-Encoding", coding))
    return ArchivePage(tuple(headers), payload, chunks, doc)


ARCHIVE_PAGES = {
    "/archive/plain": _page("plain"),
    "/archive/gzip": _page("gzip", "gzip"),
    "/archive/br": _page("br", "br"),
    "/archive/chunked": _page("chunked", chunks=3),
    "/archive/chunked-gzip": _page("chunked-gzip", "gzip", chunks=4),
}


async def archive_index(request: web.Request) -> web.Response:
    links = [*ARCHIVE_PAGES, "/redirect/2", "/huge/1?mode=chunked"]
    anchors = "".join(f'<a href="{link}">{link}</a> ' for link in links)
    doc = f"<!doctype html><html><head><title>Archive</title></head><body>{anchors}</body></html>"
    return web.Response(text=doc, content_type="text/html")


async def archive_page(request: web.Request) -> web.StreamResponse:
    page = ARCHIVE_PAGES[request.path]
    response = web.StreamResponse()
    for name, value in page.headers:
        response.headers.add(name, value)
    if page.chunks:
        response.enable_chunked_encoding()
    else:
        response.content_length = len(page.payload)
    await response.prepare(request)
    step = -(-len(page.payload) // max(page.chunks, 1))
    for start in range(0, len(page.payload), step):
        await response.write(page.payload[start : start + step])
    await response.write_eof()
    return response


def add_archive_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/archive/", archive_index)
    for path in ARCHIVE_PAGES:
        router.add_get(path, archive_page)
