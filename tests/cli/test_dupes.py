"""`scraper dupes`: exact, canonical and near clusters of a crawl of duplicate pages, and
`[crawl] follow_canonical = false` (a copy's links are not followed, its canonical URL is)."""

import json
from pathlib import Path
from typing import Any

import pytest

from scraper.models import PageMetadata, Visit
from scraper.storage import open_crawl_store
from scraper.testing.dupes import HITS, make_dupes_app
from tests.conftest import page_record, run_cli


async def _crawl(tmp_path: Path, server: Any, *options: str) -> Path:
    db = tmp_path / "c.db"
    code, _, err = await run_cli(
        "crawl", str(server.make_url("/")), "--db", str(db), "--delay", "0", "--retries", "0",
        *options,
    )  # fmt: skip
    assert code == 0, err
    return db


async def test_dupes_lists_exact_canonical_and_near_clusters(tmp_path: Path, aiohttp_server: Any):
    """The same page under two URLs is exact, a tracking variant is canonical with its canonical
    URL (not crawled), one word changed in 400 is near (only with --near), an unrelated page is
    in none."""
    server = await aiohttp_server(make_dupes_app())
    db = await _crawl(tmp_path, server)

    def url(path: str) -> str:
        return str(server.make_url(path))

    code, out, err = await run_cli("dupes", "--db", str(db), "--near", "-f", "jsonl")
    assert code == 0, err
    clusters = [json.loads(line) for line in out.splitlines()]
    found = {(c["kind"], tuple(p["url"] for p in c["pages"])) for c in clusters}
    assert ("exact", (url("/a"), url("/a-copy"))) in found
    assert ("canonical", (url("/story"), url("/story?ref=mail"))) in found
    assert ("near", (url("/near-1"), url("/near-2"))) in found
    assert not any(url("/other") in urls or url("/") in urls for _, urls in found)
    sizes = {p["url"]: p["size_bytes"] for c in clusters for p in c["pages"]}
    assert sizes[url("/a")] == sizes[url("/a-copy")] > 1000
    assert sizes[url("/story")] is None  # named canonical, never linked: not crawled
    code, out, err = await run_cli("dupes", "--db", str(db), "-f", "jsonl")
    assert code == 0, err
    assert {json.loads(line)["kind"] for line in out.splitlines()} == {"exact", "canonical"}
    assert server.app[HITS]["/print-only"] == 1  # followed by default


async def test_follow_canonical_false_follows_the_canonical_url_instead(
    tmp_path: Path, aiohttp_server: Any
):
    """With follow_canonical = false a page naming another canonical URL has its links left
    out and its canonical URL fetched in their place."""
    server = await aiohttp_server(make_dupes_app())
    config = tmp_path / "c.toml"
    config.write_text("[crawl]\nfollow_canonical = false\n")
    db = await _crawl(tmp_path, server, "--config", str(config))
    hits = server.app[HITS]
    assert (hits["/story?ref=mail"], hits["/story"], hits["/print-only"]) == (1, 1, 0)
    code, out, err = await run_cli("dupes", "--db", str(db), "-f", "table")
    assert code == 0, err
    assert f"canonical (2 pages): {server.make_url('/story')}" in out


async def test_dupes_of_a_missing_database_is_one_error_line(tmp_path: Path):
    """dupes on a database that does not exist says so in one line, exit 2."""
    code, _, err = await run_cli("dupes", "--db", str(tmp_path / "none.db"))
    assert code == 2
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_dupes_reads_both_backends_alike(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
):
    """Pages written through the store give the same exact, canonical and near clusters on
    SQLite and PostgreSQL (simhashes two bits apart, and one with the top bit set)."""
    postgres = backend == "postgres"
    db = request.getfixturevalue("pg_url") if postgres else str(tmp_path / "c.db")
    urls = [f"http://h.test/{i}" for i in range(6)]
    top = 1 << 63
    metas = [
        PageMetadata({}, None, simhash=top | 5),
        PageMetadata({}, None, simhash=top | 6),  # 2 bits from the first: near
        PageMetadata({}, urls[3], simhash=0x5555_0000_AAAA_0000),
        PageMetadata({}, urls[3], simhash=0x0F0F_F0F0_1234_4321),  # names itself
        PageMetadata({}, urls[3], simhash=0x3C3C_5A5A_9999_6666),
        PageMetadata({}, None, simhash=0x7E7E_1818_2468_ACE0),
    ]
    async with open_crawl_store(db) as store:
        await store.add_urls([(url, "h.test", 0) for url in urls])
        items = sorted(await store.claim(6), key=lambda item: item.url)
        hashes = ["same" if i in (2, 5) else str(i) for i in range(6)]
        await store.write_batch([
            page_record(item, metadata=meta, size_bytes=100 + i,
                        visit=Visit("2026-12-06T00:00:00Z", content_hash=hashes[i]))
            for i, (item, meta) in enumerate(zip(items, metas, strict=True))
        ])  # fmt: skip
    code, out, err = await run_cli("dupes", "--db", db, "--near", "-f", "jsonl")
    assert code == 0, err
    found = sorted(
        (c["kind"], c["key"], [(p["url"], p["size_bytes"]) for p in c["pages"]])
        for c in map(json.loads, out.splitlines())
    )
    assert found == [
        ("canonical", urls[3], [(urls[2], 102), (urls[3], 103), (urls[4], 104)]),
        ("exact", "same", [(urls[2], 102), (urls[5], 105)]),
        ("near", f"{top | 5:016x}", [(urls[0], 100), (urls[1], 101)]),
    ]
