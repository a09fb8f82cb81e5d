"""Ctrl-C as a terminal sends it: SIGINT (or SIGTERM) to the whole process group, parse process
included. The crawler alone handles it; crawl, reparse and bench stop cleanly and leave no
process behind.

Each command runs in a session of its own (``tests.conftest.scraper``), so its process group id is
its pid and ``os.killpg`` reaches it and everything it started, as a terminal's Ctrl-C does.
"""

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from scraper.testing import CONFIG
from tests.conftest import (
    FAST,
    Child,
    assert_consistent,
    assert_gen_site_stored,
    poll,
    run,
    scraper,
    wait_for_requests,
)

GONE_S = 10.0  # how long the group's processes may take to exit once its leader has


def group_processes(pgid: int) -> list[str]:
    """Command lines of the live (not zombie) processes in process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return found


def parse_process_started(child: Child) -> bool:
    """Has the command started its parse process (a multiprocessing spawn child)?"""
    return any("spawn_main" in cmd for cmd in group_processes(child.proc.pid))


async def assert_group_gone(pgid: int) -> None:
    """Every process of the group exits within GONE_S (the parse process, the bench's server)."""
    with contextlib.suppress(TimeoutError):
        await poll(lambda: not group_processes(pgid), GONE_S)
    assert group_processes(pgid) == []


def assert_no_crash(err: str) -> None:
    for crash in ("Traceback", "BrokenProcessPool", "Exception in thread", "KeyboardInterrupt"):
        assert crash not in err, err


def assert_one_error_line(err: str) -> str:
    """Exactly one ``error:`` line on stderr, and it is the last; returns it."""
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert errors == lines[-1:], err
    return errors[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"]
)
async def test_signal_to_the_process_group_stops_the_crawl_gracefully(
    site: TestServer, gen: str, tmp_path: Path, sig: signal.Signals, exit_code: int
):
    """A terminal's Ctrl-C (or SIGTERM) to the crawl's whole process group stops it as one to the
    crawler does: exit 130 (143), the resume hint, no traceback, no process left; resume ends it."""
    db = tmp_path / "crawl.db"
    async with scraper(tmp_path, "crawl", gen, "--db", str(db), *FAST) as child:
        await wait_for_requests(site, child, 300)
        assert parse_process_started(child)
        os.killpg(child.proc.pid, sig)
        code, _, err = await child.finish()
    assert code == exit_code, err
    assert_no_crash(err)
    assert f"interrupted by {sig.name}; to continue, run: scraper resume --db {db}" in err
    await assert_group_gone(child.proc.pid)
    assert 0 < assert_consistent(db).get("done", 0) < 1000

    code, _, err = await run(tmp_path, "resume", "--db", str(db))
    assert code == 0, err
    assert_gen_site_stored(db, site, 1000)


@pytest.mark.slow
async def test_sigint_to_the_process_group_during_reparse_exits_130_cleanly(
    site: TestServer, tmp_path: Path
):
    """Ctrl-C to `reparse`'s process group once its parse process is starting: exit 130 with one
    `error:` line (or done, exit 0), no traceback, no process left, the database intact."""
    site.app[CONFIG].gen_pages = 1000
    db = tmp_path / "crawl.db"
    seed = str(site.make_url("/gen/0"))
    code, _, err = await run(tmp_path, "crawl", seed, "--db", str(db), "--store-html", *FAST)
    assert code == 0, err
    async with scraper(tmp_path, "reparse", "--db", str(db)) as child:
        await poll(lambda: parse_process_started(child) or not child.running, 20)
        assert child.running, child.diagnostics()
        os.killpg(child.proc.pid, signal.SIGINT)
        code, out, err = await child.finish()
    assert_no_crash(err)
    if code == 0:  # it finished before the signal arrived
        assert out.startswith("reparsed 1000 pages"), out
    else:
        assert code == 130, err
        assert assert_one_error_line(err).startswith("error: reparse: interrupted by SIGINT;")
    await assert_group_gone(child.proc.pid)
    assert assert_consistent(db) == {"done": 1000}


@pytest.mark.slow
async def test_sigint_to_the_process_group_during_bench_exits_130_cleanly(tmp_path: Path):
    """Ctrl-C to `scraper bench`'s process group during its crawl: exit 130 with one `error:`
    line last, no traceback, and no process (parse process, server) left behind."""
    async with scraper(tmp_path, "bench", "--pages", "2000") as child:
        await poll(lambda: "crawl ..." in child.err_path.read_text() or not child.running, 45)
        await poll(lambda: parse_process_started(child) or not child.running, 10)
        assert child.running, child.diagnostics()
        os.killpg(child.proc.pid, signal.SIGINT)
        code, _, err = await child.finish()
    assert code == 130, err
    assert_no_crash(err)
    assert "interrupted by SIGINT" in assert_one_error_line(err)
    await assert_group_gone(child.proc.pid)


@pytest.mark.slow
async def test_a_fetch_still_running_after_the_grace_period_is_dropped(
    site: TestServer, tmp_path: Path
):
    """SIGINT while a page takes 60 s to answer: the crawl waits out its 5 s grace period, drops
    that fetch and exits 130; the URL is pending again, and nothing was stored for it."""
    db = tmp_path / "crawl.db"
    seed = str(site.make_url("/slow/60000"))
    async with scraper(
        tmp_path, "crawl", seed, "--db", str(db), "--timeout", "120", *FAST
    ) as child:
        await wait_for_requests(site, child, 1)
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        os.killpg(child.proc.pid, signal.SIGINT)
        code, _, err = await child.finish()
        took_s = loop.time() - sent_at
    assert code == 130, err
    assert_no_crash(err)
    assert 4.5 <= took_s < 15, err  # the 5 s grace, not the page's 60 s
    assert assert_consistent(db) == {"pending": 1}
