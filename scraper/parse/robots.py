"""robots.txt (RFC 9309) as the crawl policy for one host.

The only module that imports protego. Pure: the caller fetches ``/robots.txt`` and hands over the
status and body; nothing here raises on any body. RFC 9309 section 2.3.1: 2xx is parsed; 3xx the
fetcher did not follow and 4xx mean "unavailable": "the crawler MAY access any resources on the
server"; 5xx and network errors mean "unreachable": "the crawler MUST assume complete disallow".
429 is read as unreachable too, as Google does: a server asking us to slow down is not one saying
that nothing is off limits.
"""

import logging
import re

from protego import Protego

from scraper.urls import try_normalize

log = logging.getLogger(__name__)

# RFC 9309 section 2.5: "crawlers MUST, at least, parse the first 500 kibibytes".
MAX_ROBOTS_BYTES = 500 * 1024
_ROBOTS_PATH = "/robots.txt"
_PRODUCT_TOKEN = re.compile(r"[^/\s]*")


def product_token(user_agent: str) -> str:
    """The lower-cased product token of a User-Agent header: "scraper" for "scraper/0.1.0 (...)"."""
    match = _PRODUCT_TOKEN.match(user_agent.strip())
    return match.group().lower() if match else ""


def _is_robots_txt(url: str) -> bool:
    """RFC 9309 section 2.2.2: "The /robots.txt URI is implicitly allowed"."""
    slash = url.find("/", url.find("//") + 2)
    return slash >= 0 and url[slash:].partition("?")[0] == _ROBOTS_PATH


def _sitemaps(parser: Protego) -> tuple[str, ...]:
    """Sitemap URLs, normalized, each once; relative or invalid ones skipped (section 2.4 of the
    RFC leaves Sitemap to sitemaps.org, which requires a fully qualified URL)."""
    found: dict[str, None] = {}
    for value in parser.sitemaps:
        if (url := try_normalize(value)) is not None:
            found[url] = None
    return tuple(found)


def _delay_s(parser: Protego, token: str) -> float | None:
    """The larger of Crawl-delay and Request-rate's seconds per request, for the matched group."""
    delays = []
    crawl_delay = parser.crawl_delay(token)
    if crawl_delay is not None:
        delays.append(crawl_delay)
    rate = parser.request_rate(token)
    if rate is not None:
        delays.append(rate.seconds / rate.requests)
    return max(delays, default=None)


def _text(body: bytes) -> str:
    """The first 500 KiB as text: a cut last line is dropped, a UTF-8 BOM removed, bad bytes
    replaced (RFC 9309 section 2.3: "The file MUST be UTF-8 encoded")."""
    if len(body) > MAX_ROBOTS_BYTES:
        body = body[:MAX_ROBOTS_BYTES]
        body = body[: body.rfind(b"\n") + 1] or body
    return body.decode("utf-8-sig", errors="replace")


class RobotsPolicy:
    """What one host's robots.txt lets the product token of our User-Agent do.

    Groups are matched by protego on the product token only (case-insensitive); the longest
    matching ``User-agent`` value wins, else ``*``, else everything is allowed. Within a group the
    longest matching rule wins, Allow on a tie, with ``*`` and ``$`` wildcards (RFC 9309 2.2.2).
    """

    __slots__ = ("_allow_default", "_parser", "_token", "crawl_delay_s", "sitemaps", "unreachable")

    def __init__(self, parser: Protego | None, token: str, *, unreachable: bool = False) -> None:
        self._parser = parser
        self._token = token
        self._allow_default = not unreachable
        self.unreachable = unreachable
        self.crawl_delay_s = None if parser is None else _delay_s(parser, token)
        self.sitemaps = () if parser is None else _sitemaps(parser)

    @classmethod
    def from_response(cls, status: int | None, body: bytes, user_agent: str) -> "RobotsPolicy":
        """The policy for a ``/robots.txt`` response; ``status`` None means no response at all.

        2xx: the body's rules. 3xx, 4xx but 429: allow all. 5xx, 429, None or any other status:
        disallow all but /robots.txt, with ``unreachable`` set so the caller can retry later.
        """
        token = product_token(user_agent)
        if status is not None and 200 <= status < 300:
            try:
                return cls(Protego.parse(_text(body)), token)
            except Exception:  # protego is third-party: a file it cannot read has no rules
                log.warning("unreadable robots.txt ignored", exc_info=True)
                return cls(None, token)
        if status is not None and 300 <= status < 500 and status != 429:
            return cls(None, token)
        return cls(None, token, unreachable=True)

    @classmethod
    def allow_all(cls) -> "RobotsPolicy":
        """The policy of a host without robots.txt rules (or where robots.txt is ignored)."""
        return cls(None, "")

    def allows(self, url: str) -> bool:
        """Whether a normalized absolute URL (path and query) may be fetched."""
        if self._parser is None:
            return self._allow_default or _is_robots_txt(url)
        return self._parser.can_fetch(url, self._token)

    def __repr__(self) -> str:
        state = "unreachable" if self.unreachable else "parsed" if self._parser else "allow_all"
        return f"<RobotsPolicy {state} token={self._token!r} delay={self.crawl_delay_s}>"
