"""``scraper resume --retry-failed``: failed URLs back to pending before the crawl goes on."""

from collections.abc import Collection

from scraper.config import Settings
from scraper.storage import open_crawl_store

# Failure reasons that say the network, not the site, failed: no answer at all. When every
# failed URL of a run has one, the machine may be offline or its DNS broken.
NETWORK_REASONS = frozenset(
    {"dns_error", "connect_error", "timeout", "tls_error", "connection_reset",
     "server_disconnected", "connection_error"}
)  # fmt: skip


async def retry_failed(settings: Settings, reasons: Collection[str] = ()) -> int:
    """Put the crawl's failed URLs (those failed with one of ``reasons``, or all) back to
    pending, with no attempt counted; how many. Takes the crawl lock on SQLite, so it is refused
    while a crawl runs there."""
    async with open_crawl_store(settings.db, lease_s=settings.lease_s) as store:
        return await store.retry_failed(reasons)
