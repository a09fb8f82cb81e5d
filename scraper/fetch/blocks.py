"""Block detection: a response that is a challenge, a captcha or an access-denied page instead
of the site's content.

Looked at: HTML answers with status 200, 403, 429 or 503 (bodies of the last three read up to
``BLOCK_BODY_BYTES``), their first :data:`_SCAN_BYTES` lowercased (of a 200 page of
:data:`_SMALL_PAGE` or more, the first :data:`_SCAN_LARGE_BYTES`: an interstitial names itself
in its head, and a large page is scanned for the challenge markers only). Recognised:

- ``challenge``: an interstitial such as Cloudflare's ("Just a moment...", ``cf-chl``,
  ``challenges.cloudflare.com``, "Checking your browser", DDoS-Guard, "Attention Required").
- ``captcha``: a reCAPTCHA, hCaptcha or Turnstile widget on a 403/429/503, or on a small 200
  page (under :data:`_SMALL_PAGE` bytes: a contact form deep in a large page is not a block).
- ``denied``: an "Access Denied" / "Request blocked" / "You have been blocked" page on a
  403/429/503 or a small 200; or a 200 HTML page under a tenth (and 2 KB) of the host's usual
  size once :data:`_SAMPLES` of its pages have a median of at least 10 KB.

A blocked response raises :class:`BlockedError` (permanent: never stored as content); the
crawl slows the host down as for a 429 and records the URL ``blocked`` with the reason.
"""

from collections import deque
from enum import StrEnum

from scraper.errors import PermanentFetchError
from scraper.fetch.transport import HopResponse
from scraper.models import HTML_TYPES

_SCAN_BYTES = 32 * 1024
_SCAN_LARGE_BYTES = 8 * 1024
_SMALL_PAGE = 16 * 1024
_SAMPLES = 8  # pages of a host seen before its usual size counts
_WINDOW = 64  # the latest sizes kept per host
_LARGE = 10 * 1024
_TINY = 2 * 1024
_HOSTS = 4096
_LOOKED_AT = frozenset({200, 403, 429, 503})
_ERRORS = frozenset({403, 429, 503})

# Markers in the lowercased head of the body. Those of a title are matched against the
# document's first <title> only (one search for it instead of one per marker); a marker that
# holds another's text is looked for only where that one was found.
_CHALLENGE_TITLES = (b"just a moment", b"attention required! | cloudflare")
_DENIED_TITLES = (b"access denied", b"request blocked")
_CHALLENGE = (b"cf-chl", b"cf_chl_opt", b"checking your browser before accessing", b"ddos-guard")
_CF_CHALLENGE = b"/cdn-cgi/challenge"  # in both below
_CF_CHALLENGE_URLS = (
    b"challenges.cloudflare.com/cdn-cgi/challenge",
    b"/cdn-cgi/challenge-platform",
)
_CAPTCHA = (
    *(b"g-recaptcha", b"recaptcha/api.js", b"h-captcha", b"hcaptcha.com/1/api.js"),
    *(b"cf-turnstile", b"challenges.cloudflare.com/turnstile"),
)
_DENIED = (
    b"<h1>access denied",
    b"you have been blocked",
    b"your access to this site has been limited",
)
_TITLE_BYTES = 64  # of the title: what its markers are compared with


class BlockReason(StrEnum):
    """Why a response was taken for a block (stored as the URL's failure reason)."""

    CHALLENGE = "challenge"
    CAPTCHA = "captcha"
    DENIED = "denied"


BLOCK_REASONS = frozenset(BlockReason)


class BlockedError(PermanentFetchError):
    """The site answered with a challenge or a block page (``reason``: a BlockReason)."""

    def __init__(self, reason: BlockReason, status: int, detail: str) -> None:
        super().__init__(str(reason), f"HTTP {status}: {detail}")
        self.status = status


def block_reason(status: int, body: bytes, usual_size: int | None = None) -> BlockReason | None:
    """The reason an HTML response of ``status`` with ``body`` is a block, None if it is not.
    ``usual_size`` is the host's median page size when known."""
    if status not in _LOOKED_AT:
        return None
    suspicious = status in _ERRORS or len(body) < _SMALL_PAGE
    head = body[: _SCAN_BYTES if suspicious else _SCAN_LARGE_BYTES].lower()
    title = _title(head)
    if title.startswith(_CHALLENGE_TITLES) or _challenge_marked(head):
        return BlockReason.CHALLENGE
    if suspicious and any(marker in head for marker in _CAPTCHA):
        return BlockReason.CAPTCHA
    if suspicious and (title.startswith(_DENIED_TITLES) or any(m in head for m in _DENIED)):
        return BlockReason.DENIED
    tiny = usual_size is not None and len(body) < min(_TINY, usual_size // 10)
    if status == 200 and tiny:
        return BlockReason.DENIED
    return None


def _title(head: bytes) -> bytes:
    """The start of the first ``<title>``'s text, as written (empty if there is none)."""
    start = head.find(b"<title>")
    if start < 0:
        return b""
    start += len(b"<title>")
    return head[start : start + _TITLE_BYTES]


def _challenge_marked(head: bytes) -> bool:
    if any(marker in head for marker in _CHALLENGE):
        return True
    return _CF_CHALLENGE in head and any(marker in head for marker in _CF_CHALLENGE_URLS)


class BlockDetector:
    """Checks every response, knowing each host's usual HTML page size."""

    def __init__(self) -> None:
        self._sizes: dict[str, deque[int]] = {}

    def usual_size(self, host: str) -> int | None:
        """The median of the host's latest page sizes, once it is large enough to judge by."""
        sizes = self._sizes.get(host)
        if sizes is None or len(sizes) < _SAMPLES:
            return None
        median = sorted(sizes)[len(sizes) // 2]
        return median if median >= _LARGE else None

    def check(self, host: str, resp: HopResponse) -> None:
        """Raise BlockedError if ``resp`` (from ``host``) is a block; learn its size if not."""
        if resp.status not in _LOOKED_AT or resp.content_type not in HTML_TYPES:
            return
        small = len(resp.body) < _TINY  # the host's usual size matters only then
        reason = block_reason(resp.status, resp.body, self.usual_size(host) if small else None)
        if reason is not None:
            raise BlockedError(reason, resp.status, f"{len(resp.body)} bytes ({resp.reason})")
        if resp.status == 200 and resp.body:
            self._learn(host, len(resp.body))

    def _learn(self, host: str, size: int) -> None:
        sizes = self._sizes.get(host)
        if sizes is None:
            if len(self._sizes) >= _HOSTS:
                del self._sizes[next(iter(self._sizes))]
            sizes = self._sizes[host] = deque(maxlen=_WINDOW)
        sizes.append(size)


__all__ = ["BLOCK_REASONS", "BlockDetector", "BlockReason", "BlockedError", "block_reason"]
