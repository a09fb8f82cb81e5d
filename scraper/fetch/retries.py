"""The fetcher's retry policy, on tenacity: what is retried, how often, and how long between.

Only :class:`TransientFetchError` is retried, up to ``settings.retries`` more attempts, after a
jittered exponential backoff capped at ``retry_backoff_max_s`` per wait; a server's
``Retry-After`` is honoured when it asks for longer, under the same cap. Each retry is logged as
a ``retry`` event. With ``retry_backoff_s = retry_backoff_max_s = 0`` (the tests) nothing waits.
"""

import functools
import logging
import random

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
)

from scraper.config import Settings
from scraper.errors import FetchError, TransientFetchError

events = logging.getLogger("scraper.events")  # one record per page, retry, failure


class RetryPolicy:
    """Builds the retries of each fetch from one ``Settings``. The first attempt runs outside
    tenacity (most fetches need no retry, and a retry loop costs as much CPU as a 304's whole
    request); after a transient failure, :meth:`first_wait_s` is slept and :meth:`retries`
    runs the remaining attempts, numbered from 2."""

    def __init__(self, settings: Settings) -> None:
        self._attempts = settings.retries + 1
        self._cap_s = settings.retry_backoff_max_s
        self._initial_s = settings.retry_backoff_s

    @property
    def retrying(self) -> bool:
        """Is a failed first attempt tried again at all?"""
        return self._attempts > 1

    def retries(self, url: str) -> AsyncRetrying:
        """A fresh loop of the attempts after the first (its attempt k is the fetch's k + 1);
        it reraises the last error."""
        return AsyncRetrying(
            stop=stop_after_attempt(self._attempts - 1),
            wait=self._wait,
            retry=retry_if_exception_type(TransientFetchError),
            before_sleep=functools.partial(_log_tenacity_retry, url),
            reraise=True,
        )

    def first_wait_s(self, url: str, exc: TransientFetchError) -> float:
        """The wait after a failed first attempt (logged as a retry event)."""
        wait_s = self.wait_s(1, exc)
        log_retry(url, 1, exc, wait_s)
        return wait_s

    def wait_s(self, attempt: int, exc: BaseException | None) -> float:
        """After failed attempt ``attempt``: jittered exponential backoff (tenacity's
        ``wait_exponential_jitter``: initial x 2^(attempt-1) + up to initial of jitter), or the
        server's Retry-After if longer, both capped."""
        backoff = self._initial_s * 2.0 ** (attempt - 1) + random.uniform(0, self._initial_s)
        if isinstance(exc, TransientFetchError) and exc.retry_after_s is not None:
            backoff = max(backoff, float(exc.retry_after_s))
        return max(0.0, min(backoff, self._cap_s))

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return self.wait_s(state.attempt_number + 1, exc)


def _log_tenacity_retry(url: str, state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait_s = state.next_action.sleep if state.next_action else 0.0
    log_retry(url, state.attempt_number + 1, exc, wait_s)


def log_retry(url: str, attempt: int, exc: BaseException | None, wait_s: float) -> None:
    reason = exc.reason if isinstance(exc, FetchError) else type(exc).__name__
    fields = {"url": url, "attempt": attempt, "reason": reason}
    events.info(
        "retry %s after attempt %d: %s",
        url,
        attempt,
        reason,
        extra={"event": "retry", "fields": {**fields, "wait_s": round(wait_s, 3)}},
    )
