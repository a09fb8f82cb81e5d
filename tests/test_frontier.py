"""The frontier: the recent-URL fingerprints, the link filter, and the dispatcher on a real
SQLite file."""

import asyncio
from pathlib import Path

from scraper.frontier import Frontier, LinkFilter, RecentUrls
from scraper.models import FailureRecord, FrontierState, Scope
from scraper.politeness import HostSlots
from scraper.store import Store


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
        frontier = Frontier(
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
        counts = await store.frontier_counts()
        assert (counts[FrontierState.FAILED], counts[FrontierState.PENDING]) == (60, 0)
