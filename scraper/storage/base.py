"""The storage boundary: what the engine asks of a crawl's database, whatever the backend.

The crawl's shared state is decided here, by the store, never by one process's counters: which
URLs a worker may fetch (claims), what goes back to the pool when a worker died (recovery),
whether the crawl is over for everyone (nothing pending, nothing claimed by anyone), how many
pages may still be stored under ``--max-pages`` (the budget, reserved by claims), and each
worker's published status. The SQLite backend (``storage/sqlite``) implements it for one worker
at a time, proven by the crawl lock; a shared backend implements the same methods for several,
and the storage contract tests (``tests/storage/test_contract.py``) hold both to them.
"""

from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from typing import Protocol

from scraper.models import (
    FrontierItem,
    FrontierState,
    Reparsed,
    SinkRecord,
    StoredBody,
    StoredCookie,
)
from scraper.storage.proxyhealth import ProxyRow

# (url, host, depth) rows for the frontier
NewUrl = tuple[str, str, int]
# (state counts, failures as (reason, count), most frequent first)
Tally = tuple[dict[FrontierState, int], list[tuple[str, int]]]
# A host's timing as its worker applies it now: (seconds until its next request may start,
# its spacing between request starts)
HostTiming = tuple[float, float]


def tally(rows: Iterable[Sequence[object]]) -> Tally:
    """A :data:`Tally` from (state, failure reason or None, count) rows, as both backends'
    ``TALLY`` statements return them."""
    counts = dict.fromkeys(FrontierState, 0)
    failures: dict[str, int] = {}
    for state, reason, n in rows:
        assert isinstance(n, int)
        counts[FrontierState(str(state))] += n
        if reason is not None:
            failures[str(reason)] = n
    return counts, sorted(failures.items(), key=lambda item: (-item[1], item[0]))


class CrawlStore(Protocol):
    """A crawl's database, opened by one worker of the crawl (``async with`` opens and closes).

    Opening takes the worker's place in the crawl: SQLite's store takes an exclusive lock on the
    file (a second crawl is refused); a shared backend registers the worker. Every write is one
    transaction and idempotent: a page written twice (a re-fetch after a crash) stays one row.
    """

    @property
    def worker(self) -> str:
        """This worker's name in the crawl (status snapshots and claims are keyed by it)."""
        ...

    # -- the crawl's settings and status --------------------------------------------------------

    async def load_settings(self) -> str | None:
        """The crawl's stored settings (JSON), None for a new crawl."""
        ...

    async def save_settings(self, settings_json: str) -> None:
        """Store the crawl's settings, for ``resume`` and for workers that join."""
        ...

    async def publish_status(self, snapshot_json: str) -> None:
        """Publish this worker's status snapshot for ``scraper status``."""
        ...

    async def record_proxies(self, rows: Sequence[ProxyRow]) -> None:
        """Add one run's figures of each proxy to ``proxy_health`` (storage.proxyhealth)."""
        ...

    # -- the frontier ---------------------------------------------------------------------------

    async def add_urls(self, urls: Iterable[NewUrl]) -> int:
        """Insert URLs as pending; known ones (any state) are left alone. Returns how many were
        new."""
        ...

    async def is_known(self, url: str) -> bool:
        """Is ``url`` in the frontier already (in any state)?"""
        ...

    async def adopt(self, urls: Sequence[tuple[str, str]]) -> dict[str, int]:
        """Frontier ids for (url, host) pairs whose pages arrive without a claim (an import):
        new URLs are added in_progress at depth 0, pending ones taken over
        (:mod:`scraper.storage.adopt`); the batch that writes their pages marks them done."""
        ...

    async def claim(
        self,
        limit: int,
        exclude_hosts: Iterable[str] = (),
        *,
        max_pages: int = 0,
        per_host: int = 0,
        new_hosts: int | None = None,
    ) -> list[FrontierItem]:
        """Claim up to ``limit`` pending URLs for this worker, shallowest first, none of the
        hosts in ``exclude_hosts``. On a shared backend a worker fetches only hosts it holds a
        lease on: the claim takes URLs of the hosts it holds and of at most ``new_hosts`` hosts
        it leases now (None: as many as the claim needs); see :meth:`take_new_hosts`. SQLite's
        one worker holds every host. With ``max_pages``, the claim is cut so that pages stored
        plus URLs claimed by anyone never exceed it: the budget is reserved by claims, so it
        stays exact with several writers. With ``per_host``, at most that many URLs of one host
        (shallowest first within a host), so a claim spreads over the hosts that can be asked
        now instead of filling up with one host's URLs. Fewer than ``limit`` (without a new URL
        added since) means nothing more is pending for this worker now."""
        ...

    async def schedule_revisits(self, *, due_at: str | None, checked_before: str | None) -> int:
        """A recrawl: stored pages back to pending (in one transaction), each claimed later
        with its previous visit (``FrontierItem.previous``) for a conditional request. All
        pages; or those due by ``due_at`` (``next_visit_at``; never scheduled: due); or those
        last checked before ``checked_before``; both: pages that are both. Returns how many."""
        ...

    async def retry_failed(self, reasons: Collection[str] = ()) -> int:
        """Failed URLs back to pending with no attempt counted: those whose ``last_error`` is
        one of ``reasons``, or every failed URL (``reasons`` empty). Blocked URLs stay blocked.
        One statement; returns how many."""
        ...

    # -- host leases (a shared backend; SQLite's one worker holds every host) ------------------

    @property
    def leases(self) -> bool:
        """Does this worker fetch only the hosts it leases (a shared backend)? False: it holds
        every host (SQLite), and the lease methods below have nothing to do."""
        ...

    def take_new_hosts(self) -> dict[str, float]:
        """The hosts leased by claims since the last call, each with the seconds to wait before
        its first request: the spacing its previous owner applied (a dead worker's included)
        goes on across workers. SQLite: always empty."""
        ...

    def take_lost_hosts(self) -> set[str]:
        """The hosts whose lease this worker lost since the last call (not renewed in time and
        taken over): their claimed URLs are not this worker's any more; drop them, do not
        release them. SQLite: always empty."""
        ...

    def may_start(self, host: str) -> bool:
        """May a request to ``host`` start now? Only while this worker's lease on it has more
        than its safety margin left (on this worker's clock, counted from when the renewal was
        sent), so a new owner, or this worker cut off from the database, never breaks the
        spacing. SQLite: always True."""
        ...

    async def renew_leases(self, timings: Mapping[str, HostTiming], keep: Collection[str]) -> None:
        """The heartbeat (about once a second): extend the leases of the hosts in ``keep``
        (those with URLs buffered or in flight) and release every other host this worker holds,
        recording each one's next start and spacing from ``timings`` (hosts missing there: no
        wait), so whoever fetches it next keeps its spacing. Transient database errors are
        retried. SQLite: nothing to do."""
        ...

    async def release(self, ids: Sequence[int]) -> None:
        """Give back claimed URLs that were not fetched (they become pending again)."""
        ...

    async def release_claims(self) -> int:
        """Give back every URL this worker still holds (the end of its run). Returns how many."""
        ...

    async def recover_abandoned(self) -> int:
        """Return to pending the URLs claimed by workers that are gone (killed, crashed, cut
        off). Returns how many. SQLite: the crawl lock proves no other worker is alive, so every
        claim found when it opens is abandoned."""
        ...

    async def crawl_finished(self, max_pages: int = 0) -> bool:
        """Is the crawl over for every worker: nothing pending and nothing claimed by anyone,
        or ``max_pages`` pages stored?"""
        ...

    async def page_count(self) -> int: ...

    async def frontier_tally(self) -> Tally:
        """URLs by state, and the failures by reason, over the whole crawl."""
        ...

    # -- the session's cookies (storage.cookies) -----------------------------------------------

    async def load_cookies(self) -> list[StoredCookie]:
        """The cookies the crawl kept, expired ones left out."""
        ...

    async def save_cookies(
        self, jar: Sequence[StoredCookie], gone: Collection[tuple[str, str, str]]
    ) -> None:
        """Keep this worker's cookies ``jar`` (each replacing the row of its domain, path and
        name) and forget the keys ``gone`` from its jar, in one transaction; expired rows are
        deleted. Other workers' cookies stay."""
        ...

    # -- the sink -------------------------------------------------------------------------------

    async def write_batch(self, records: Sequence[SinkRecord]) -> None:
        """Write pages, links, new URLs and frontier states of a batch in one transaction: a URL
        is done exactly when its page row exists."""
        ...

    # -- reparse --------------------------------------------------------------------------------

    def stored_bodies(self, batch_size: int) -> AsyncIterator[list[StoredBody]]:
        """HTML pages with a stored raw body, in batches (flat memory)."""
        ...

    async def html_pages_without_body(self) -> int: ...

    async def update_parsed(self, pages: Sequence[Reparsed]) -> None:
        """New title, description, text, data and links for pages parsed again."""
        ...
