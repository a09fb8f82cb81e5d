"""Sitemaps (https://www.sitemaps.org/protocol.html): XML, gzip and plain-text URL lists.

Pure functions of the body (no network, no tree): :func:`looks_like_sitemap` decides from the URL,
Content-Type and first bytes; :func:`parse_sitemap` extracts the page and sitemap URLs, bounded in
size and time whatever the body. Run in the parse pool like :mod:`scraper.parse.html`.
"""

import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape

from scraper.urls import join_url

log = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_CHUNK_BYTES = 256 * 1024
_SNIFF_BYTES = 2048
_ROOT_SCAN_BYTES = 65_536
_SITEMAP_TYPES = frozenset(
    {
        "application/xml",
        "text/xml",
        "application/gzip",
        "application/x-gzip",
        "application/octet-stream",
        "text/plain",
        "",
    }
)
_TEXT_SITEMAP_SUFFIXES = (".txt", ".txt.gz")
_LEADING_JUNK = b"\xef\xbb\xbf \t\r\n"  # UTF-8 BOM and whitespace
# The root element, with the namespace prefix it gives its children (<sm:urlset> -> <sm:loc>).
_SITEMAP_ROOT = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?(urlset|sitemapindex)[\s/>]")
_HTML_ROOT = re.compile(rb"<(?:!doctype\s+html|html)[\s>]", re.I)
# Each repetition stops at the next "<", so a hostile document is scanned in linear time.
_LOC = rb"loc(?:\s[^<>]*)?>(?:\s*<!\[CDATA\[([^<]*?)\]\]>\s*|([^<]*))</"
_TEXT_LINE = re.compile(rb"^(?:\xef\xbb\xbf)?[ \t]*(https?://\S+)[ \t]*\r?$", re.I | re.M)


@dataclass(frozen=True, slots=True)
class Sitemap:
    """What one sitemap lists: absolute, normalized URLs, each once, in document order."""

    urls: tuple[str, ...]
    sitemaps: tuple[str, ...]


def _gunzip(body: bytes, max_bytes: int) -> bytearray:
    """The first ``max_bytes`` of a gzip member, inflated a chunk at a time, so that a gzip bomb
    stops at ``max_bytes``; what came out before a corrupt or truncated spot is kept."""
    out = bytearray()
    inflater = zlib.decompressobj(wbits=31)
    view = memoryview(body)
    try:
        for start in range(0, len(body), _GZIP_CHUNK_BYTES):
            if len(out) >= max_bytes or inflater.eof:
                break
            out += inflater.decompress(
                view[start : start + _GZIP_CHUNK_BYTES], max_bytes - len(out)
            )
    except zlib.error:
        log.debug("corrupt gzip data after %d bytes", len(out))
    return out


def _document(body: bytes, max_bytes: int) -> bytes | bytearray:
    """The sitemap document: inflated if gzip (by its magic bytes), at most ``max_bytes``."""
    if max_bytes <= 0:
        return b""
    if body.startswith(_GZIP_MAGIC):
        return _gunzip(body, max_bytes)
    return body[:max_bytes] if len(body) > max_bytes else body


def _url_path(url: str) -> str:
    slash = url.find("/", url.find("//") + 2)
    return "" if slash < 0 else url[slash:].partition("?")[0].lower()


def _is_url_list(head: bytes | bytearray) -> bool:
    """Whether the complete non-blank lines of ``head`` (one at least) are all http(s) URLs."""
    lines = bytes(head).splitlines()
    if len(head) >= _SNIFF_BYTES and len(lines) > 1:
        lines.pop()  # cut by the sniffing
    lines = [line for line in lines if line.strip()]
    return bool(lines) and all(_TEXT_LINE.fullmatch(line) for line in lines)


def looks_like_sitemap(url: str, content_type: str, body: bytes) -> bool:
    """Whether a response is a sitemap worth :func:`parse_sitemap`.

    The media type must be XML, gzip, plain text, octet-stream or missing; then the body decides
    (gzip, known by its magic bytes, is inflated for its first 2 KB): HTML never is; an XML
    ``<urlset>`` or ``<sitemapindex>`` root in the first 2 KB is; and for a URL path containing
    "sitemap" or ending in .txt, so are lines that are all http(s) URLs. Never raises.
    """
    media = content_type.partition(";")[0].strip().lower()
    if media not in _SITEMAP_TYPES:
        return False
    if body.startswith(_GZIP_MAGIC):
        head: bytes | bytearray = _gunzip(body[: _SNIFF_BYTES * 32], _SNIFF_BYTES)
    else:
        head = body[:_SNIFF_BYTES]
    if _HTML_ROOT.search(head):
        return False
    if _SITEMAP_ROOT.search(head):
        return True
    path = _url_path(url)
    if "sitemap" not in path and not path.endswith(_TEXT_SITEMAP_SUFFIXES):
        return False
    return _is_url_list(head)


def _xml_locs(doc: bytes | bytearray) -> tuple[bool, Iterator[str]]:
    """(is a sitemap index, raw <loc> values) of an XML sitemap; no values without a known root."""
    root = _SITEMAP_ROOT.search(doc, 0, _ROOT_SCAN_BYTES)
    if root is None:
        return False, iter(())
    tag = b"<" + (re.escape(root.group(1)) + b":" if root.group(1) else b"")
    loc = re.compile(tag + _LOC + tag[1:] + rb"loc\s*>")
    values = (
        m.group(1).decode("utf-8", "replace")
        if m.group(1) is not None
        else unescape(m.group(2).decode("utf-8", "replace"))
        for m in loc.finditer(doc)
    )
    return root.group(2) == b"sitemapindex", values


def _resolve_all(values: Iterator[str], base: str, max_urls: int) -> tuple[str, ...]:
    """Values joined to ``base`` and normalized; invalid ones skipped; each once; ``max_urls``."""
    seen_raw: set[str] = set()
    found: dict[str, None] = {}
    for raw in values:
        if len(found) >= max_urls:
            break
        if raw in seen_raw:
            continue
        seen_raw.add(raw)
        joined = join_url(base, raw) if raw.strip() else None
        if joined is not None:
            found[joined] = None
    return tuple(found)


def parse_sitemap(
    body: bytes, url: str, max_urls: int = 50_000, max_bytes: int = 50_000_000
) -> Sitemap:
    """Parse a sitemap fetched from ``url`` (normalized, absolute), per the sitemaps.org protocol.

    The body is gzip if it starts with the gzip magic bytes, whatever its name or type, and is
    inflated up to ``max_bytes`` (a gzip bomb stops there); a plain body is cut at ``max_bytes``.
    A document starting with "<" is XML: the ``<loc>`` values (CDATA, entities and whitespace
    handled; a namespace prefix on the root applies to ``<loc>``; ``<image:loc>`` and the like are
    not pages) of a ``<urlset>`` are page URLs, those of a ``<sitemapindex>`` child sitemaps.
    Anything else is a text sitemap, whose lines that are one http(s) URL each count. Values are
    resolved with :func:`scraper.urls.join_url`; invalid ones are skipped, and only the first
    ``max_urls`` kept. Regular expressions, not an XML parser: no entity expansion, linear time.
    Never raises.
    """
    doc = _document(body, max_bytes)
    if doc[:_SNIFF_BYTES].lstrip(_LEADING_JUNK).startswith(b"<"):
        is_index, values = _xml_locs(doc)
    else:
        is_index = False
        values = (m.group(1).decode("utf-8", "replace") for m in _TEXT_LINE.finditer(doc))
    found = _resolve_all(values, url, max_urls)
    return Sitemap(urls=(), sitemaps=found) if is_index else Sitemap(urls=found, sitemaps=())
