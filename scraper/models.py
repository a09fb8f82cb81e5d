"""Plain values passed between stages. Frozen, slotted, no behaviour beyond derived fields."""

from dataclasses import dataclass
from enum import StrEnum


class FrontierState(StrEnum):
    """The life of a URL in ``frontier.state`` (values are stored in the database)."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    FAILED = "failed"
    BLOCKED = "blocked"


class Scope(StrEnum):
    """Which discovered links are followed, relative to the seeds' hosts."""

    HOST = "host"
    DOMAIN = "domain"
    ANY = "any"


HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


class RenderMode(StrEnum):
    """When a page is loaded in the headless browser (``--render``, ``render`` per site)."""

    NEVER = "never"
    AUTO = "auto"  # over HTTP first; rendered when the page needs it (see scraper.parse.needsjs)
    ALWAYS = "always"


class Change(StrEnum):
    """What a new row of ``versions`` says about its URL (values are stored in the database)."""

    NEW = "new"  # the URL's first content
    CHANGED = "changed"  # content other than the version before
    REMOVED = "removed"  # it answers 404 or 410 now


# Statuses that say a page is gone: a revisit answering one records the page as removed.
GONE_STATUSES = frozenset({404, 410})


@dataclass(frozen=True, slots=True)
class PreviousVisit:
    """What the last visit of a stored page left to compare a revisit with: its validators
    (``ETag``, ``Last-Modified``) for a conditional request, the hashes of its raw body and of
    its content, and its revisit interval."""

    etag: str | None
    last_modified: str | None
    body_hash: str | None
    content_hash: str | None
    revisit_s: float | None


@dataclass(frozen=True, slots=True)
class FrontierItem:
    """A URL claimed from the frontier for fetching; ``previous`` when its page is stored
    already (a revisit)."""

    id: int
    url: str
    host: str
    depth: int
    attempts: int
    previous: PreviousVisit | None = None


@dataclass(frozen=True, slots=True)
class Capture:
    """One hop of a fetch as an archive keeps it (``--archive``): ``request`` is the request
    line and headers as sent, ``response`` the status line and raw headers as received (case,
    order, duplicates; CRLF, ending with the blank line), ``body`` the payload as received
    (content-coded, chunked framing removed), cut at ``max_body_bytes`` when ``truncated``;
    ``peer`` the IP address connected to, ``fetched_at`` when the request went out (UTC)."""

    url: str
    status: int
    fetched_at: str
    request: bytes
    response: bytes
    body: bytes
    peer: str = ""
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A response that arrived whole (any status that is not retried)."""

    url: str
    final_url: str
    status: int
    content_type: str
    charset: str | None
    body: bytes
    size_bytes: int
    elapsed_ms: int
    attempts: int
    fetched_at: str
    etag: str | None = None
    last_modified: str | None = None
    captures: tuple[Capture, ...] = ()  # each hop, redirects first (--archive)
    truncated: bool = False  # the body was cut at max_body_bytes (--archive)
    content_language: str | None = None  # the Content-Language header (page metadata's lang)
    rendered: bool = False  # the body is the DOM the headless browser built

    @property
    def is_html(self) -> bool:
        return self.content_type in HTML_TYPES


@dataclass(frozen=True, slots=True)
class ExtractRule:
    """One ``[extract.NAME]`` field: a CSS selector evaluated on every (matching) HTML page."""

    name: str
    selector: str
    attr: str | None = None  # take this attribute; None: the element's text
    all: bool = False  # every match, as a list; False: the first match, or null
    url: str | None = None  # only pages whose URL matches this regular expression


# Values of the pages.data JSON column: one string, a list of them, or null per field.
ExtractedValue = str | list[str] | None


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a page's main content for retrieval: ``markdown`` opens with its heading
    path (``heading``, e.g. ``Install > Linux``) so it stands alone; ``tokens`` is its size in
    cl100k_base tokens; ``hash`` a stable fingerprint of ``markdown`` (blake2b, 32 hex digits)."""

    seq: int  # 0, 1, ... in document order
    heading: str  # the heading path, "" before the first heading
    markdown: str
    tokens: int
    hash: str


@dataclass(frozen=True, slots=True)
class Content:
    """A page's main content: as Markdown, and cut in chunks (empty when ``[parse] chunks`` is
    off). Its plain text stays in the parse stage (the metadata's simhash and language)."""

    markdown: str
    chunks: tuple[Chunk, ...] = ()


@dataclass(frozen=True, slots=True)
class PageMetadata:
    """What a page says about itself (:mod:`scraper.parse.metadata`): ``document`` holds its
    ``json_ld``, ``opengraph``, ``twitter`` and ``microdata``; the rest is derived from it and
    from the page. ``simhash``: 64-bit, unsigned, of the main text (0 for no words)."""

    document: dict[str, object]
    canonical_url: str | None = None
    lang: str | None = None
    published_at: str | None = None
    modified_at: str | None = None
    author: str | None = None
    simhash: int = 0


@dataclass(frozen=True, slots=True)
class ParseSpec:
    """How every page of a crawl is parsed (the ``[parse]`` settings and extraction rules)."""

    max_links: int = 1000
    rules: tuple[ExtractRule, ...] = ()
    markdown: bool = True  # the main content, as Markdown (and text)
    chunks: bool = True  # ... and cut in chunks
    chunk_tokens: int = 512
    metadata: bool = True  # structured data, canonical URL, language, dates, simhash


@dataclass(frozen=True, slots=True)
class ParseJob:
    """One HTML (or PDF) body for the parse pool: from ``url`` (the base URL), in the HTTP
    ``charset``; ``keep``: also return it compressed (``--store-html``)."""

    body: bytes
    url: str
    charset: str | None
    keep: bool = False
    content_language: str | None = None  # the HTTP header: the page's lang when html has none
    content_type: str | None = None  # None: told by the body (a stored one: HTML or PDF)


@dataclass(frozen=True, slots=True)
class ParsedPage:
    """What the parser takes out of one HTML document.

    ``links`` are absolute, normalized http(s) URLs in document order, each once.
    """

    title: str | None
    description: str | None
    text: str
    links: tuple[str, ...]
    data: dict[str, ExtractedValue] | None = None
    content: Content | None = None  # None: not computed ([parse] markdown = false)
    metadata: PageMetadata | None = None


@dataclass(frozen=True, slots=True)
class Visit:
    """What a fetch of a page records about it besides its content: its validators, the
    hashes a revisit compares, when it is due again (``revisit_s`` after it was checked)."""

    checked_at: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    content_hash: str | None = None
    revisit_s: float | None = None
    next_visit_at: str | None = None


@dataclass(frozen=True, slots=True)
class PageRecord:
    """One fetched URL as the sink writes it: its ``pages`` row, its links, and new frontier URLs.

    ``new_urls`` are (url, host) pairs already filtered by scope and depth; they enter the
    frontier at ``depth + 1``. ``redirected_to`` is the (url, host) a followed redirect ended at,
    when that is not ``url``: its content is this page's, so it enters the frontier as done.
    """

    frontier_id: int
    url: str
    final_url: str
    status: int
    content_type: str
    title: str | None
    description: str | None
    text: str | None
    depth: int
    fetched_at: str
    elapsed_ms: int
    size_bytes: int
    attempts: int
    links: tuple[str, ...] = ()
    new_urls: tuple[tuple[str, str], ...] = ()
    data: str | None = None  # JSON text for pages.data
    body: bytes | None = None  # zlib-compressed raw body, with --store-html
    charset: str | None = None
    redirected_to: tuple[str, str] | None = None
    visit: Visit | None = None  # None: a page written by older code (no revisit data)
    content: Content | None = None  # the main content (parsed HTML, [parse] markdown on)
    revisit: bool = False  # its URL had a stored page already: a revisit that found a change
    metadata: PageMetadata | None = None  # structured data, canonical, lang, simhash (HTML)
    captures: tuple[Capture, ...] = ()  # the fetch's hops as received (--archive)
    rendered: bool = False  # its body is the DOM the headless browser built (pages.rendered)


@dataclass(frozen=True, slots=True)
class CheckedRecord:
    """A revisited page found unchanged (a ``304``, or the same content): its ``pages`` row
    is only marked checked (validators, schedule); no version, no index update."""

    frontier_id: int
    url: str
    status: int
    attempts: int
    visit: Visit
    captures: tuple[Capture, ...] = ()  # the fetch's hops as received (--archive)


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """A URL that ends without a page: fetch failed after retries, or it was not allowed."""

    frontier_id: int
    url: str
    attempts: int
    reason: str
    state: FrontierState = FrontierState.FAILED


SinkRecord = PageRecord | FailureRecord | CheckedRecord


@dataclass(frozen=True, slots=True)
class StoredBody:
    """A version's raw body kept with --store-html (zlib-compressed), for reparse."""

    version_id: int
    url: str
    final_url: str
    charset: str | None
    body: bytes


@dataclass(frozen=True, slots=True)
class Reparsed:
    """What parsing a stored body again changes in its version (and its page, if the latest)."""

    version_id: int
    url: str
    title: str | None
    description: str | None
    text: str
    data: str | None
    links: tuple[str, ...]
    content_hash: str | None = None
    content: Content | None = None
    metadata: PageMetadata | None = None


@dataclass(frozen=True, slots=True)
class StoredCookie:
    """One cookie of the session's jar as the crawl database keeps it (``cookies`` table).

    ``domain`` is the host it belongs to (``host_only``: sent to that host alone, else to its
    subdomains too, as ``Domain=`` set it); ``expires`` a Unix time, None for a session cookie.
    """

    domain: str
    path: str
    name: str
    value: str
    host_only: bool = True
    expires: int | None = None
    secure: bool = False
    httponly: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return self.domain, self.path, self.name
