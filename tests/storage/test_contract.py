"""The storage contract: what the engine may rely on from any backend behind ``CrawlStore``.

Every test runs once per backend (the ``backend`` fixture): SQLite (a file in ``tmp_path``) and
PostgreSQL (a new database on the session's server). What only a shared backend does (leases,
several workers) is in ``test_postgres_leases.py``.
"""

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from scraper.errors import StoreError
from scraper.models import FrontierState, Reparsed, SinkRecord, StoredBody
from scraper.storage import CrawlStore, is_postgres, open_crawl_store, open_read_store
from tests.conftest import failure_record as failure
from tests.conftest import page_record as page
from tests.conftest import pg_rows

DONE, FAILED, PENDING = FrontierState.DONE, FrontierState.FAILED, FrontierState.PENDING
OpenStore = Callable[[], contextlib.AbstractAsyncContextManager[CrawlStore]]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The address of an empty crawl database of each backend."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return url
    return str(tmp_path / "crawl.db")


@pytest.fixture
def open_store(backend: str) -> OpenStore:
    return lambda: open_crawl_store(backend)


@contextlib.asynccontextmanager
async def seeded(open_store: OpenStore, n: int = 6) -> AsyncIterator[CrawlStore]:
    """A store with ``n`` pending URLs over two hosts, depths 0..2."""
    async with open_store() as store:
        rows = [(f"http://h{i % 2}.test/{i}", f"h{i % 2}.test", i % 3) for i in range(n)]
        assert await store.add_urls(rows) == n
        yield store


async def stored(backend: str, sql: str) -> list[tuple[object, ...]]:
    """The rows of ``sql`` read from the crawl database (PostgreSQL: with psycopg, the read
    store of that backend being written elsewhere)."""
    if is_postgres(backend):
        return await pg_rows(backend, sql)
    async with open_read_store(backend) as reader, reader.rows(sql) as rows:
        return list(await rows.fetch())


async def test_add_urls_counts_only_new_urls(open_store: OpenStore):
    """Adding known URLs again adds nothing; every added URL is known."""
    async with seeded(open_store) as store:
        again = [("http://h0.test/0", "h0.test", 0), ("http://new.test/", "new.test", 1)]
        assert await store.add_urls(again) == 1
        assert await store.is_known("http://new.test/")
        assert not await store.is_known("http://never.test/")


async def test_claims_are_shallowest_first_and_never_handed_out_twice(open_store: OpenStore):
    """Claims come shallowest first; a claimed URL is not claimed again; hosts can be left out."""
    async with seeded(open_store) as store:
        first = await store.claim(3)
        assert [i.depth for i in first] == sorted(i.depth for i in first)
        assert first[0].depth == 0
        rest = await store.claim(10, exclude_hosts=["h0.test"])
        assert {i.host for i in rest} == {"h1.test"}
        assert not {i.url for i in first} & {i.url for i in rest}
        left = await store.claim(10)
        assert len(first) + len(rest) + len(left) == 6
        assert await store.claim(10) == []


async def test_a_batch_is_done_exactly_when_its_pages_exist(open_store: OpenStore, backend: str):
    """write_batch stores pages, failures and new URLs at once; writing it again keeps one row."""
    async with seeded(open_store, 2) as store:
        a, b = await store.claim(2)
        batch: list[SinkRecord] = [
            page(a, new_urls=(("http://h0.test/found", "h0.test"),)),
            failure(b),
        ]
        await store.write_batch(batch)
        await store.write_batch(batch[:1])  # a re-fetch after a crash: idempotent
        counts, failures = await store.frontier_tally()
        assert (counts[DONE], counts[FAILED], counts[PENDING]) == (1, 1, 1)
        assert failures == [("timeout", 1)]
        assert await store.page_count() == 1
    assert await stored(backend, "SELECT url FROM pages") == [(a.url,)]


async def test_claims_reserve_the_page_budget(open_store: OpenStore):
    """With max_pages, pages stored plus URLs claimed never exceed it; failures free budget."""
    async with seeded(open_store) as store:
        claimed = await store.claim(10, max_pages=3)
        assert len(claimed) == 3
        assert await store.claim(10, max_pages=3) == []
        await store.write_batch([page(claimed[0]), page(claimed[1]), failure(claimed[2])])
        more = await store.claim(10, max_pages=3)
        assert len(more) == 1
        await store.write_batch([page(more[0])])
        assert await store.crawl_finished(max_pages=3)
        assert not await store.crawl_finished()  # without the limit, URLs are still pending


async def test_the_crawl_is_finished_when_nothing_is_pending_or_claimed(open_store: OpenStore):
    """Not finished while URLs are pending or claimed; finished once every claim is written."""
    async with seeded(open_store, 2) as store:
        assert not await store.crawl_finished()
        items = await store.claim(2)
        assert not await store.crawl_finished()  # claimed, not yet written
        await store.write_batch([page(i) for i in items])
        assert await store.crawl_finished()


async def test_a_dead_workers_claims_are_recovered(open_store: OpenStore):
    """Claims left by a worker that died go back to pending for the next one; nothing else."""
    async with seeded(open_store, 4) as store:
        claimed = await store.claim(3)
        await store.write_batch([page(claimed[0])])
    # the worker is gone without releasing two claims
    async with open_store() as store:
        assert await store.recover_abandoned() == 2
        urls = {i.url for i in await store.claim(10)}
        assert {claimed[1].url, claimed[2].url} <= urls  # recovered
        assert claimed[0].url not in urls  # done: never handed out again
        assert len(urls) == 3  # the two recovered and the one never claimed


async def test_released_claims_are_pending_again(open_store: OpenStore):
    """release gives back chosen claims, release_claims all of this worker's."""
    async with seeded(open_store, 4) as store:
        items = await store.claim(4)
        await store.release([items[0].id])
        assert [i.url for i in await store.claim(4)] == [items[0].url]
        assert await store.release_claims() == 4
        assert len(await store.claim(10)) == 4


async def test_settings_and_status_are_kept_for_other_processes(
    open_store: OpenStore, backend: str
):
    """Stored settings come back on reopening; a published status is what readers see."""
    async with open_store() as store:
        assert await store.load_settings() is None
        await store.save_settings('{"seeds": ["http://a.test/"]}')
        await store.publish_status('{"state": "running"}')
        assert store.worker
    async with open_store() as store:
        assert await store.load_settings() == '{"seeds": ["http://a.test/"]}'
    if is_postgres(backend):
        statuses = await pg_rows(backend, "SELECT status FROM workers")
        assert statuses == [('{"state": "running"}',)]
    else:
        async with open_read_store(backend) as reader:
            assert await reader.worker_statuses() == ['{"state": "running"}']


async def test_sqlite_allows_one_crawl_at_a_time(open_store: OpenStore, backend: str):
    """SQLite's store holds the crawl lock while open: a second worker is refused at once."""
    if not backend.endswith(".db"):
        pytest.skip("SQLite only: a shared backend admits several workers")
    async with open_store():
        with pytest.raises(StoreError, match="another crawl is running"):
            async with open_store():
                pass


async def test_a_lone_worker_may_fetch_every_host_it_claimed(open_store: OpenStore):
    """A worker alone holds the hosts of its claims: it may start requests to them, renewing
    keeps them, and it loses none."""
    async with seeded(open_store) as store:
        items = await store.claim(6)
        hosts = {i.host for i in items}
        assert set(store.take_new_hosts()) <= hosts
        await store.renew_leases(dict.fromkeys(hosts, (0.0, 0.1)), keep=hosts)
        assert all(store.may_start(host) for host in hosts)
        assert store.take_lost_hosts() == set()


async def test_redirect_targets_and_bodies_are_stored_for_reparse(
    open_store: OpenStore, backend: str
):
    """A redirect's target enters the frontier done; a stored body comes back for reparse,
    and the page takes what parsing it again found."""
    async with seeded(open_store, 2) as store:
        a, b = await store.claim(2)
        target = ("http://h9.test/moved", "h9.test")
        await store.write_batch([
            page(a, body=b"zlib", charset="utf-8", redirected_to=target, links=("http://x.test/",)),
            page(b, new_urls=(target,)),  # linked too: stays done
        ])  # fmt: skip
        assert await store.is_known(target[0])
        counts, _ = await store.frontier_tally()
        assert (counts[DONE], counts[PENDING]) == (3, 0)
        assert await store.html_pages_without_body() == 1
        batches = [batch async for batch in store.stored_bodies(10)]
        ((version,),) = await stored(
            backend, "SELECT id FROM versions WHERE url = 'http://h0.test/0'"
        )
        assert isinstance(version, int)
        assert batches == [[StoredBody(version, a.url, a.url, "utf-8", b"zlib")]]
        new = Reparsed(version, a.url, "again", None, "text", '{"k": "v"}', ("http://y.test/",))
        await store.update_parsed([new])
        rows = await stored(backend, "SELECT title, text FROM pages ORDER BY id")
        assert rows[0] == ("again", "text")


async def test_a_page_with_nul_characters_is_stored(open_store: OpenStore, backend: str):
    """NUL characters in a page's text and extracted data do not stop its batch (PostgreSQL
    drops them: its text and jsonb refuse them)."""
    async with seeded(open_store, 1) as store:
        (item,) = await store.claim(1)
        await store.write_batch([page(item, title="a\x00b", text="\x00", data='{"k": "v\\u0000"}')])
        assert await store.page_count() == 1
        (title,) = (await stored(backend, "SELECT title FROM pages"))[0]
        assert str(title).startswith("a")  # SQLite's reader stops at the NUL
