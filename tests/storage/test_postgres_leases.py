"""What only the shared backend does: several workers on one PostgreSQL crawl, each fetching the
hosts it holds a lease on; leases renewed, released, and taken over once they run out; the page
budget exact across workers; transient failures retried, hard ones reported on one line.

Two workers are two ``PostgresStore`` of one process with different worker names, with leases
of ``LEASE_S`` seconds.
"""

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from scraper.errors import StoreError
from scraper.models import FrontierItem, FrontierState
from scraper.storage import PostgresStore
from scraper.storage.postgres.schema import SCHEMA_VERSION
from scraper.testing import PostgresServer
from scraper.testing.postgres import free_port
from tests.conftest import page_record, pg_rows

LEASE_S = 1.0


@contextlib.asynccontextmanager
async def workers(
    url: str, hosts: int = 2, per_host: int = 4, *, retry_s: float = 5.0
) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Workers ``a`` and ``b`` on the crawl at ``url``, with ``per_host`` pending URLs (depth 0
    first) on each of ``hosts`` hosts ``h0.test``..."""
    a = PostgresStore(url, lease_s=LEASE_S, worker="a", retry_s=retry_s)
    b = PostgresStore(url, lease_s=LEASE_S, worker="b", retry_s=retry_s)
    async with a, b:
        rows = [(f"http://h{h}.test/{i}", f"h{h}.test", i) for h in range(hosts)
                for i in range(per_host)]  # fmt: skip
        assert await a.add_urls(rows) == hosts * per_host
        yield a, b


def hosts_of(items: list[FrontierItem]) -> set[str]:
    return {i.host for i in items}


async def states(url: str) -> dict[str, tuple[str, str | None]]:
    """url -> (state, claimed_by) of every frontier row."""
    rows = await pg_rows(url, "SELECT url, state, claimed_by FROM frontier")
    return {u: (s, by) for u, s, by in rows}


async def test_a_host_leased_by_one_worker_is_not_claimed_by_another(pg_url: str):
    """A claim leases the host it takes URLs from; another worker's claim leaves that host."""
    async with workers(pg_url) as (a, b):
        mine = await a.claim(2, per_host=2, new_hosts=1)
        assert len(mine) == 2
        (held,) = hosts_of(mine)
        assert a.take_new_hosts() == {held: 0.0}
        assert a.take_new_hosts() == {}  # drained
        assert a.may_start(held)
        assert not a.may_start("nowhere.test")
        theirs = await b.claim(10)
        assert len(theirs) == 4
        assert held not in hosts_of(theirs)
        rest = await a.claim(10)  # the rest of the host it holds; no other host is free
        assert hosts_of(rest) == {held}
        assert len(rest) == 2


async def test_an_expired_lease_is_taken_over_with_its_claims_and_spacing(pg_url: str):
    """Once A stops renewing, B takes A's host after the lease ends: A's claimed URLs with it,
    a first wait that keeps A's spacing, and A hears it lost the host; A stops starting requests
    before the lease ends."""
    gap_s = 2.0
    async with workers(pg_url, hosts=1) as (a, b):
        mine = await a.claim(2)
        await a.renew_leases({"h0.test": (0.0, gap_s)}, keep={"h0.test"})
        renewed = time.monotonic()
        assert await b.claim(10) == []  # held by A
        assert a.may_start("h0.test")
        # requests start only while more than a third of the lease is left
        await asyncio.sleep(renewed + LEASE_S * 0.8 - time.monotonic())
        assert not a.may_start("h0.test")
        assert await b.claim(10) == []  # the lease is still A's
        await asyncio.sleep(renewed + LEASE_S + 0.1 - time.monotonic())
        taken = await b.claim(10)
        assert {i.url for i in mine} <= {i.url for i in taken}  # A's claims, abandoned
        assert len(taken) == 4
        wait_s = b.take_new_hosts()["h0.test"]
        assert gap_s - 0.5 < wait_s <= gap_s  # counted from the end of A's lease
        assert b.may_start("h0.test")
        await a.renew_leases({}, keep={"h0.test"})
        assert a.take_lost_hosts() == {"h0.test"}
        assert a.take_lost_hosts() == set()
        assert not a.may_start("h0.test")
        assert set((await states(pg_url)).values()) == {("in_progress", "b")}


async def test_renewals_keep_a_lease_beyond_its_length(pg_url: str):
    """A worker renewing its lease keeps its host for several lease lengths."""
    async with workers(pg_url, hosts=1) as (a, b):
        assert len(await a.claim(2)) == 2
        end = time.monotonic() + 2.5 * LEASE_S
        while time.monotonic() < end:
            await a.renew_leases({}, keep={"h0.test"})
            assert a.may_start("h0.test")
            assert await b.claim(10) == []
            await asyncio.sleep(LEASE_S / 4)
        assert a.take_lost_hosts() == set()
        assert len(await a.claim(10)) == 2


async def test_a_released_host_is_free_at_once_with_its_next_start(pg_url: str):
    """A host left out of ``keep`` is released: another worker leases it right away, waiting
    for the next start recorded."""
    async with workers(pg_url, hosts=1) as (a, b):
        assert len(await a.claim(4)) == 4
        await a.release_claims()
        (item,) = await a.claim(1)
        await a.write_batch([page_record(item)])
        await a.renew_leases({"h0.test": (0.5, 0.25)}, keep=())
        assert not a.may_start("h0.test")
        assert a.take_lost_hosts() == set()  # released, not lost
        taken = await b.claim(10)
        assert len(taken) == 3
        assert 0.2 < b.take_new_hosts()["h0.test"] <= 0.5


async def test_the_page_budget_is_exact_with_two_workers_claiming_at_once(pg_url: str):
    """With max_pages, many concurrent claims of two workers claim exactly the budget."""
    async with workers(pg_url, hosts=20, per_host=5) as (a, b):
        claims = [w.claim(3, max_pages=25, per_host=2) for _ in range(15) for w in (a, b)]
        got = [item for items in await asyncio.gather(*claims) for item in items]
        assert len(got) == 25
        assert len({i.id for i in got}) == 25
        await a.write_batch([page_record(i) for i in got])
        assert await b.claim(10, max_pages=25) == []
        assert await b.crawl_finished(max_pages=25)


async def test_the_crawl_is_not_finished_while_another_worker_claims(pg_url: str):
    """One worker sees the crawl unfinished while the other holds claims, finished after."""
    async with workers(pg_url, hosts=1, per_host=2) as (a, b):
        items = await b.claim(10)
        assert len(items) == 2
        assert not await a.crawl_finished()
        await b.write_batch([page_record(i) for i in items])
        assert await a.crawl_finished()


async def test_release_gives_back_only_the_workers_own_claims(pg_url: str):
    """release and release_claims leave other workers' claims in progress."""
    async with workers(pg_url, hosts=2, per_host=2) as (a, b):
        mine = await a.claim(2, new_hosts=1)
        theirs = await b.claim(10)
        assert len(mine) == len(theirs) == 2
        await b.release([i.id for i in mine])
        assert await b.release_claims() == 2
        rows = await states(pg_url)
        assert [rows[i.url] for i in mine] == [("in_progress", "a")] * 2
        assert [rows[i.url] for i in theirs] == [("pending", None)] * 2


async def test_a_page_written_after_its_host_was_taken_over_stays_one_row(pg_url: str):
    """The old owner's late write and the new owner's write of one URL store one page."""
    async with workers(pg_url, hosts=1, per_host=1) as (a, b):
        (item,) = await a.claim(1)
        await asyncio.sleep(LEASE_S + 0.1)
        (again,) = await b.claim(1)
        assert again.url == item.url
        await a.write_batch([page_record(item)])
        await b.write_batch([page_record(again, title="second")])
        assert await pg_rows(pg_url, "SELECT title FROM pages") == [("second",)]
        assert await b.crawl_finished()


async def test_workers_opening_at_once_share_one_schema(pg_url: str):
    """Two workers opening an empty database at the same moment both join one crawl."""
    a = PostgresStore(pg_url, worker="a")
    b = PostgresStore(pg_url, worker="b")
    await asyncio.gather(a.__aenter__(), b.__aenter__())
    try:
        assert await a.add_urls([("http://x.test/", "x.test", 0)]) == 1
        assert await b.is_known("http://x.test/")
    finally:
        await a.close()
        await b.close()
    names = await pg_rows(pg_url, "SELECT name FROM workers ORDER BY name")
    assert names == [("a",), ("b",)]  # registrations stay


async def test_a_write_is_retried_across_a_database_restart(pg_url: str, pg_server: PostgresServer):
    """A batch written while the server is down lands once, when it is back."""
    async with workers(pg_url, hosts=4, per_host=8, retry_s=30.0) as (a, _):
        items = await a.claim(32)

        async def start_later() -> None:
            await asyncio.sleep(1.0)
            await asyncio.to_thread(pg_server.start_again)

        await asyncio.to_thread(pg_server.shut_down)
        started = time.monotonic()
        await asyncio.gather(a.write_batch([page_record(i) for i in items]), start_later())
        assert 1.0 < time.monotonic() - started < 20.0
        assert await a.page_count() == 32
        counts, _ = await a.frontier_tally()
        assert counts[FrontierState.DONE] == 32


async def test_a_database_down_longer_than_the_retries_is_one_line_error(
    pg_url: str, pg_server: PostgresServer
):
    """Past ``retry_s`` of failures, a statement raises a one-line StoreError."""
    async with workers(pg_url, retry_s=1.0) as (a, _):
        await asyncio.to_thread(pg_server.shut_down)
        started = time.monotonic()
        try:
            with pytest.raises(StoreError, match="unavailable") as caught:
                await a.page_count()
        finally:
            await asyncio.to_thread(pg_server.start_again)
        assert time.monotonic() - started < 10.0
        assert "\n" not in str(caught.value)


async def test_an_unreachable_server_is_one_line_error_without_password():
    """Nothing listening on the port: StoreError at once, one line, no password."""
    url = f"postgresql://scraper:s3cret@127.0.0.1:{free_port()}/crawl"
    started = time.monotonic()
    with pytest.raises(StoreError, match="Connection refused") as caught:
        async with PostgresStore(url):
            pass
    assert time.monotonic() - started < 10.0
    message = str(caught.value)
    assert "s3cret" not in message
    assert "\n" not in message
    assert "postgresql://scraper@127.0.0.1" in message


async def test_a_missing_database_or_a_refused_login_is_one_line_error(
    pg_server: PostgresServer,
):
    """No such database, or a wrong password: StoreError saying so, without the password."""
    with pytest.raises(StoreError, match='database "no_such_db" does not exist'):
        async with PostgresStore(pg_server.url("no_such_db")):
            pass
    role = f"r_{uuid.uuid4().hex[:8]}"
    pg_server.psql(f"CREATE ROLE {role} LOGIN PASSWORD 'right-one'")
    hba = pg_server.data / "pg_hba.conf"
    hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    await asyncio.to_thread(pg_server.pg_ctl, "reload")
    url = f"postgresql://{role}:wrong-one@{pg_server.host}:{pg_server.port}/postgres"
    with pytest.raises(StoreError, match="password authentication failed") as caught:
        async with PostgresStore(url):
            pass
    assert "wrong-one" not in str(caught.value)


async def test_a_database_that_is_not_a_crawl_is_refused(pg_url: str, pg_server: PostgresServer):
    """Tables of something else, or a crawl of another schema version: StoreError, untouched."""
    name = pg_url.rsplit("/", 1)[1]
    pg_server.psql("CREATE TABLE invoices (id int)", database=name)
    with pytest.raises(StoreError, match="not a crawl database"):
        async with PostgresStore(pg_url):
            pass
    pg_server.psql("DROP TABLE invoices", database=name)
    async with PostgresStore(pg_url):
        pass
    pg_server.psql("UPDATE meta SET value = '99' WHERE key = 'schema_version'", database=name)
    with pytest.raises(StoreError, match=f"schema version 99; .* {SCHEMA_VERSION}"):
        async with PostgresStore(pg_url):
            pass


async def test_a_claim_keeps_only_the_hosts_it_took_urls_from(pg_url: str):
    """Hosts a claim leased but took no URL of (others had shallower ones) are given back."""
    async with workers(pg_url, hosts=0) as (a, b):
        await a.add_urls([("http://deep.test/", "deep.test", 5)])
        await a.add_urls([(f"http://top.test/{i}", "top.test", 0) for i in range(4)])
        items = await a.claim(4, per_host=4)
        assert hosts_of(items) == {"top.test"}
        assert set(a.take_new_hosts()) == {"top.test"}
        assert not a.may_start("deep.test")
        assert [i.url for i in await b.claim(4)] == ["http://deep.test/"]


async def test_recovery_takes_back_only_claims_of_hosts_without_a_live_lease(pg_url: str):
    """recover_abandoned leaves a live worker's claims alone, and frees them once its lease
    ran out (the worker stopped renewing: killed, or cut off)."""
    async with workers(pg_url, hosts=1, per_host=3) as (a, b):
        assert len(await a.claim(3)) == 3
        assert await b.recover_abandoned() == 0
        await asyncio.sleep(LEASE_S + 0.1)
        assert await b.recover_abandoned() == 3
        assert set((await states(pg_url)).values()) == {("pending", None)}
        assert await pg_rows(pg_url, "SELECT owner, lease_until FROM hosts") == [(None, None)]
        await a.renew_leases({}, keep={"h0.test"})
        assert a.take_lost_hosts() == {"h0.test"}
