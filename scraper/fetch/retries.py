"""The fetcher's retry policy, on tenacity: what is retried, how often, and how long between.

Only :class:`TransientFetchError` is retried, up to ``settings.retries`` more attempts, after a
jittered exponential backoff capped at ``retry_backoff_max_s`` per wait; a server's
``Retry-After`` is honoured when it asks for longer, under the same cap. Each retry is logged as
a ``retry`` event. With ``retry_backoff_s = retry_backoff_max_s = 0`` (the tests) nothing waits.
"""

import functools
import logging

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from scraper.config import Settings
from scraper.errors import FetchError, TransientFetchError

events = logging.getLogger("scraper.events")  # one record per page, retry, failure


class RetryPolicy:
    """Builds the retry loop of each fetch from one ``Settings``. The fetcher makes a first
    attempt outside it (most fetches need no retry, and entering a tenacity loop costs about as
    much CPU as a 304's whole request) and enters the loop only after a transient failure,
    which the loop's attempt 1 replays."""

    def __init__(self, settings: Settings) -> None:
        self._attempts = settings.retries + 1
        self._cap_s = settings.retry_backoff_max_s
        self._backoff = wait_exponential_jitter(
            multiplier=settings.retry_backoff_s,
            max=settings.retry_backoff_max_s,
            jitter=settings.retry_backoff_s,
        )

    @property
    def retrying(self) -> bool:
        """Is a failed first attempt tried again at all?"""
        return self._attempts > 1

    def attempts(self, url: str) -> AsyncRetrying:
        """A fresh loop of attempts for one fetch of ``url``; it reraises the last error."""
        return AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            retry=retry_if_exception_type(TransientFetchError),
            before_sleep=functools.partial(_log_retry, url),
            reraise=True,
        )

    def _wait(self, state: RetryCallState) -> float:
        """Jittered exponential backoff, or the server's Retry-After if longer (both capped)."""
        backoff: float = self._backoff(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientFetchError) and exc.retry_after_s is not None:
            backoff = max(backoff, min(exc.retry_after_s, self._cap_s))
        return backoff


def _log_retry(url: str, state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    reason = exc.reason if isinstance(exc, FetchError) else type(exc).__name__
    wait_s = state.next_action.sleep if state.next_action else 0.0
    fields = {"url": url, "attempt": state.attempt_number, "reason": reason}
    events.info(
        "retry %s after attempt %d: %s",
        url,
        state.attempt_number,
        reason,
        extra={"event": "retry", "fields": {**fields, "wait_s": round(wait_s, 3)}},
    )
