"""Crash-safe resume through the real CLI: kill -9, SIGINT, SIGTERM, then `scraper resume`.

Every crawl runs in a child process (``python -m scraper``) against the synthetic site on the
test's own loop; the database is read with plain sqlite3 only once the child has exited, or from
another child process while it runs.
"""

import asyncio
import contextlib
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from scraper.storage.sqlite.readstore import ReadStore
from scraper.storage.sqlite.store import Store
from scraper.testing import CONFIG
from tests.conftest import (
    BATCH,
    BOTH_COUNTS,
    CONCURRENCY,
    FAST,
    assert_consistent,
    assert_gen_site_stored,
    gen_urls,
    poll,
    rows,
    run,
    scraper,
    traffic,
    wait_for_requests,
)

# What a kill -9 may cost: URLs in flight, plus the batch the sink collects and the one it writes.
WINDOW = CONCURRENCY + 2 * BATCH


def refetches(site: TestServer) -> dict[str, int]:
    """Paths (robots.txt aside) the server saw more than once, with their extra hits."""
    hits = traffic(site).hits
    return {path: n - 1 for path, n in hits.items() if n > 1 and path != "/robots.txt"}


def assert_one_error_line(err: str, *texts: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for text in texts:
        assert text in lines[0].lower()
    return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [50, 400, 800])
async def test_kill_9_then_resume_stores_every_page_once(
    site: TestServer, gen: str, tmp_path: Path, kill_after: int
):
    """A crawl killed with SIGKILL at any point resumes to every page stored exactly once."""
    db = tmp_path / "crawl.db"
    async with scraper(tmp_path, "crawl", gen, "--db", str(db), *FAST) as child:
        await wait_for_requests(site, child, kill_after)
        child.proc.kill()
        code, _, _ = await child.finish()
    assert code == -signal.SIGKILL
    states = assert_consistent(db)
    assert states.get("done", 0) < 1000

    code, _, err = await run(tmp_path, "resume", "--db", str(db))
    assert code == 0, err
    assert "Traceback" not in err
    assert_gen_site_stored(db, site, 1000)
    extra = refetches(site)
    assert sum(extra.values()) <= WINDOW, extra


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"]
)
async def test_signal_stops_gracefully_and_resume_refetches_nothing(
    site: TestServer, gen: str, tmp_path: Path, sig: signal.Signals, exit_code: int
):
    """SIGINT or SIGTERM lets in-flight pages finish and be stored, says how to resume, and the
    resumed crawl fetches no page twice."""
    db = tmp_path / "crawl.db"
    async with scraper(tmp_path, "crawl", gen, "--db", str(db), *FAST) as child:
        await wait_for_requests(site, child, 300)
        child.proc.send_signal(sig)
        signalled = time.monotonic()
        code, _, err = await child.finish()
        stop_s = time.monotonic() - signalled
    assert code == exit_code, err
    assert 0.0 <= stop_s < 5.0  # 2 ms requests finish long before the grace period ends
    assert "Traceback" not in err
    assert f"scraper resume --db {db}" in err
    assert 0 < assert_consistent(db).get("done", 0) < 1000

    code, _, err = await run(tmp_path, "resume", "--db", str(db))
    assert code == 0, err
    assert_gen_site_stored(db, site, 1000)
    assert refetches(site) == {}


@pytest.mark.slow
async def test_second_sigint_stops_at_once_and_leaves_a_resumable_database(
    site: TestServer, gen: str, tmp_path: Path
):
    """A second SIGINT ends the crawl without waiting for stuck requests; the database stays
    consistent and the crawl resumes to completion."""
    db = tmp_path / "crawl.db"
    config = site.app[CONFIG]
    async with scraper(tmp_path, "crawl", gen, "--db", str(db), *FAST) as child:
        await wait_for_requests(site, child, 200)
        config.gen_latency_ms = 3000  # from now on every request hangs for 3 s
        slowed = time.monotonic()
        starts = traffic(site).starts
        await poll(lambda: starts[-1][0] > slowed + 0.05, 10)  # a hanging request is in flight
        child.proc.send_signal(signal.SIGINT)
        await asyncio.sleep(0.3)
        assert child.running  # the first SIGINT waits for the in-flight requests
        child.proc.send_signal(signal.SIGINT)
        second = time.monotonic()
        code, _, err = await child.finish(10)
        stop_s = time.monotonic() - second
    assert code == 130, err
    assert 0.0 <= stop_s < 2.0, stop_s  # the hanging requests needed 2.7 s more
    assert "Traceback" not in err
    assert assert_consistent(db).get("done", 0) < 1000

    config.gen_latency_ms = 0
    code, _, err = await run(tmp_path, "resume", "--db", str(db))
    assert code == 0, err
    assert_gen_site_stored(db, site, 1000)
    extra = refetches(site)
    assert sum(extra.values()) <= WINDOW, extra


async def test_resume_of_a_finished_crawl_has_nothing_to_do(site: TestServer, tmp_path: Path):
    """Resuming a crawl that finished says "nothing to do", exits 0 and sends no request."""
    site.app[CONFIG].gen_pages = 20
    db = tmp_path / "crawl.db"
    seed = str(site.make_url("/gen/0"))
    code, _, err = await run(tmp_path, "crawl", seed, "--db", str(db), *FAST)
    assert code == 0, err
    assert_gen_site_stored(db, site, 20)
    traffic(site).hits.clear()

    code, out, err = await run(tmp_path, "resume", "--db", str(db))
    assert code == 0, err
    assert "nothing to do" in out.lower()
    assert "Traceback" not in err
    assert traffic(site).hits == {}
    assert assert_consistent(db) == {"done": 20}


async def killed_after(site: TestServer, tmp_path: Path, requests: int, *args: str) -> None:
    """Run ``python -m scraper ARGS`` until the server has seen ``requests`` requests, then
    SIGKILL it and wait until the server has nothing in flight."""
    async with scraper(tmp_path, *args) as child:
        await wait_for_requests(site, child, requests)
        child.proc.kill()
        await child.finish()
    await asyncio.wait_for(traffic(site).idle.wait(), 5)


async def test_resume_flags_override_the_stored_settings_for_one_run(
    site: TestServer, gen: str, tmp_path: Path
):
    """`resume --concurrency 1 --per-host 1` keeps one request in flight during that run only;
    a plain `resume` goes back to the stored concurrency and completes the crawl."""
    site.app[CONFIG].gen_pages = 300
    db = tmp_path / "crawl.db"
    site_traffic = traffic(site)
    await killed_after(site, tmp_path, 50, "crawl", gen, "--db", str(db), *FAST)
    assert site_traffic.peak_in_flight > 1  # the stored setting is 8

    site_traffic.peak_in_flight = 0
    one = ["--concurrency", "1", "--per-host", "1"]
    await killed_after(site, tmp_path, 120, "resume", "--db", str(db), *one)
    assert site_traffic.peak_in_flight == 1
    assert 0 < assert_consistent(db).get("done", 0) < 300

    site_traffic.peak_in_flight = 0
    code, _, err = await run(tmp_path, "resume", "--db", str(db))
    assert code == 0, err
    assert site_traffic.peak_in_flight > 1
    assert_gen_site_stored(db, site, 300)
    extra = refetches(site)
    # one window per kill: the first run's (concurrency 8), then the second's (concurrency 1)
    assert sum(extra.values()) <= WINDOW + (1 + 2 * BATCH), extra


async def test_crawl_into_an_existing_database_adds_the_new_seed(site: TestServer, tmp_path: Path):
    """A second crawl into the same database adds its seed and never refetches stored pages."""
    site.app[CONFIG].gen_pages = 20
    db = tmp_path / "crawl.db"
    leaf = str(site.make_url("/dir/leaf"))
    code, _, err = await run(tmp_path, "crawl", leaf, "--db", str(db), *FAST)
    assert code == 0, err

    seed = str(site.make_url("/gen/0"))
    code, _, err = await run(tmp_path, "crawl", seed, "--db", str(db), *FAST)
    assert code == 0, err
    assert traffic(site).hits["/dir/leaf"] == 1
    assert assert_consistent(db) == {"done": 21}
    urls = {url for (url,) in rows(db, "SELECT url FROM pages")}
    assert urls == gen_urls(site, 20) | {leaf}
    assert refetches(site) == {}


READER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=5)
for _ in range(50):
    done, pages = conn.execute(sys.argv[2]).fetchone()
    print(done, pages, flush=True)
    time.sleep(0.01)
"""


async def test_a_reader_process_never_sees_a_half_written_batch(
    site: TestServer, gen: str, tmp_path: Path
):
    """Another process reading during the crawl always sees as many done URLs as pages, and
    the crawl is not blocked by it."""
    site.app[CONFIG].gen_latency_ms = 5
    db = tmp_path / "crawl.db"
    async with scraper(tmp_path, "crawl", gen, "--db", str(db), *FAST) as child:
        await wait_for_requests(site, child, 50)
        reader = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            READER,
            str(db),
            BOTH_COUNTS,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(reader.communicate(), 20)
        finally:
            if reader.returncode is None:
                reader.kill()
                await reader.wait()
        code, _, crawl_err = await child.finish()
    assert reader.returncode == 0, err.decode()
    reads = [tuple(map(int, line.split())) for line in out.decode().splitlines()]
    assert len(reads) == 50
    assert [r for r in reads if r[0] != r[1]] == []
    assert any(0 < done < 1000 for done, _ in reads)  # some reads happened mid-crawl
    assert code == 0, crawl_err
    assert_gen_site_stored(db, site, 1000)


async def test_a_second_crawl_on_a_running_database_is_refused(
    site: TestServer, gen: str, tmp_path: Path
):
    """While a crawl runs, `crawl` or `resume` on its database exits 1 with one error line."""
    site.app[CONFIG].gen_latency_ms = 2000
    db = tmp_path / "crawl.db"
    async with scraper(tmp_path, "crawl", gen, "--db", str(db), *FAST) as first:
        await wait_for_requests(site, first, 1 + 1)  # robots.txt, then /gen/0 hangs
        for args in (["crawl", gen, "--db", str(db)], ["resume", "--db", str(db)]):
            code, _, err = await run(tmp_path, *args)
            assert code == 1, err
            assert_one_error_line(err, "another crawl")
        assert first.running
        first.proc.kill()
        await first.finish()
    assert traffic(site).hits["/gen/0"] == 1


async def test_a_database_of_another_schema_version_is_refused_untouched(
    site: TestServer, tmp_path: Path
):
    """A crawl database of another schema version is refused in one line and left as it was."""
    db = tmp_path / "crawl.db"
    leaf = str(site.make_url("/dir/leaf"))
    code, _, err = await run(tmp_path, "crawl", leaf, "--db", str(db), *FAST)
    assert code == 0, err
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    before = db.read_bytes()
    hits_before = dict(traffic(site).hits)

    for args in (["crawl", str(site.make_url("/a")), "--db", str(db)], ["resume", "--db", str(db)]):
        code, _, err = await run(tmp_path, *args)
        assert code == 1, err
        assert_one_error_line(err, "schema version")
        assert db.read_bytes() == before
    assert traffic(site).hits == hits_before


async def test_resume_without_a_database_exits_2(tmp_path: Path):
    """`resume` on a database that does not exist is one error line, exit 2, and creates none."""
    missing = tmp_path / "nope.db"
    code, _, err = await run(tmp_path, "resume", "--db", str(missing))
    assert code == 2
    assert_one_error_line(err)
    assert not missing.exists()

    code, _, err = await run(tmp_path, "resume", cwd=tmp_path)  # the default data/scraper.db
    assert code == 2
    assert_one_error_line(err)
    assert not (tmp_path / "data" / "scraper.db").exists()


@pytest.mark.parametrize("opener", [Store, ReadStore])
async def test_opening_a_database_cancelled_midway_leaves_no_thread(
    tmp_path: Path, opener: Callable[[Path], Store | ReadStore]
):
    """Ctrl-C while a store waits on a locked file: its connection is closed, so no aiosqlite
    thread (which is not a daemon) is left to keep the process from exiting."""
    path = tmp_path / "crawl.db"
    async with Store(path):
        pass
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("PRAGMA journal_mode = DELETE")  # in WAL mode readers never wait
    blocker.execute("BEGIN EXCLUSIVE")  # the store's first read waits for this lock
    before = set(threading.enumerate())
    opening = asyncio.create_task(opener(path).__aenter__())
    await asyncio.sleep(0.3)
    assert not opening.done()
    opening.cancel()
    asyncio.get_running_loop().call_later(0.2, blocker.rollback)
    with pytest.raises(asyncio.CancelledError):
        await opening
    blocker.close()
    left = [t for t in threading.enumerate() if t not in before]
    for _ in range(50):  # a closed connection's thread ends right after its last call
        if not any(t.is_alive() for t in left):
            break
        await asyncio.sleep(0.05)
    assert [t.name for t in left if t.is_alive()] == []
