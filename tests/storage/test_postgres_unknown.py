"""Writes of a shared crawl whose outcome is unknown: the COMMIT reached the server and
committed, and the connection died before its answer (a proxy, :class:`CommitCutter`, loses
that answer). The retried write must leave the crawl as one clean attempt would."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from scraper.storage import PostgresStore
from scraper.testing.cutproxy import CommitCutter
from tests.conftest import page_record, pg_rows

PAGES = 12


@contextlib.asynccontextmanager
async def cut_store(
    pg_url: str, *, max_pages: int = 0, reconcile_s: float = 10.0
) -> AsyncIterator[tuple[PostgresStore, CommitCutter]]:
    """Worker ``a`` on the crawl at ``pg_url`` through a CommitCutter, ``PAGES`` pending URLs
    on two hosts."""
    port = int(pg_url.rsplit(":", 1)[1].split("/", 1)[0])
    async with CommitCutter(port) as cut:
        url = pg_url.replace(f":{port}/", f":{cut.port}/") + "?sslmode=disable"
        async with PostgresStore(url, worker="a", retry_s=10.0, reconcile_s=reconcile_s) as a:
            rows = [(f"http://h{i % 2}.test/{i}", f"h{i % 2}.test", 0) for i in range(PAGES)]
            await a.add_urls(rows)
            yield a, cut


async def claimed_by(pg_url: str, worker: str) -> set[int]:
    rows = await pg_rows(
        pg_url, "SELECT id FROM frontier WHERE claimed_by = %s AND state = 'in_progress'", worker
    )
    return {row[0] for row in rows}


async def test_a_claim_whose_commit_answer_is_lost_returns_the_urls_it_claimed(pg_url: str):
    """The retry of a claim that committed unseen returns the URLs that attempt claimed: the
    worker claims exactly what it knows, no more."""
    async with cut_store(pg_url) as (a, cut):
        cut.arm()
        items = await a.claim(4)
        assert cut.cuts == 1
        assert len(items) == 4
        assert {i.id for i in items} == await claimed_by(pg_url, "a")
        more = await a.claim(4)  # a normal claim after it: fresh URLs
        assert len({i.id for i in items + more}) == 8 == len(await claimed_by(pg_url, "a"))


async def test_the_page_budget_counts_a_lost_claims_urls_once(pg_url: str):
    """With max_pages, a claim retried after an unknown outcome stays within the budget."""
    async with cut_store(pg_url) as (a, cut):
        cut.arm()
        items = await a.claim(5, max_pages=6)
        assert cut.cuts == 1
        assert len(items) == 5
        assert len(await a.claim(5, max_pages=6)) == 1
        assert len(await claimed_by(pg_url, "a")) == 6


async def test_a_batch_whose_commit_answer_is_lost_is_stored_once(pg_url: str):
    """A batch retried after its commit went unanswered stores each page once, one version."""
    async with cut_store(pg_url) as (a, cut):
        items = await a.claim(4)
        cut.arm()
        await a.write_batch([page_record(i) for i in items])
        assert cut.cuts == 1
        pages = await pg_rows(pg_url, "SELECT count(*), count(DISTINCT url) FROM pages")
        versions = await pg_rows(pg_url, "SELECT count(*) FROM versions")
        assert pages == [(4, 4)]
        assert versions == [(4,)]
        assert await claimed_by(pg_url, "a") == set()


async def test_a_renewal_whose_commit_answer_is_lost_keeps_the_leases(pg_url: str):
    """A lease renewal retried after an unknown outcome keeps the hosts and the claims."""
    async with cut_store(pg_url) as (a, cut):
        items = await a.claim(4)
        hosts = {i.host for i in items}
        cut.arm()
        await a.renew_leases({}, keep=hosts)
        assert cut.cuts == 1
        assert a.take_lost_hosts() == set()
        owners = await pg_rows(pg_url, "SELECT host FROM hosts WHERE owner = 'a'")
        assert {row[0] for row in owners} == hosts
        assert await claimed_by(pg_url, "a") == {i.id for i in items}


async def test_urls_claimed_for_a_worker_it_does_not_know_are_given_back(pg_url: str):
    """The periodic reconciliation gives back URLs claimed under the worker's name that it
    never heard of (a lost claim's), and keeps those it works on."""
    async with cut_store(pg_url, reconcile_s=0.2) as (a, _cut):
        items = await a.claim(2)
        ids = ", ".join(str(n) for n in range(1, PAGES + 1))
        await pg_rows(  # what a lost claim leaves: rows claimed for "a" that it does not know
            pg_url,
            "UPDATE frontier SET state = 'in_progress', claimed_by = 'a' "
            f"WHERE id IN ({ids}) AND state = 'pending' AND host = %s",
            items[0].host,
        )
        assert len(await claimed_by(pg_url, "a")) > 2
        await asyncio.sleep(0.3)
        await a.renew_leases({}, keep={i.host for i in items})
        assert await claimed_by(pg_url, "a") == {i.id for i in items}
        assert not await a.crawl_finished()
        await a.write_batch([page_record(i) for i in items])
        assert await claimed_by(pg_url, "a") == set()
