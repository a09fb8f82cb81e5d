"""What both backends store the same way of the crawl's proxies (schema 8): ``proxy_health``,
one row per proxy by its masked URL (a password is never stored), its requests and failures
summed over every run and worker, its last error and when it was written. ``stats`` reads it."""

from collections.abc import Sequence
from datetime import UTC, datetime

PROXY_HEALTH_SCHEMA = 11  # the version of both backends' schemas that adds the table

# (proxy, requests, failures, last error): what a fetcher reports of each proxy at its end.
ProxyRow = tuple[str, int, int, str]


def proxy_health_ddl(types: dict[str, str]) -> str:
    """The table, in a backend's ``types`` (``bigint``, ``text``)."""
    text, bigint = types["text"], types["bigint"]
    return f"""
CREATE TABLE proxy_health (  -- each proxy's record over the crawl's runs (--proxy, proxies)
    proxy      {text} PRIMARY KEY,  -- its URL, the password masked (user:***@)
    requests   {bigint} NOT NULL,  -- requests sent through it
    failures   {bigint} NOT NULL,  -- of them, failed by the proxy (proxy_error, proxy_auth)
    last_error {text} NOT NULL,  -- its last failure ('' if none)
    updated_at {text} NOT NULL  -- when a worker last wrote the row (ISO 8601, UTC)
);
"""


def upsert_proxy_health(mark: str) -> str:
    """The statement adding one run's figures to a proxy's row ({mark}: the placeholder)."""
    values = ", ".join([mark] * 5)
    return f"""
INSERT INTO proxy_health (proxy, requests, failures, last_error, updated_at) VALUES ({values})
ON CONFLICT (proxy) DO UPDATE SET
    requests = proxy_health.requests + excluded.requests,
    failures = proxy_health.failures + excluded.failures,
    last_error = CASE WHEN excluded.last_error = '' THEN proxy_health.last_error
                      ELSE excluded.last_error END,
    updated_at = excluded.updated_at
"""


def proxy_health_rows(rows: Sequence[ProxyRow]) -> list[tuple[str, int, int, str, str]]:
    """The statement's parameters for ``rows``, stamped now."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    return [(proxy, requests, failures, error, now) for proxy, requests, failures, error in rows]


PROXY_HEALTH = (
    "SELECT proxy, requests, failures, last_error FROM proxy_health ORDER BY failures DESC, proxy"
)
