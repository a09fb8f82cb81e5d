"""Captures as the crawl's fetch results: a response record's HTTP status and headers with its
payload decoded, a revisit resolved to the response it points at.

A revisit is resolved, in this order, by ``WARC-Refers-To-Target-URI`` and ``WARC-Refers-To-Date``
(WARC 1.1), by its payload digest (``identical-payload-digest``, and the uri-agnostic profile),
then by the latest earlier response of its own URL (``server-not-modified`` names none). Its
status is its own unless it says 304 or has no HTTP headers: then it is the original's.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from warcio.recordloader import ArcWarcRecord

from scraper.importing import brotlicoding
from scraper.importing.reader import Entry
from scraper.models import FetchResult

_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)


class Originals:
    """The responses of an import, for revisits to find the one they point at."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self._by_time: dict[tuple[str, str], Entry] = {}
        self._by_digest: dict[str, Entry] = {}
        self._by_url: dict[str, list[Entry]] = {}
        for e in sorted((e for e in entries if not e.revisit), key=lambda e: e.fetched_at):
            self._by_time.setdefault((e.url, e.fetched_at), e)
            if e.digest:
                self._by_digest.setdefault(e.digest, e)
            self._by_url.setdefault(e.url, []).append(e)

    def original(self, revisit: Entry) -> Entry | None:
        """The response ``revisit`` points at, None when the import holds none."""
        if revisit.refers_to is not None and (found := self._by_time.get(revisit.refers_to)):
            return found
        if revisit.digest and (found := self._by_digest.get(revisit.digest)):
            return found
        earlier = [
            e for e in self._by_url.get(revisit.url, ()) if e.fetched_at <= revisit.fetched_at
        ]
        return earlier[-1] if earlier else None


brotlicoding.register()


@dataclass(frozen=True, slots=True)
class Payload:
    """What a response record says: status, headers the crawl keeps, the decoded body."""

    status: int
    content_type: str
    charset: str | None
    body: bytes
    etag: str | None
    last_modified: str | None
    decoded: bool  # False: its Content-Encoding could not be undone (the bytes kept as they are)


def payload(record: ArcWarcRecord) -> Payload | None:
    """The record's HTTP response, None when it has no status line (a revisit without headers,
    a record that is not HTTP); a resource record's block as a 200 of its WARC Content-Type."""
    headers = record.http_headers
    if record.rec_type == "resource":
        mime, charset = media_type(record.rec_headers.get_header("Content-Type"))
        body = record.raw_stream.read()
        return Payload(200, mime, charset, body, None, None, decoded=True)
    if not headers:
        return None
    code = headers.get_statuscode()
    if not code.isdigit():
        return None
    mime, charset = media_type(headers.get_header("Content-Type"))
    decoded = True
    try:
        body = record.content_stream().read()
    except Exception:  # a broken gzip or brotli stream: zlib.error, brotli.error, OSError...
        body, decoded = record.raw_stream.read(), False
    return Payload(
        int(code),
        mime,
        charset,
        body,
        headers.get_header("ETag"),
        headers.get_header("Last-Modified"),
        decoded,
    )


def media_type(header: str | None) -> tuple[str, str | None]:
    """(media type, charset) of a Content-Type header, as aiohttp reads them for the crawl."""
    if not header:
        return "application/octet-stream", None
    mime = header.split(";", 1)[0].strip().lower() or "application/octet-stream"
    found = _CHARSET.search(header)
    return mime, found[1] if found else None


def fetch_result(entry: Entry, own: Payload | None, original: Payload | None) -> FetchResult:
    """The capture as the crawl's fetch result: a response's own payload; a revisit's status
    (unless 304 or none) over the content of its ``original``."""
    content = original if entry.revisit and original is not None else own
    if content is None:
        raise ValueError("a capture without an HTTP response")
    status = content.status
    if entry.revisit and own is not None and own.status != 304:
        status = own.status
    return FetchResult(
        url=entry.url,
        final_url=entry.url,
        status=status,
        content_type=content.content_type,
        charset=content.charset,
        body=content.body,
        size_bytes=len(content.body),
        elapsed_ms=0,
        attempts=1,
        fetched_at=entry.fetched_at,
        etag=content.etag,
        last_modified=content.last_modified,
    )
