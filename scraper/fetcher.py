"""HTTP fetching: one aiohttp ClientSession, retries with tenacity, aiohttp errors translated.

Every failure leaves this module as a :class:`TransientFetchError` (connection errors, timeouts,
429 and 5xx: retried with jittered exponential backoff, capped by attempts and by
``retry_backoff_max_s`` per wait, ``Retry-After`` honoured up to that cap) or a
:class:`PermanentFetchError` (not retried). After the last attempt the error carries
``attempts``. Any other status (2xx, 3xx without Location, 4xx) is a :class:`FetchResult`.
"""

import email.utils
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from scraper.config import Settings
from scraper.errors import FetchError, PermanentFetchError, TransientFetchError
from scraper.models import HTML_TYPES, FetchResult

log = logging.getLogger(__name__)

BeforeAttempt = Callable[[int], Awaitable[None]]
_CHUNK = 64 * 1024
_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _translate(exc: BaseException) -> FetchError:  # noqa: C901 - one flat mapping table
    """Map an aiohttp or asyncio error to our tree with a short, stable reason."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.TooManyRedirects):
        return PermanentFetchError("too_many_redirects", detail)
    if isinstance(exc, aiohttp.NonHttpUrlClientError | aiohttp.InvalidUrlClientError):
        return PermanentFetchError("bad_redirect", detail)
    if isinstance(exc, TimeoutError):  # aiohttp's ServerTimeoutError is one too
        return TransientFetchError("timeout", detail)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return TransientFetchError("dns_error", detail)
    if isinstance(exc, aiohttp.ClientSSLError):
        return TransientFetchError("tls_error", detail)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransientFetchError("connect_error", detail)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return TransientFetchError("server_disconnected", detail)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return TransientFetchError("payload_error", detail)
    if isinstance(exc, aiohttp.ClientResponseError):
        return TransientFetchError("bad_response", detail)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return TransientFetchError("connection_error", detail)
    return PermanentFetchError("invalid_request", detail)  # ValueError and friends from yarl


class Fetcher:
    """Fetches URLs through one shared session. Use as ``async with Fetcher(settings) as f:``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._backoff = wait_exponential_jitter(
            multiplier=settings.retry_backoff_s,
            max=settings.retry_backoff_max_s,
            jitter=settings.retry_backoff_s,
        )
        self.retried = 0

    async def __aenter__(self) -> Self:
        s = self._settings
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=s.concurrency, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(
                total=s.timeout_s, connect=s.connect_timeout_s, sock_read=s.timeout_s
            ),
            headers={"User-Agent": s.user_agent, "Accept": _ACCEPT},
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    def _wait(self, state: RetryCallState) -> float:
        """Jittered exponential backoff, or the server's Retry-After if longer (both capped)."""
        backoff: float = self._backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientFetchError) and exc.retry_after_s is not None:
            backoff = max(backoff, min(exc.retry_after_s, self._settings.retry_backoff_max_s))
        return backoff

    async def fetch(self, url: str, before_attempt: BeforeAttempt) -> FetchResult:
        """Fetch ``url``, retrying transient failures; ``before_attempt(n)`` runs before each.

        Raises FetchError (with ``attempts`` set) when the URL cannot be fetched.
        """
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._settings.retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(TransientFetchError),
            reraise=True,
        )
        attempt_no = 0
        try:
            async for attempt in retrying:
                with attempt:
                    attempt_no = attempt.retry_state.attempt_number
                    if attempt_no > 1:
                        self.retried += 1
                    await before_attempt(attempt_no)
                    return await self._fetch_once(url, attempt_no)
        except FetchError as exc:
            exc.attempts = attempt_no
            raise
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def _fetch_once(self, url: str, attempt: int) -> FetchResult:
        if self._session is None:
            raise RuntimeError("fetcher is not open")
        started = time.perf_counter()
        try:
            async with self._session.get(url, allow_redirects=True) as resp:
                status = resp.status
                if status == 429 or status >= 500:
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                    raise TransientFetchError(f"http_{status}", resp.reason or "", retry_after)
                content_type = resp.content_type
                body, size = await self._read(resp, keep=content_type in HTML_TYPES)
                final_url, charset = str(resp.url), resp.charset
        except FetchError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            raise _translate(exc) from exc
        return FetchResult(
            url=url,
            final_url=final_url,
            status=status,
            content_type=content_type,
            charset=charset,
            body=body,
            size_bytes=size,
            elapsed_ms=round((time.perf_counter() - started) * 1000),
            attempts=attempt,
            fetched_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        )

    async def _read(self, resp: aiohttp.ClientResponse, keep: bool) -> tuple[bytes, int]:
        """Stream the body, refusing it past ``max_body_bytes`` (decompressed)."""
        limit = self._settings.max_body_bytes
        if resp.content_length is not None and resp.content_length > limit:
            raise PermanentFetchError("body_too_large", f"Content-Length {resp.content_length}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise PermanentFetchError("body_too_large", f"more than {limit} bytes")
            if keep:
                chunks.append(chunk)
        return b"".join(chunks), size
