"""A hop as an archive keeps it (:class:`scraper.models.Capture`, ``--archive``): the request
head rebuilt from the request line and the headers aiohttp wrote, the response head from the
version, status, reason and raw headers as received, and the body as received."""

from datetime import UTC, datetime
from urllib.parse import urlsplit

from scraper.fetch.transport import HopResponse
from scraper.models import Capture

_CRLF = b"\r\n"


def now() -> str:
    """The current UTC time as captures store it (ISO 8601, milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def capture_of(hop: HopResponse, url: str, fetched_at: str) -> Capture:
    """The capture of ``hop``, the response to the request for ``url`` sent at ``fetched_at``."""
    line = hop.request_line or _request_line(url)
    sent = "".join(f"{name}: {value}\r\n" for name, value in hop.sent_headers)
    request = (line + "\r\n" + sent).encode("latin-1", "replace") + _CRLF
    status = f"{hop.version or 'HTTP/1.1'} {hop.status} {hop.reason}".encode("latin-1", "replace")
    head = b"".join(name + b": " + value + _CRLF for name, value in hop.raw_headers)
    return Capture(
        url=url,
        status=hop.status,
        fetched_at=fetched_at,
        request=request,
        response=status + _CRLF + head + _CRLF,
        body=hop.raw_body or b"",
        peer=hop.peer,
        truncated=hop.truncated,
    )


def _request_line(url: str) -> str:
    """A GET's request line for ``url`` when the transport did not say what it wrote."""
    parts = urlsplit(url)
    return f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1"
