"""The storage contract: what the engine may rely on from any backend behind ``CrawlStore``.

Every test runs once per backend (the ``backend`` fixture): SQLite (a file in ``tmp_path``) and
PostgreSQL (a new database on the session's server). What only a shared backend does (leases,
several workers) is in ``test_postgres_leases.py``.
"""

import contextlib
import json
import time
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from scraper.errors import StoreError
from scraper.models import (
    Capture,
    CheckedRecord,
    Chunk,
    Content,
    FailureRecord,
    FrontierItem,
    FrontierState,
    PageMetadata,
    PreviousVisit,
    Reparsed,
    SinkRecord,
    StoredBody,
    StoredCookie,
    Visit,
)
from scraper.storage import (
    CrawlStore,
    crawl_running,
    is_postgres,
    open_crawl_store,
    open_read_store,
)
from scraper.storage.captures import payload_digest
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


async def test_a_batch_that_fails_leaves_nothing_of_itself(open_store: OpenStore, backend: str):
    """A batch whose last statement fails (a frontier state the schema refuses) stores none of
    its pages, versions or new URLs, and leaves its URLs claimed; the next batch goes on."""
    async with seeded(open_store, 2) as store:
        a, b = await store.claim(2)
        lost: FrontierState = SimpleNamespace(value="lost")  # type: ignore[assignment]
        refused = FailureRecord(b.id, b.url, 1, "timeout", lost)
        with pytest.raises(Exception, match=r"(?i)check"):
            await store.write_batch(
                [page(a, new_urls=(("http://h0.test/found", "h0.test"),)), refused]
            )
        assert await store.page_count() == 0
        assert not await store.is_known("http://h0.test/found")
        await store.write_batch([page(a), failure(b)])
        counts, _ = await store.frontier_tally()
        assert (counts[DONE], counts[FAILED]) == (1, 1)
    assert await stored(backend, "SELECT count(*) FROM versions") == [(1,)]


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


async def test_a_worker_that_leaves_is_no_longer_running(open_store: OpenStore, backend: str):
    """An open store is a running crawl; once closed, it is not, at once (not only when its
    heartbeat grows old), and readers see how it ended: cleanly, or with the error that did."""
    async with open_store() as store:
        await store.publish_status('{"state": "finished"}')
        assert crawl_running(backend)
    assert not crawl_running(backend)

    async def fail_inside() -> None:
        async with open_store():
            assert crawl_running(backend)  # the same worker (this process) joined again
            raise RuntimeError("boom\nsecond line")

    with pytest.raises(RuntimeError):
        await fail_inside()
    assert not crawl_running(backend)
    async with open_read_store(backend) as reader:
        workers = await reader.workers()
    if is_postgres(backend):  # one row: both stores were this process, one worker name
        [worker] = workers
        assert worker.alive is False
        assert worker.ended_age_s is not None
        assert 0 <= worker.ended_age_s < 10
        assert worker.end_error == "RuntimeError: boom second line"
        assert worker.hosts_held == 0
    else:
        assert [(w.alive, w.ended_age_s, w.end_error) for w in workers] == [(None, None, None)]


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


async def test_stored_pdf_bodies_come_back_for_reparse(open_store: OpenStore, backend: str):
    """A PDF's stored body is read again by reparse like an HTML page's; an image's is not."""
    async with seeded(open_store, 2) as store:
        a, b = await store.claim(2)
        await store.write_batch([
            page(a, body=b"pdf", content_type="application/pdf", title=None, text=None),
            page(b, body=b"png", content_type="image/png", title=None, text=None),
        ])  # fmt: skip
        batches = [batch async for batch in store.stored_bodies(10)]
        assert [[s.url for s in batch] for batch in batches] == [[a.url]]
        assert batches[0][0].body == b"pdf"


async def test_a_page_with_nul_characters_is_stored(open_store: OpenStore, backend: str):
    """NUL characters in a page's text and extracted data do not stop its batch (PostgreSQL
    drops them: its text and jsonb refuse them)."""
    async with seeded(open_store, 1) as store:
        (item,) = await store.claim(1)
        await store.write_batch([page(item, title="a\x00b", text="\x00", data='{"k": "v\\u0000"}')])
        assert await store.page_count() == 1
        (title,) = (await stored(backend, "SELECT title FROM pages"))[0]
        assert str(title).startswith("a")  # SQLite's reader stops at the NUL


def when(value: object) -> str:
    """A stored time as text (PostgreSQL's rows hold datetimes)."""
    return str(value).replace(" ", "T")


def visit(content: str | None, checked_at: str = "2026-12-06T00:00:00.000+00:00") -> Visit:
    return Visit(checked_at, '"e1"', None, "b-" + str(content), content, 100.0,
                 "2026-12-06T00:01:40.000+00:00")  # fmt: skip


async def test_a_revisit_claims_the_previous_visit_and_stores_a_version_per_content(
    open_store: OpenStore, backend: str
):
    """A stored page scheduled again is claimed with its validators and hashes; the same
    content written again (a re-fetch after a crash) adds no version, other content does and
    moves changed_at; a removal is a version without content."""
    async with seeded(open_store, 1) as store:
        (item,) = await store.claim(1)
        assert item.previous is None
        await store.write_batch([page(item, visit=visit("h1"))])
        assert await store.schedule_revisits(due_at=None, checked_before=None) == 1
        (again,) = await store.claim(1, max_pages=2)  # a revisit stores no new page:
        assert again.previous == PreviousVisit('"e1"', None, "b-h1", "h1", 100.0)
        later = "2026-12-07T00:00:00.000+00:00"
        await store.write_batch([page(again, fetched_at=later, visit=visit("h1", later))])
        await store.schedule_revisits(due_at=None, checked_before=None)
        (third,) = await store.claim(1, max_pages=2)  # the budget still has room for one
        await store.write_batch(
            [page(third, title="new", fetched_at=later, visit=visit("h2", later))]
        )
        await store.schedule_revisits(due_at=None, checked_before=None)
        (fourth,) = await store.claim(1)
        await store.write_batch([page(fourth, status=404, title=None, text=None,
                                      fetched_at=later, visit=visit(None, later))])  # fmt: skip
    found = await stored(backend, "SELECT change, content_hash, title FROM versions ORDER BY id")
    assert found == [
        ("new", "h1", f"t {item.url}"),
        ("changed", "h2", "new"),
        ("removed", None, None),
    ]
    (changed_at,) = (await stored(backend, "SELECT changed_at FROM pages"))[0]
    assert when(changed_at).startswith("2026-12-07")


async def test_a_checked_page_is_marked_and_left_as_it_was(open_store: OpenStore, backend: str):
    """An unchanged revisit updates the page's check time, validators and schedule only: no
    version, the same title and changed_at; its URL is done."""
    async with seeded(open_store, 1) as store:
        (item,) = await store.claim(1)
        await store.write_batch([page(item, visit=visit("h1"))])
        await store.schedule_revisits(due_at=None, checked_before=None)
        (again,) = await store.claim(1)
        later = "2026-12-08T00:00:00.000+00:00"
        checked = Visit(later, '"e2"', "Mon, 07 Dec 2026 00:00:00 GMT", None, "h1", 200.0,
                        "2026-12-08T00:03:20.000+00:00")  # fmt: skip
        await store.write_batch([CheckedRecord(again.id, again.url, 304, 1, checked)])
        counts, _ = await store.frontier_tally()
        assert counts[DONE] == 1
    found = await stored(backend, "SELECT title, etag, last_modified, body_hash, revisit_s, "
                                  "checked_at, changed_at, next_visit_at FROM pages")  # fmt: skip
    title, etag, modified, body, revisit_s, checked_at, changed_at, next_at = found[0]
    assert (title, etag, modified, body, revisit_s) == (
        f"t {item.url}",
        '"e2"',
        "Mon, 07 Dec 2026 00:00:00 GMT",
        "b-h1",
        200.0,
    )
    assert when(checked_at).startswith("2026-12-08T00:00:00")
    assert when(changed_at).startswith("2026-12-06")
    assert when(next_at).startswith("2026-12-08T00:03:20")
    assert await stored(backend, "SELECT count(*) FROM versions") == [(1,)]


async def test_a_recrawl_schedules_the_due_or_the_old_pages(open_store: OpenStore, backend: str):
    """--due takes pages whose next visit has come; --older-than those last checked before
    the cutoff; both: pages that are both; each scheduled URL pending again."""
    days = {f"http://h{i % 2}.test/{i}": day for i, day in enumerate(["01", "05", "09"])}

    def checked(items: list[FrontierItem]) -> list[SinkRecord]:
        return [
            page(i, visit=Visit(f"2026-12-{days[i.url]}T00:00:00.000+00:00", None, None, None,
                                "h", 100.0, f"2026-12-{days[i.url]}T00:01:40.000+00:00"))
            for i in items
        ]  # fmt: skip

    async with seeded(open_store, 3) as store:
        await store.write_batch(checked(await store.claim(3)))
        at, old = "2026-12-06T00:00:00.000+00:00", "2026-12-03T00:00:00.000+00:00"
        assert await store.schedule_revisits(due_at=at, checked_before=None) == 2
        await store.write_batch(checked(await store.claim(3)))
        assert await store.schedule_revisits(due_at=at, checked_before=old) == 1
        await store.write_batch(checked(await store.claim(3)))
        assert await store.schedule_revisits(due_at=None, checked_before=at) == 2
        counts, _ = await store.frontier_tally()
        assert (counts[PENDING], counts[DONE]) == (2, 1)


async def test_the_reader_lists_changes_and_the_changed_pages(open_store: OpenStore, backend: str):
    """changes(since): url, change, at, oldest first; pages(changed_since): the pages new or
    changed since, not the removed ones."""
    async with seeded(open_store, 3) as store:
        a, b, c = await store.claim(3)
        early, late = "2026-12-01T00:00:00.000+00:00", "2026-12-09T00:00:00.000+00:00"
        later, last = "2026-12-09T00:00:01.000+00:00", "2026-12-09T00:00:02.000+00:00"
        await store.write_batch([page(a, fetched_at=early, visit=visit("a", early)),
                                 page(b, fetched_at=late, visit=visit("b", late)),
                                 page(c, fetched_at=later, visit=visit("c", later))])  # fmt: skip
        await store.schedule_revisits(due_at=None, checked_before=None)
        c2 = next(i for i in await store.claim(3) if i.url == c.url)
        await store.write_batch([page(c2, status=410, fetched_at=last, visit=visit(None, last))])
    since = "2026-12-05T00:00:00.000+00:00"
    async with open_read_store(backend) as reader:
        async with reader.changes(since) as rows:
            changes = [(url, change) for url, change, _at in await rows.fetch()]
        async with reader.pages(since) as rows:
            urls = [row[1] for row in await rows.fetch()]
    assert changes == [(b.url, "new"), (c.url, "new"), (c.url, "removed")]
    assert urls == [b.url]


def content(markdown: str) -> Content:
    """A main content of one chunk per paragraph (as parse would cut it, small)."""
    parts = markdown.split("\n\n")
    chunks = tuple(Chunk(i, "H", p, len(p.split()), f"hash-{p}") for i, p in enumerate(parts))
    return Content(markdown, chunks)


async def test_contents_and_chunks_are_stored_per_version(open_store: OpenStore, backend: str):
    """A page's Markdown and chunks are stored for its version and read by URL through
    pages_markdown; the same content written again adds nothing, changed content a version
    with its own, and the old version keeps its own."""
    async with seeded(open_store, 1) as store:
        (item,) = await store.claim(1)
        await store.write_batch([page(item, visit=visit("h1"), content=content("a\n\nb"))])
        await store.write_batch([page(item, visit=visit("h1"), content=content("a\n\nb"))])
        await store.schedule_revisits(due_at=None, checked_before=None)
        (again,) = await store.claim(1)
        later = "2026-12-07T00:00:00.000+00:00"
        record = page(again, title="new", fetched_at=later, visit=visit("h2", later),
                      content=content("c"))  # fmt: skip
        await store.write_batch([record])
    assert await stored(backend, "SELECT url, markdown FROM pages_markdown") == [(item.url, "c")]
    contents = "SELECT v.change, c.markdown FROM contents c JOIN versions v ON v.id = c.version_id"
    assert sorted(await stored(backend, contents)) == [("changed", "c"), ("new", "a\n\nb")]
    chunks = await stored(
        backend,
        "SELECT c.seq, c.url, c.heading, c.markdown, c.tokens, c.hash FROM chunks c "
        "JOIN versions v ON v.id = c.version_id ORDER BY v.id, c.seq",
    )
    assert chunks == [
        (0, item.url, "H", "a", 1, "hash-a"),
        (1, item.url, "H", "b", 1, "hash-b"),
        (0, item.url, "H", "c", 1, "hash-c"),
    ]


async def test_reparse_replaces_a_versions_content_and_chunks(open_store: OpenStore, backend: str):
    """A version parsed again gets its new Markdown and exactly its new chunks."""
    async with seeded(open_store, 1) as store:
        (item,) = await store.claim(1)
        await store.write_batch([page(item, content=content("a\n\nb\n\nc"))])
        (version,) = (await stored(backend, "SELECT id FROM versions"))[0]
        assert isinstance(version, int)
        new = Reparsed(version, item.url, "t", None, "x", None, (), None, content("z\n\ny"))
        await store.update_parsed([new])
    assert await stored(backend, "SELECT markdown FROM pages_markdown") == [("z\n\ny",)]
    found = await stored(backend, "SELECT seq, markdown FROM chunks ORDER BY seq")
    assert found == [(0, "z"), (1, "y")]


def metadata(title: str, simhash: int) -> PageMetadata:
    """What parse says of a page that declares a product in JSON-LD and a canonical URL."""
    document: dict[str, object] = {"json_ld": [{"@type": "Product", "name": title}]}
    return PageMetadata(document, "http://h0.test/c", "en", "2026-01-02", None, "Ann", simhash)


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value  # SQLite: text; jsonb: dict


async def test_metadata_is_stored_per_version_and_read_by_url(open_store: OpenStore, backend: str):
    """A page's metadata, derived columns, signed simhash and its bands are stored for its
    version and read by URL through pages_metadata; a changed page's version gets its own."""
    big = (1 << 64) - 2  # stored signed: -2; bands 0xfffe, 0xffff, 0xffff, 0xffff
    async with seeded(open_store, 1) as store:
        (item,) = await store.claim(1)
        await store.write_batch([page(item, visit=visit("h1"), metadata=metadata("Lamp", 5))])
        await store.write_batch([page(item, visit=visit("h1"), metadata=metadata("Lamp", 5))])
        await store.schedule_revisits(due_at=None, checked_before=None)
        (again,) = await store.claim(1)
        later = "2026-12-07T00:00:00.000+00:00"
        record = page(again, fetched_at=later, visit=visit("h2", later),
                      metadata=metadata("Desk", big))  # fmt: skip
        await store.write_batch([record])
    columns = "url, metadata, canonical_url, lang, published_at, author, simhash, band0, band3"
    [row] = await stored(backend, f"SELECT {columns} FROM pages_metadata")
    assert (row[0], _json(row[1]), *row[2:]) == (
        item.url, {"json_ld": [{"@type": "Product", "name": "Desk"}]}, "http://h0.test/c",
        "en", "2026-01-02", "Ann", -2, 0xFFFE, 0xFFFF,
    )  # fmt: skip
    per_version = await stored(backend, "SELECT simhash FROM metadata ORDER BY version_id")
    assert per_version == [(5,), (-2,)]


async def test_reparse_replaces_a_versions_metadata(open_store: OpenStore, backend: str):
    """A version parsed again gets its new metadata row (and one stored without any, one)."""
    async with seeded(open_store, 1) as store:
        (item,) = await store.claim(1)
        await store.write_batch([page(item)])
        (version,) = (await stored(backend, "SELECT id FROM versions"))[0]
        assert isinstance(version, int)
        fields = (version, item.url, "t", None, "x", None, (), None, None)
        await store.update_parsed([Reparsed(*fields, metadata("Lamp", 7))])
        await store.update_parsed([Reparsed(*fields, metadata("Desk", 9))])
    found = await stored(backend, "SELECT version_id, metadata, simhash FROM metadata")
    assert [(v, _json(m), h) for v, m, h in found] == [
        (version, {"json_ld": [{"@type": "Product", "name": "Desk"}]}, 9)
    ]


async def test_failed_urls_are_retried_by_reason_or_all(open_store: OpenStore, backend: str):
    """retry_failed puts failed URLs whose last_error is one of the reasons back to pending
    with no attempt counted (empty: every failed URL); blocked and done URLs stay as they are."""
    async with seeded(open_store, 5) as store:
        a, b, c, d, e = await store.claim(5)
        await store.write_batch([
            page(a), FailureRecord(b.id, b.url, 3, "dns_error"),
            FailureRecord(c.id, c.url, 3, "timeout"), FailureRecord(d.id, d.url, 3, "dns_error"),
            FailureRecord(e.id, e.url, 1, "robots", FrontierState.BLOCKED),
        ])  # fmt: skip
        assert await store.retry_failed(["dns_error"]) == 2
        counts, failures = await store.frontier_tally()
        assert (counts[PENDING], counts[FAILED], counts[FrontierState.BLOCKED]) == (2, 1, 1)
        assert failures == [("timeout", 1)]
        assert await store.retry_failed(["http_500"]) == 0
        assert await store.retry_failed() == 1
        assert not await store.crawl_finished()
        again = await store.claim(5)
        assert sorted(i.url for i in again) == sorted([b.url, c.url, d.url])
    found = await stored(backend, "SELECT url, attempts, last_error FROM frontier "
                                  "WHERE state = 'in_progress' ORDER BY url")  # fmt: skip
    assert [(row[1], row[2]) for row in found] == [(0, None)] * 3


async def test_the_cookie_jar_is_kept_across_workers_and_runs(open_store: OpenStore):
    """Saved cookies load in the next run (or another worker), a save replaces a cookie of the
    same domain, path and name, deletes the keys gone from its jar and leaves the others, and an
    expired cookie is neither loaded nor kept."""
    soon = int(time.time()) + 3600
    sid = StoredCookie("h.test", "/", "sid", "v1", expires=soon, secure=True, httponly=True)
    other = StoredCookie("other.test", "/app", "pref", "dark", host_only=False)
    expired = StoredCookie("h.test", "/", "old", "x", expires=int(time.time()) - 5)
    async with open_store() as store:
        await store.save_cookies([sid, other, expired], ())
    async with open_store() as store:
        assert sorted(await store.load_cookies(), key=str) == sorted([sid, other], key=str)
        renewed = StoredCookie("h.test", "/", "sid", "v2", expires=soon + 60)
        await store.save_cookies([renewed], {other.key})
    async with open_store() as store:
        assert await store.load_cookies() == [renewed]


async def test_adopted_urls_are_claimed_by_the_adopter_until_their_pages_are_written(
    open_store: OpenStore,
):
    """adopt gives ids to new and pending URLs alike, hands neither out, and their batch marks
    them done."""
    async with seeded(open_store, 2) as store:
        urls = [("http://h0.test/0", "h0.test"), ("http://new.test/a", "new.test")]
        ids = await store.adopt(urls)
        assert set(ids) == {url for url, _ in urls}
        assert await store.adopt(urls) == ids  # again: the same rows
        assert [i.url for i in await store.claim(10)] == ["http://h1.test/1"]
        items = [FrontierItem(ids[url], url, host, 0, 0) for url, host in urls]
        await store.write_batch([page(item) for item in items])
        counts, _ = await store.frontier_tally()
        assert (counts[DONE], counts.get(PENDING, 0)) == (2, 0)
        assert await store.page_count() == 2


async def test_an_older_capture_written_later_is_history_not_the_page(
    open_store: OpenStore, backend: str
):
    """A version fetched before the stored page is kept as a version; the page stays the newer."""
    async with open_store() as store:
        url = "http://h0.test/a"
        item = FrontierItem((await store.adopt([(url, "h0.test")]))[url], url, "h0.test", 0, 0)
        new_at, old_at = "2024-05-01T00:00:00Z", "2014-05-01T00:00:00Z"
        newer = page(item, title="newer", fetched_at=new_at, visit=Visit(new_at, content_hash="n"))
        older = page(item, title="older", fetched_at=old_at, visit=Visit(old_at, content_hash="o"))
        await store.write_batch([newer])
        await store.write_batch([older])
    assert await stored(backend, "SELECT title FROM pages") == [("newer",)]
    history = "SELECT title FROM versions ORDER BY fetched_at"
    assert await stored(backend, history) == [("older",), ("newer",)]


# -- captures (--archive, schema 8) ---------------------------------------------------------

CAPTURED_AT = "2026-12-06T00:00:00.000+00:00"


def blob(value: object) -> bytes:
    """A BLOB (bytea) column's value as bytes."""
    assert isinstance(value, bytes | memoryview)
    return bytes(value)


def capture(url: str, status: int, body: bytes, at: str = CAPTURED_AT) -> Capture:
    head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    return Capture(url, status, at, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", head, body, "127.0.0.1")


async def test_captures_are_stored_per_hop_with_their_version(open_store: OpenStore, backend: str):
    """Each hop is a row in hop order, with the version its fetch made (NULL for a first 404);
    an unchanged revisit's same payload keeps its heads but not the bytes again."""
    async with seeded(open_store, 2) as store:
        a, b = await store.claim(2)
        hops = (capture(a.url + "?r", 302, b"moved"), capture(a.url, 200, b"<p>hello</p>"))
        gone = (capture(b.url, 404, b"no"),)
        await store.write_batch([
            page(a, visit=visit("h1"), captures=hops),
            page(b, status=404, title=None, text=None, captures=gone),
        ])  # fmt: skip
        await store.schedule_revisits(due_at=None, checked_before=None)
        (again,) = [i for i in await store.claim(2) if i.url == a.url]
        later = "2026-12-07T00:00:00.000+00:00"
        same = (capture(a.url, 200, b"<p>hello</p>", later),)
        await store.write_batch([CheckedRecord(again.id, a.url, 200, 1, visit("h1"), same)])
    rows = await stored(
        backend,
        "SELECT c.url, hop, target_uri, c.status, body, body_length, payload_digest, truncated, "
        "v.url, c.fetched_at, peer, request, response FROM captures c "
        "LEFT JOIN versions v ON v.id = c.version_id ORDER BY c.id",
    )
    bodies = [None if r[4] is None else zlib.decompress(blob(r[4])) for r in rows]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (a.url, 0, a.url + "?r", 302),
        (a.url, 1, a.url, 200),
        (b.url, 0, b.url, 404),
        (a.url, 0, a.url, 200),
    ]
    assert bodies == [b"moved", b"<p>hello</p>", b"no", None]
    assert [r[5] for r in rows] == [5, 12, 2, 12]
    assert rows[3][6] == rows[1][6] == payload_digest(b"<p>hello</p>")
    assert [r[8] for r in rows] == [a.url, a.url, None, a.url]
    assert [r[9] for r in rows] == [CAPTURED_AT] * 3 + [later]
    assert {(r[10], blob(r[11]), r[7]) for r in rows} == {
        ("127.0.0.1", b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0)
    }
    assert blob(rows[1][12]).startswith(b"HTTP/1.1 200 X\r\n")
