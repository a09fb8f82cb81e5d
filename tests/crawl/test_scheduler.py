"""The frontier: the recent-URL fingerprints, the link filter, and the dispatcher on a real
SQLite file."""

import asyncio
import collections
import itertools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from scraper.crawl.links import LinkFilter, RecentUrls
from scraper.crawl.scheduler import Scheduler
from scraper.crawl.slots import HostSlots
from scraper.models import FailureRecord, FrontierItem, FrontierState, Scope
from scraper.storage.sqlite.store import Store


def test_recent_urls_knows_a_url_it_has_seen():
    """A URL's first add is True and the next False; after 5,000 URLs in 65,536 slots, most are
    still known (a direct-mapped table forgets a URL whose slot another one took)."""
    recent = RecentUrls(bits=16)
    urls = [f"http://example.com/p/{i}" for i in range(5_000)]
    for url in urls:
        assert recent.add(url)
        assert not recent.add(url)
    known = sum(not recent.add(url) for url in urls)  # re-adding a forgotten one evicts another
    assert 3_800 < known < 5_000  # about 85 % here


def test_recent_urls_forgets_within_a_fixed_size():
    """Past its table's size old URLs are forgotten (seen as new again), never memory grown."""
    recent = RecentUrls(bits=10)
    urls = [f"http://example.com/{i}" for i in range(20_000)]
    for url in urls:
        recent.add(url)
    forgotten = sum(recent.add(url) for url in urls[:1_000])
    assert forgotten > 900  # 1,024 slots, 20,000 URLs since: nearly all overwritten
    assert len(recent._table) == 1024


def test_link_filter_admits_each_in_scope_url_once():
    """Links met again on later pages are not admitted twice; out-of-scope ones never."""
    links = LinkFilter(["example.com"], Scope.HOST, [], [r"/private/"], max_depth=3)
    page = ["http://example.com/a", "http://other.org/x", "http://example.com/private/1"]
    assert links.admit(page, 0) == (("http://example.com/a", "example.com"),)
    assert links.admit([*page, "http://example.com/b"], 1) == (
        ("http://example.com/b", "example.com"),
    )
    assert links.admit(["http://example.com/c"], 3) == ()  # depth 4 is past max_depth


async def test_every_url_of_one_busy_host_is_handed_out(tmp_path: Path):
    """A host whose buffer is full is left out of claims; handing out from it while such a claim
    runs must not make the dispatcher believe the database is empty (every URL is handed out)."""
    urls = [f"http://one.example/{i}" for i in range(60)]
    async with Store(tmp_path / "crawl.db") as store:
        await store.add_urls((url, "one.example", 0) for url in urls)
        frontier = Scheduler(
            store,
            HostSlots(2, 0.0),
            buffer_size=8,
            host_buffer=4,
            window=100,
            max_pages=0,
            pages_stored=0,
        )
        handed: list[str] = []

        async def worker() -> None:
            while (item := await frontier.next_item()) is not None:
                handed.append(item.url)
                frontier.release(item.host)
                record = FailureRecord(item.id, item.url, 1, "test")
                await store.write_batch([record])
                frontier.committed([record])

        async with asyncio.timeout(20), asyncio.TaskGroup() as tg:
            tg.create_task(frontier.run(2), name="dispatcher")
            for n in range(2):
                tg.create_task(worker(), name=f"worker-{n}")
        assert sorted(handed) == sorted(urls)
        counts, _ = await store.frontier_tally()
        assert (counts[FrontierState.FAILED], counts[FrontierState.PENDING]) == (60, 0)


async def _claim_steps(store: Store, limit: int, exclude: list[str]) -> tuple[list[str], int]:
    """Hosts of the URLs one claim returns, and the SQLite VM steps it took (its cost)."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 100
        return 0  # go on

    await store.db.set_progress_handler(count, 100)  # replaces the previous call's counter
    items = await store.claim(limit, exclude)
    return [item.host for item in items], steps


async def test_a_claim_leaving_out_a_full_host_does_not_read_its_urls(tmp_path: Path):
    """With one host full (left out) and first in the order, a claim finds the other hosts' URLs
    at a cost that does not grow with the full host's pending URLs (10,000 or 100,000)."""
    costs = []
    for size in (10_000, 100_000):
        async with Store(tmp_path / f"{size}.db") as store:
            await store.db.execute(  # in SQL: 100,000 URLs built in Python would be 20 MB
                "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                "INSERT INTO frontier (url, host, depth) "
                "SELECT 'http://big.example/' || i, 'big.example', 0 FROM n",
                (size,),
            )
            await store.add_urls(
                (f"http://{h}.example/{i}", f"{h}.example", 1) for h in "bc" for i in range(3)
            )
            hosts, steps = await _claim_steps(store, 4, ["big.example"])
            assert len(hosts) == 4
            assert set(hosts) == {"b.example", "c.example"}
            costs.append(steps)
            counts, _ = await store.frontier_tally()
            assert counts[FrontierState.IN_PROGRESS] == 4  # nothing claimed that was not returned
            everyone = ["big.example", "b.example", "c.example"]
            assert (await _claim_steps(store, 4, everyone))[0] == []
    assert costs[1] < costs[0] * 2  # the old NOT IN filter read every row: 10x


async def test_a_claim_leaving_out_hosts_never_claims_more_than_asked(tmp_path: Path):
    """Spread over more hosts than the limit, a claim still takes at most ``limit`` URLs, and
    every URL it marks in_progress is one it returns."""
    async with Store(tmp_path / "crawl.db") as store:
        await store.add_urls(
            (f"http://h{h}.example/{i}", f"h{h}.example", 0) for h in range(10) for i in range(5)
        )
        items = await store.claim(7, ["h0.example"])
        assert len(items) == 7
        assert "h0.example" not in {item.host for item in items}
        counts, _ = await store.frontier_tally()
        assert counts[FrontierState.IN_PROGRESS] == 7
        more = await store.claim(100, ["h0.example"])
        assert len(more) == 45 - 7  # all the others' URLs, in claims of one host at a time or more


async def test_a_claim_leaving_out_a_full_host_still_takes_the_shallowest_urls(tmp_path: Path):
    """Among the other hosts, the claim keeps the crawl's order (shallowest first) when it can:
    zz's depth-1 URLs before aa's depth-5 ones, though aa comes first by name."""
    async with Store(tmp_path / "crawl.db") as store:
        await store.add_urls((f"http://full.example/{i}", "full.example", 0) for i in range(50))
        await store.add_urls((f"http://aa.example/{i}", "aa.example", 5) for i in range(5))
        await store.add_urls((f"http://zz.example/{i}", "zz.example", 1) for i in range(5))
        items = await store.claim(5, ["full.example"])
        assert [(item.host, item.depth) for item in items] == [("zz.example", 1)] * 5


async def run_dispatch(
    store: Store, slots: HostSlots, on_item: Callable[[FrontierItem], Awaitable[None]], **kw: int
) -> None:
    """Run a scheduler over ``store`` with one worker that calls ``on_item`` for each URL and
    records it failed; bounded in time."""
    frontier = Scheduler(
        store,
        slots,
        buffer_size=kw.get("buffer_size", 64),
        host_buffer=kw.get("host_buffer", 1),
        window=100,
        max_pages=0,
        pages_stored=0,
    )

    done: list[FailureRecord] = []
    flush = asyncio.Event()
    closing = False

    async def worker() -> None:
        while (item := await frontier.next_item()) is not None:
            await on_item(item)
            frontier.release(item.host)
            done.append(FailureRecord(item.id, item.url, 1, "test"))
            flush.set()

    async def sink() -> None:  # one transaction per batch, as the crawl's sink writes
        while True:
            await flush.wait()
            flush.clear()
            batch = done[:]
            del done[:]
            if not batch:
                if closing:
                    return
                continue
            await store.write_batch(batch)
            frontier.committed(batch)

    async with asyncio.timeout(20):
        async with asyncio.TaskGroup() as tg:
            sink_task = tg.create_task(sink(), name="sink")
            async with asyncio.TaskGroup() as stages:
                stages.create_task(frontier.run(kw.get("workers", 1)), name="dispatcher")
                for n in range(kw.get("workers", 1)):
                    stages.create_task(worker(), name=f"worker-{n}")
            closing = True
            flush.set()  # nothing left: the sink ends
        assert sink_task.done()


async def test_the_delay_counts_from_when_the_request_went_out(tmp_path: Path):
    """A request sent 0.15 s after its hand-out (a busy event loop) pushes the host's next start
    to 0.2 s after the send: the next request, sent at once, still comes 0.2 s later."""
    async with Store(tmp_path / "crawl.db") as store:
        await store.add_urls((f"http://one.example/{i}", "one.example", 0) for i in range(6))
        slots = HostSlots(1, 0.2)
        sent_at: list[float] = []

        async def send(item: FrontierItem) -> None:
            if len(sent_at) % 2 == 0:
                await asyncio.sleep(0.15)  # every other request goes out late
            sent_at.append(time.monotonic())
            slots.sent(item.host, sent_at[-1])

        await run_dispatch(store, slots, send)
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert len(gaps) == 5
    assert all(0.2 <= gap < 0.5 for gap in gaps), gaps


async def test_a_claim_spreads_over_hosts_when_each_takes_few(tmp_path: Path):
    """With a per-host cap, one claim takes the shallowest URLs of many hosts, not one host's
    many URLs that would wait out its delay while other hosts' URLs stay in the database."""
    async with Store(tmp_path / "crawl.db") as store:
        rows = [(f"http://h{h:02}.example/{i}", f"h{h:02}.example", 1) for h in range(20)
                for i in range(10)]  # fmt: skip
        await store.add_urls(rows)
        items = await store.claim(40, per_host=2)
        per_host = collections.Counter(item.host for item in items)
        assert len(items) == 40
        assert max(per_host.values()) == 2
        assert len(per_host) == 20
        ordered = await store.claim(10)  # no cap: the order of the frontier alone
        assert len({item.host for item in ordered}) < 10


async def test_many_waiting_hosts_never_hold_up_a_ready_one(tmp_path: Path):
    """100 hosts, a 0.5 s delay, a seed and three pages each, a buffer of 64 URLs: claims take
    one URL of each host at a time, so the crawl ends near its floor (1.5 s), every gap at a
    host at least the delay."""
    async with Store(tmp_path / "crawl.db") as store:
        hosts = [f"h{h:03}.example" for h in range(100)]
        await store.add_urls((f"http://{h}/", h, 0) for h in hosts)
        await store.add_urls((f"http://{h}/{i}", h, 1) for h in hosts for i in range(3))
        slots = HostSlots(1, 0.5)
        started: dict[str, list[float]] = collections.defaultdict(list)

        async def fetch(item: FrontierItem) -> None:
            started[item.host].append(time.monotonic())
            slots.sent(item.host, started[item.host][-1])
            await asyncio.sleep(0.01)

        begin = time.monotonic()
        await run_dispatch(store, slots, fetch, buffer_size=64, workers=16)
        took = time.monotonic() - begin
    assert all(len(times) == 4 for times in started.values())
    gaps = [b - a for times in started.values() for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.5
    assert 1.5 <= took < 2.5, took  # the floor is three delays
