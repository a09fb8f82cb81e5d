"""HTML bytes to a :class:`ParsedPage`: title, description, visible text and outgoing links;
sitemap bytes (XML, gzip or text) to a :class:`Sitemap` of page and child-sitemap URLs.

The only module that imports selectolax (lexbor backend). Everything here is a pure, top-level
function of picklable values, so :func:`parse_html` can run in a ``ProcessPoolExecutor``. Nothing
here raises on any input bytes: broken markup, binary garbage and empty bodies give a (possibly
empty) page.
"""

import codecs
import json
import logging
import re
import zlib

import charset_normalizer
from selectolax.lexbor import LexborHTMLParser, LexborNode

from scraper.digest import content_hash
from scraper.models import (
    Content,
    ExtractRule,
    ParsedPage,
    ParseJob,
    ParseSpec,
    Reparsed,
    StoredBody,
)
from scraper.parse.chunks import chunk_blocks
from scraper.parse.content import main_content
from scraper.parse.extract import extract_fields
from scraper.parse.joins import join_relative, join_rooted, origin_of
from scraper.parse.metadata import page_metadata, with_text
from scraper.parse.pdf import UNREADABLE, is_pdf, parse_pdf
from scraper.parse.plain import collapse_whitespace as collapse_whitespace
from scraper.urls import join_url, try_normalize

log = logging.getLogger(__name__)

# WHATWG Encoding Standard: the labels "iso-8859-1", "latin1" and "ascii" all mean windows-1252.
# HTML "prescan a byte stream": "If charset is UTF-16BE/LE, then set charset to UTF-8" (a meta
# readable as ASCII cannot be UTF-16). Keys are Python codec names (``codecs.lookup().name``).
_CODEC_ALIASES = {"iso8859-1": "cp1252", "ascii": "cp1252"}
_META_NOT_UTF16 = frozenset({"utf-16", "utf-16-le", "utf-16-be"})
_META_PRESCAN_BYTES = 2048
_DETECT_BYTES = 64 * 1024  # what charset detection looks at: enough, and bounded in time
# Both <meta charset="x"> and <meta http-equiv="Content-Type" content="text/html; charset=x">.
_META_CHARSET = re.compile(rb"<meta\s[^>]*?\bcharset\s*=\s*[\"']?\s*([a-z0-9._:-]+)", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Elements whose content is never rendered as text (<head> matters when there is no <body>).
_INVISIBLE = ["head", "title", "script", "style", "noscript", "template", "svg", "iframe"]
# Common phrasing elements, unwrapped before text extraction so that "Hel<b>lo</b>" stays one
# word while every other element boundary becomes a space. One grouped selector (unwrap_tags runs
# css() per entry, with a fixed cost per query): 18 separate tags would cost about twice as much.
_INLINE = [
    "a, abbr, b, cite, code, em, font, i, mark, q, s, small, span, strong, sub, sup, time, u"
]

# Lexbor's tree builder walks the whole stack of open elements for each block start tag (the "has
# a p element in button scope" check), so parsing costs tags x depth: 2 MB of unclosed <div> takes
# minutes. Cost <= tags**2 * ~3 ns, so a body with fewer than _DEPTH_CHECK_TAGS "<" is always
# fast; a bigger one has its depth estimated (never under by more than ~4x: implied <tbody>, <tr>)
# and is cut before the first tag deeper than _MAX_DEPTH. Browsers cap depth too (Blink: 512).
_DEPTH_CHECK_TAGS = 20_000
_MAX_DEPTH = 1000
_TAG = re.compile(rb"<(/?)([a-zA-Z][^\s/>]*)")
# Void elements, and elements a sibling start tag closes: the tree builder keeps these shallow.
_FLAT = frozenset(
    b"area base br col embed hr img input keygen link meta param source track wbr html head body"
    b" p li dt dd option optgroup tbody thead tfoot tr td th rb rp rt".split()
)
# HTML "special" elements (those in _FLAT left out): an end tag of another element never pops
# past one of these.
_SPECIAL = frozenset(
    b"address applet article aside basefont bgsound blockquote button caption center colgroup"
    b" details dir div dl fieldset figcaption figure footer form frame frameset h1 h2 h3 h4 h5 h6"
    b" header hgroup iframe listing main marquee menu nav noembed noframes noscript object ol"
    b" plaintext pre script search section select style summary table template textarea title ul"
    b" xmp".split()
)
# Scope boundaries (union of the spec's scopes): no end tag pops past one of these.
_SCOPE = frozenset(b"applet button caption html marquee object ol table td template th ul".split())


def _close(stack: list[bytes], name: bytes) -> None:
    """Pop to the nearest open ``name`` in the top 16 entries, if the tree builder surely would."""
    stops = _SCOPE if name in _SPECIAL else _SPECIAL
    for i in range(len(stack) - 1, max(len(stack) - 17, -1), -1):
        if stack[i] == name:
            del stack[i:]
            return
        if stack[i] in stops:
            return


def _too_deep_at(html: bytes) -> int | None:
    """Offset of the first start tag nested deeper than ``_MAX_DEPTH`` (estimated), or None."""
    if html.count(b"<") < _DEPTH_CHECK_TAGS:
        return None
    stack: list[bytes] = []
    for match in _TAG.finditer(html):
        name = match.group(2).lower()
        if name in _FLAT:
            continue
        if match.group(1):
            _close(stack, name)
            continue
        stack.append(name)
        if len(stack) > _MAX_DEPTH:
            return match.start()
    return None


def _codec(label: str | bytes | None) -> str | None:
    """Python's codec name for a charset label, or None if Python has no text codec by that name."""
    if not label:
        return None
    try:
        name = label.decode("ascii") if isinstance(label, bytes) else label
        info = codecs.lookup(name.strip().strip("\"'"))
        b"-".decode(info.name, "replace")  # LookupError for bytes-to-bytes codecs: base64, zlib
    except (LookupError, UnicodeError, ValueError):
        return None
    return _CODEC_ALIASES.get(info.name, info.name)


def _meta_codec(body: bytes) -> str | None:
    """The codec named by the first <meta> charset declaration in the first 2048 bytes."""
    match = _META_CHARSET.search(body, 0, _META_PRESCAN_BYTES)
    codec = _codec(match.group(1)) if match else None
    return "utf-8" if codec in _META_NOT_UTF16 else codec


def _to_utf8(body: bytes, charset: str | None) -> bytes:
    """The document re-encoded as UTF-8 without NULs; may hold invalid sequences if it was UTF-8.

    The encoding is, in order: a byte-order mark, the HTTP ``charset`` if Python knows it, a
    ``<meta>`` declaration in the first 2048 bytes, UTF-8 if the bytes are valid UTF-8, else
    detection (charset-normalizer). UTF-8 bodies are not decoded (lexbor replaces invalid
    sequences itself): a decode/encode round trip would add ~8% per page.
    """
    codec = next((name for bom, name in _BOMS if body.startswith(bom)), None)
    codec = codec or _codec(charset) or _meta_codec(body) or _sniff_codec(body)
    if codec != "utf-8":
        # "replace" on encode turns lone surrogates (from e.g. utf-7 or unicode_escape) into "?".
        body = body.decode(codec, errors="replace").encode("utf-8", errors="replace")
    return body.replace(b"\x00", b"")


def _sniff_codec(body: bytes) -> str:
    """UTF-8 when the bytes are valid UTF-8 (ASCII included), else what detection finds."""
    if body.isascii():
        return "utf-8"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        best = charset_normalizer.from_bytes(body[:_DETECT_BYTES]).best()
        if best is not None:
            return _codec(best.encoding) or "utf-8"
    return "utf-8"


def html_tree(body: bytes, charset: str | None) -> LexborHTMLParser:
    """The document parsed as the crawler parses it (for benchmarks: no depth cut)."""
    return LexborHTMLParser(_to_utf8(body, charset))


def decode_html(body: bytes, charset: str | None) -> str:
    """Bytes to text: the encoding is chosen by a byte-order mark, else the HTTP ``charset`` if
    Python knows it, else a ``<meta charset>`` or ``<meta http-equiv="Content-Type">`` in the
    first 2048 bytes, else UTF-8 (labels per WHATWG: "iso-8859-1" means windows-1252).

    Undecodable bytes become U+FFFD and NULs are dropped; the result always encodes as UTF-8.
    Never raises: an unknown charset name falls through to the next rule.
    """
    return _to_utf8(body, charset).decode("utf-8", errors="replace")


def _title(tree: LexborHTMLParser) -> str | None:
    node = tree.css_first("title:not(svg title, math title)")  # not an inline icon's tooltip
    return (collapse_whitespace(node.text()) or None) if node is not None else None


def _description(tree: LexborHTMLParser) -> str | None:
    # The "i" flag matches the attribute value case-insensitively (name="Description").
    node = tree.css_first('meta[name="description" i][content]')
    content = node.attrs.get("content") if node is not None else None
    return (collapse_whitespace(content) or None) if content else None


def _base_url(tree: LexborHTMLParser, url: str) -> str:
    """The document base URL: the first ``<base href>`` resolved against ``url`` if http(s)."""
    node = tree.css_first("base[href]")
    href = node.attrs.get("href") if node is not None else None
    return (join_url(url, href) or url) if href else url


def _links(
    nodes: list[LexborNode], base: str, max_links: int, shared: bool = False
) -> tuple[str, ...]:
    """Resolved links in document order, each once; raw hrefs are deduplicated before joining.
    ``shared``: the Markdown resolves them again, so relative ones are memoized too."""
    seen_raw: set[str] = set()
    links: dict[str, None] = {}
    origin = origin_of(base)
    join = join_relative if shared else join_url
    for node in nodes:
        href = node.attrs.sget("href")
        if href in seen_raw:
            continue
        seen_raw.add(href)
        rooted = origin is not None and href.startswith("/") and not href.startswith("//")
        joined = join_rooted(origin, href) if rooted else join(base, href)
        if joined is not None:
            links[joined] = None
            if len(links) >= max_links:
                break
    return tuple(links)


def _text(tree: LexborHTMLParser) -> str:
    """Visible text, whitespace collapsed. Mutates the tree: call it last."""
    tree.strip_tags(_INVISIBLE, recursive=True)
    tree.unwrap_tags(_INLINE)
    tree.merge_text_nodes()
    root = tree.body or tree.root
    return collapse_whitespace(root.text(separator=" ")) if root is not None else ""


def parse_html(
    body: bytes,
    url: str,
    charset: str | None,
    max_links: int = 1000,
    rules: tuple[ExtractRule, ...] = (),
    *,
    markdown: bool = False,
    chunk_tokens: int | None = None,
    content_language: str | None = None,
    metadata: bool = True,
) -> ParsedPage:
    """Parse one HTML document fetched from ``url`` (normalized, absolute).

    ``charset`` comes from the HTTP Content-Type header, if any (see :func:`decode_html`).
    Links come from ``<a href>`` and ``<area href>`` (rel="nofollow" included), resolved against
    the document base URL by :func:`scraper.urls.join_url`; non-http(s), fragment-only and invalid
    ones are dropped, and only the first ``max_links`` are kept. ``rules`` fill ``data``
    (:mod:`scraper.parse.extract`). With ``markdown``, ``content`` is the page's main content
    (:mod:`scraper.parse.content`), cut in chunks of ``chunk_tokens`` when that is set
    (:mod:`scraper.parse.chunks`). ``metadata`` is :mod:`scraper.parse.metadata`'s
    (``content_language``: the HTTP header, the language when the html declares none); None
    without ``metadata``. Never
    raises on any body; a body nested absurdly deep is parsed only up to the first too-deep tag
    (logged), to bound the time.
    """
    html = _to_utf8(body, charset)
    cut = _too_deep_at(html)
    if cut is not None:
        log.warning("%s nests elements over %d deep: parsed up to byte %d", url, _MAX_DEPTH, cut)
        html = html[:cut]
    # Bytes are parsed as UTF-8; lexbor turns invalid sequences into U+FFFD itself.
    tree = LexborHTMLParser(html)
    nodes = tree.css("a[href], area[href]") if max_links > 0 else []
    base = _base_url(tree, url)
    links = _links(nodes, base, max_links, shared=markdown)
    title, description = _title(tree), _description(tree)
    data = extract_fields(tree, url, rules, base) if rules else None  # before _text changes it
    meta = page_metadata(tree, base) if metadata else None  # before _text strips the scripts
    main = main_content(tree, base) if markdown else None  # before _text too
    text = _text(tree)
    if meta is not None:
        meta = with_text(meta, main.text if main is not None and main.text else text,
                         content_language)  # fmt: skip
    content = None
    if main is not None:
        chunks = chunk_blocks(main.blocks, chunk_tokens) if chunk_tokens else ()
        content = Content(main.markdown, chunks)
    return ParsedPage(title, description, text, links, data, content, meta)


def parse_document(job: ParseJob, spec: ParseSpec) -> ParsedPage:
    """:func:`parse_html` of a pool job, as ``spec`` says; a PDF's :func:`parse_pdf`."""
    tokens = spec.chunk_tokens if spec.chunks else None
    if is_pdf(job.content_type, job.body):
        return parse_pdf(job.body, job.url, markdown=spec.markdown, chunk_tokens=tokens)
    return parse_html(
        job.body, job.url, job.charset, spec.max_links, spec.rules,
        markdown=spec.markdown, chunk_tokens=tokens,
        content_language=job.content_language, metadata=spec.metadata,
    )  # fmt: skip


# --- In the parse pool: whole batches per call (top-level functions, picklable) -------------


def parse_many(jobs: list[ParseJob], spec: ParseSpec) -> list[tuple[ParsedPage, bytes | None]]:
    """Parse HTML pages, and for --store-html compress their bodies: one trip to the parse pool
    for a whole batch (top-level, picklable)."""
    return [
        (parse_document(job, spec), zlib.compress(job.body) if job.keep else None) for job in jobs
    ]


def reparse_batch(bodies: list[StoredBody], spec: ParseSpec) -> list[Reparsed]:
    """Parse stored bodies (HTML, PDF) again (runs in the parse pool: top-level and picklable)."""
    out = []
    for stored in bodies:
        base = try_normalize(stored.final_url) or stored.url
        job = ParseJob(zlib.decompress(stored.body), base, stored.charset)
        page = parse_document(job, spec)
        if page == UNREADABLE:  # a broken stored PDF keeps what the crawl stored: no text
            continue
        data = json.dumps(page.data, ensure_ascii=False) if page.data else None
        digest = content_hash(page.title, page.text, data)
        out.append(
            Reparsed(stored.version_id, stored.url, page.title, page.description, page.text,
                     data, page.links, digest, page.content, page.metadata)
        )  # fmt: skip
    return out
