"""Seeing inside a running crawl: status from another process, debug mode, logs, SIGUSR1."""

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from tests.conftest import run_cli, traffic

FAST = ["--delay", "0", "--retries", "0"]


async def start_crawl(*args: str, stderr_file: Path) -> asyncio.subprocess.Process:
    """A crawl in a child process, its stderr going to a file (never a full pipe)."""
    err = stderr_file.open("wb")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scraper", "crawl", *args,
            stdout=asyncio.subprocess.DEVNULL, stderr=err,
            env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
    finally:
        err.close()


async def status_json(db: Path) -> dict[str, Any]:
    code, out, err = await run_cli("status", "--db", str(db), "--json")
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


async def wait_for_status(db: Path, ready: Any, timeout_s: float = 20) -> dict[str, Any]:
    """Poll `scraper status --json` until ``ready(status)``; bounded."""
    async with asyncio.timeout(timeout_s):
        while True:
            if db.exists():  # noqa: ASYNC240 - a stat of a local file in a test
                status = await status_json(db)
                if ready(status):
                    return status
            await asyncio.sleep(0.2)


async def test_status_from_another_process_shows_in_flight_urls_and_tasks(
    site: TestServer, tmp_path: Path
):
    """While a slow crawl runs, status shows it running with in-flight URLs and named tasks;
    after kill -9 it says the crawl is not running."""
    db = tmp_path / "c.db"
    seed = str(site.make_url("/fan/12?ms=1500"))
    proc = await start_crawl(seed, "--db", str(db), "--concurrency", "4", "--per-host", "4",
                             *FAST, stderr_file=tmp_path / "err")  # fmt: skip
    try:
        status = await wait_for_status(
            db, lambda s: s["running"] and s["snapshot"] and s["snapshot"]["in_flight"]
        )
        snap = status["snapshot"]
        assert snap["state"] == "running"
        assert snap["pid"] == proc.pid
        assert all("/slow/1500" in f["url"] for f in snap["in_flight"])
        assert 1 <= len(snap["in_flight"]) <= 4
        assert all(f["attempt"] == 1 and f["age_s"] >= 0 for f in snap["in_flight"])
        names = {t["name"] for t in snap["tasks"]}
        assert {"dispatcher", "sink", "status", "fetch-worker-0", "parser-0"} <= names
        waiting = {t["name"]: t["waiting_on"] for t in snap["tasks"]}
        assert waiting["dispatcher"].startswith("Scheduler._dispatch (scheduler.py:")
        busy = [w for name, w in waiting.items() if name.startswith("fetch-worker-")]
        assert any(w.startswith("AiohttpTransport.") for w in busy)  # some are on a slow page
        code, out, _ = await run_cli("status", "--db", str(db))
        assert code == 0
        assert f"running (pid {proc.pid}), updated" in out  # the state is not said twice
        assert "in flight (age, attempt):" in out
        assert "fetch-worker-0" not in out  # tasks only with --tasks
        code, out, _ = await run_cli("status", "--db", str(db), "-v")
        assert code == 0
        assert "fetch-worker-0" in out
    finally:
        proc.kill()
        await proc.wait()
    status = await status_json(db)
    assert status["running"] is False
    code, out, _ = await run_cli("status", "--db", str(db))
    assert code == 0
    assert "not running" in out
    assert "died" in out  # the last snapshot still says running: it was killed
    assert f"run: scraper resume --db {db}" in out  # the full command, --db included


async def test_status_of_a_finished_crawl_and_of_no_crawl(site: TestServer, tmp_path: Path):
    """A finished crawl's status says so; a missing database is a one-line error, exit 2."""
    db = tmp_path / "c.db"
    code, _, err = await run_cli("crawl", str(site.make_url("/a")), "--db", str(db), *FAST)
    assert code == 0, err
    status = await status_json(db)
    assert status["running"] is False
    assert status["snapshot"]["state"] == "finished"
    code, out, _ = await run_cli("status", "--db", str(db))
    assert "not running" in out
    assert "finished" in out
    assert len(out.splitlines()) == 3  # headline, totals, last run: no hosts, in flight, tasks
    assert "next start in" not in out
    code, _, err = await run_cli("status", "--db", str(tmp_path / "none.db"))
    assert code == 2
    assert err.startswith("error: ")


async def test_status_of_a_finished_crawl_shows_its_totals_and_the_last_run(
    site: TestServer, tmp_path: Path
):
    """After two runs, status shows the crawl's totals (every run's pages, URLs by state) and,
    beside them, the last run's counters."""
    db = tmp_path / "c.db"
    url = str(site.make_url("/"))
    code, _, err = await run_cli("crawl", url, "--db", str(db), "--max-pages", "2", *FAST)
    assert code == 0, err
    code, _, err = await run_cli("resume", "--db", str(db), "--max-pages", "0", *FAST)
    assert code == 0, err
    with sqlite3.connect(db) as conn:
        (pages,) = conn.execute("SELECT count(*) FROM pages").fetchone()
        (done,) = conn.execute("SELECT count(*) FROM frontier WHERE state = 'done'").fetchone()
    code, out, err = await run_cli("status", "--db", str(db))
    assert code == 0, err
    _headline, totals, last = out.splitlines()
    assert totals.startswith(f"crawl: {pages} pages  done {done}  "), out
    assert last.startswith("last run: elapsed "), out
    assert f"  stored {pages - 2}  " in last
    status = await status_json(db)
    assert status["totals"]["pages"] == pages
    assert status["snapshot"]["counters"]["stored"] == pages - 2


async def test_debug_mode_reports_a_blocking_callback(site: TestServer, tmp_path: Path):
    """With --debug, parsing a huge page on the event loop is logged as a slow callback."""
    config = tmp_path / "inline.toml"
    config.write_text("[parse]\nparse_workers = 0\n")
    code, _, err = await run_cli(
        "crawl", str(site.make_url("/heavy")), "--db", str(tmp_path / "c.db"),
        "--config", str(config), "--max-depth", "0", "--debug", *FAST,
    )  # fmt: skip
    assert code == 0, err
    assert "Executing" in err
    assert "took" in err
    assert "seconds" in err


async def test_json_log_has_one_record_per_stored_page(site: TestServer, tmp_path: Path):
    """--log-file with --log-format json writes parseable lines, one 'page' record per page."""
    db, log = tmp_path / "c.db", tmp_path / "crawl.jsonl"
    code, _, err = await run_cli(
        "crawl", str(site.make_url("/")), "--db", str(db),
        "--log-file", str(log), "--log-format", "json", "--delay", "0", "--retries", "1",
    )  # fmt: skip
    assert code == 0, err
    records = [json.loads(line) for line in log.read_text().splitlines()]
    pages = [r for r in records if r.get("event") == "page"]
    with sqlite3.connect(db) as conn:
        stored = {url for (url,) in conn.execute("SELECT url FROM pages")}
    assert sorted(r["url"] for r in pages) == sorted(stored)
    assert all({"status", "elapsed_ms", "attempt"} <= set(r) for r in pages)
    retries = [r for r in records if r.get("event") == "retry"]
    assert [r["url"].rsplit("/", 2)[-2:] for r in retries] == [["flaky", "1"]]
    assert all("time" in r and "level" in r for r in records)


async def test_sigusr1_dumps_task_stacks_without_stopping(site: TestServer, tmp_path: Path):
    """SIGUSR1 writes every task's stack to the log and the crawl goes on to the end."""
    err_file = tmp_path / "err"
    proc = await start_crawl(str(site.make_url("/fan/6?ms=700")), "--db", str(tmp_path / "c.db"),
                             "--concurrency", "2", "--per-host", "2", *FAST,
                             stderr_file=err_file)  # fmt: skip
    try:
        async with asyncio.timeout(20):
            while sum(traffic(site).hits.values()) < 3:  # noqa: ASYNC110 - the server's counter has no event
                await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGUSR1)
        async with asyncio.timeout(30):
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    err = err_file.read_text()
    assert code == 0, err
    assert "task stacks (SIGUSR1)" in err
    assert "--- task fetch-worker-0 ---" in err
    assert "--- task dispatcher ---" in err
    assert traffic(site).hits["/slow/700?i=5"] == 1  # it went on after the dump


async def test_live_display_on_a_terminal_shows_hosts_and_errors(site: TestServer, tmp_path: Path):
    """On a terminal, the crawl shows a live display with the busiest host and the last error."""
    import pty

    master, slave = pty.openpty()
    chunks: list[bytes] = []
    loop = asyncio.get_running_loop()

    def drain() -> None:
        try:
            chunks.append(os.read(master, 65536))
        except OSError:  # the child closed its end
            loop.remove_reader(master)

    loop.add_reader(master, drain)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scraper", "crawl", str(site.make_url("/fan/8?ms=300")),
            str(site.make_url("/status/503")), "--db", str(tmp_path / "c.db"),
            "--concurrency", "2", "--per-host", "2", *FAST,
            stdout=asyncio.subprocess.PIPE, stderr=slave,
            env={**os.environ, "COLUMNS": "200", "TERM": "xterm"},
        )  # fmt: skip
        os.close(slave)
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        loop.remove_reader(master)
        os.close(master)
    shown = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "crawling" in shown
    assert f"127.0.0.1:{site.port}:" in shown
    assert "queued" in shown
    assert "! http_503:" in shown
    assert b"pages stored" in out
