"""aiohttp, OS and timeout errors translated into :class:`TransientFetchError` (worth a retry)
or :class:`PermanentFetchError`, each with a short, stable ``reason`` (listed in
:mod:`scraper.fetch.client`). No aiohttp error leaves the fetch package.
"""

import errno

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError

from scraper.errors import FetchError, PermanentFetchError, TransientFetchError
from scraper.fetch.guard import PrivateAddressError

_BAD_BODY = (aiohttp.ClientPayloadError, aiohttp.ClientResponseError, HttpProcessingError)
_NETWORK = (OSError, aiohttp.ClientError, HttpProcessingError)  # TimeoutError is an OSError
EXPECTED = (*_NETWORK, ValueError)  # what a request may raise: :func:`translate` takes these
_REASONS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (TimeoutError, "timeout"),  # aiohttp's ServerTimeoutError is one too
    (aiohttp.ClientConnectorDNSError, "dns_error"),
    ((aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch), "tls_error"),
    (aiohttp.ClientConnectorError, "connect_error"),
    (aiohttp.ServerDisconnectedError, "server_disconnected"),
    (ConnectionResetError, "connection_reset"),
    (_BAD_BODY, "payload_error"),
    ((aiohttp.ClientError, OSError), "connection_error"),
)


def _parse_reason(exc: BaseException, default: str) -> str:
    """What went wrong in a response aiohttp could not parse; it says so only in words."""
    text = f"{type(exc).__name__} {exc} {exc.__cause__!r}".lower()
    if "connectionreseterror" in text:  # a reset mid-body, wrapped in a ClientPayloadError
        return "connection_reset"
    if "content-encoding" in text:
        return "bad_encoding"
    if ("chunk" in text or "transferencodingerror" in text) and "not enough data" not in text:
        return "bad_chunked"
    if isinstance(exc, aiohttp.ClientResponseError):
        return "bad_response"  # status line, headers, data after the body...
    return default


def translate(exc: BaseException) -> FetchError:
    """Map an aiohttp or asyncio error to our tree with a short, stable reason."""
    detail = str(exc) or ("timeout_s reached" if isinstance(exc, TimeoutError) else repr(exc))
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, PrivateAddressError):
            return PermanentFetchError("private_address", str(exc.os_error))
    elif isinstance(exc, aiohttp.InvalidUrlClientError) or not isinstance(exc, _NETWORK):
        return PermanentFetchError("invalid_request", detail)  # ValueError and friends from yarl
    if isinstance(exc, OSError) and exc.errno == errno.ECONNRESET:
        return TransientFetchError("connection_reset", detail)
    reason = next(reason for kind, reason in _REASONS if isinstance(exc, kind))
    if reason == "payload_error":
        reason = _parse_reason(exc, reason)
    return TransientFetchError(reason, detail)
