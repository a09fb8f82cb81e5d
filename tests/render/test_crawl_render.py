"""Crawls with ``--render``: the CLI in a child process, a real headless Chromium, the JS routes."""

import asyncio
import itertools
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from scraper.render import find_browser
from scraper.render.browser import MARKER
from scraper.testing import make_app
from scraper.testing.traffic import CONFIG
from tests.conftest import (
    ONE_BY_ONE,
    assert_one_error_line,
    poll,
    run,
    scraper,
    stored,
    traffic,
)

pytestmark = pytest.mark.skipif(
    find_browser() is None, reason="no headless Chromium (apt-get install chromium-headless-shell)"
)


async def crawl_js(tmp_path: Path, site: Any, mode: str, *more: str) -> tuple[Path, str]:
    db = tmp_path / f"{mode}.db"
    seeds = [str(site.make_url("/js/static")), str(site.make_url("/js/0"))]
    code, out, err = await run(
        tmp_path, "crawl", *seeds, "--db", str(db), "--render", mode, "--max-depth", "1",
        *ONE_BY_ONE, *more,
    )  # fmt: skip
    assert code == 0, err
    return db, out


async def test_auto_renders_only_the_pages_scripts_build(tmp_path: Path, site: Any):
    """--render auto stores the JS pages' real text and links (rendered = 1), the static page
    as fetched (rendered = 0), and renders the host's next page without an HTTP fetch first."""
    db, out = await crawl_js(tmp_path, site, "auto")
    pages = stored(db)
    assert pages["js/static"][0] == 0
    assert "plenty of text" in pages["js/static"][1]
    assert pages["js/0"][0] == 1
    assert "Text built by script for page 0" in pages["js/0"][1]
    assert "/js/1" in pages["js/0"][2]
    assert pages["js/1"][:2] == (1, "Rendered 1 Text built by script for page 1. /js/2 /js/static")
    hits = traffic(site).hits
    assert (hits["/js/0"], hits["/js/1"]) == (2, 1)  # over HTTP then rendered; then at once
    assert "renderer: 4 tabs, 2 pages rendered" in out


async def test_never_stores_the_shells(tmp_path: Path, site: Any):
    """--render never (the default) stores the JS page as its empty shell, with no links."""
    db, out = await crawl_js(tmp_path, site, "never")
    pages = stored(db)
    assert set(pages) == {"js/static", "js/0"}
    assert pages["js/0"][0] == 0
    assert "Text built by script" not in pages["js/0"][1]
    assert "renderer" not in out


async def test_always_renders_every_page(tmp_path: Path, site: Any):
    """--render always renders the static page too, fetching each page once, and ``status``
    shows the renderer's line."""
    db, _out = await crawl_js(tmp_path, site, "always")
    pages = stored(db)
    assert {path: page[0] for path, page in pages.items()} == {
        "js/static": 1, "js/0": 1, "js/1": 1
    }  # fmt: skip
    assert "plenty of text" in pages["js/static"][1]
    assert traffic(site).hits["/js/0"] == 1
    code, out, err = await run(tmp_path, "status", "--db", str(db))
    assert code == 0, err
    assert "renderer: 4 tabs, 3 pages rendered" in out


async def test_rendered_pages_keep_the_hosts_delay(tmp_path: Path, site: Any):
    """Four seeds of one host and the pages they link to, rendered in two tabs by four workers
    (the first ones while the browser starts): no two page requests reach the server closer
    than the host's delay (less 10 ms)."""
    db = tmp_path / "polite.db"
    seeds = [str(site.make_url(f"/fan/2?s={n}")) for n in range(4)]
    code, _out, err = await run(
        tmp_path, "crawl", *seeds, "--db", str(db), "--render", "always",
        "--concurrency", "4", "--per-host", "4", "--delay", "0.3", "--max-depth", "1",
        "--retries", "0",
    )  # fmt: skip
    assert code == 0, err
    starts = sorted(t for t, path in traffic(site).starts if path.startswith(("/fan/", "/slow/")))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 6  # the four seeds, /slow/50?i=0 and ?i=1
    assert min(gaps) >= 0.29, gaps


def _descendants(pid: int) -> set[int]:
    """Processes under ``pid`` (its children, theirs...)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        kids = {p for p, parent in parents.items() if parent == current}
        found |= kids
        todo.extend(kids)
    return found


def _ours(pids: set[int]) -> set[int]:
    """The browser processes (with our marker) among ``pids`` still alive."""
    alive = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if MARKER.encode() in fh.read().split(b"\0"):
                    alive.add(pid)
        except OSError:
            continue
    return alive


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
async def test_no_browser_is_left_after_the_crawler_ends(tmp_path: Path, site: Any, sig: int):
    """kill -9, SIGTERM or Ctrl-C of a crawl that is rendering leaves no browser process."""
    db = tmp_path / "stop.db"
    async with scraper(
        tmp_path, "crawl", str(site.make_url("/js/0")), "--db", str(db), "--render", "always",
        "--max-depth", "1000", "--delay", "0",
    ) as child:  # fmt: skip
        browsers: set[int] = set()

        def rendering() -> bool:
            browsers.update(_ours(_descendants(child.proc.pid)))
            return len(browsers) > 0 and traffic(site).hits["/js/1"] > 0

        await poll(rendering, 20)
        os.kill(child.proc.pid, sig)
        if sig != signal.SIGKILL:
            code, _out, err = await child.finish()
            assert code in (130, 143), err
        else:
            await asyncio.wait_for(child.proc.wait(), 10)
        await poll(lambda: not _ours(browsers), 10)


async def test_the_sites_headers_and_cookies_go_to_the_browser(tmp_path: Path, site: Any):
    """A site table's headers and User-Agent, and the cookies of --cookies, are on the
    browser's requests: the page's own and its scripts' ``fetch()``."""
    config, jar = tmp_path / "site.toml", tmp_path / "cookies.txt"
    config.write_text(
        '[site."127.0.0.1"]\nrender = "always"\nuser_agent = "jsbot/1"\n'
        'headers = { "X-Token" = "abc" }\n'
    )
    jar.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\ttoken\tt1\n")
    code, _out, err = await run(
        tmp_path, "crawl", str(site.make_url("/js/0")), "--db", str(tmp_path / "h.db"),
        "--config", str(config), "--cookies", str(jar), "--max-depth", "0", *ONE_BY_ONE,
    )  # fmt: skip
    assert code == 0, err
    seen = traffic(site).headers
    for path in ("/js/0", "/js/data/0.json"):
        assert seen[path].get("X-Token") == "abc", path
        assert seen[path].get("User-Agent") == "jsbot/1", path
        assert seen[path].get("Cookie") == "token=t1", path


@pytest.mark.parametrize(("robots", "fetched"), [("Disallow: /js/", 0), ("Allow: /", 1)])
async def test_robots_of_another_host_holds_in_the_browser(
    tmp_path: Path, site: Any, aiohttp_server: Any, robots: str, fetched: int
):
    """A page's script on an out-of-scope host is refused inside the browser where that host's
    robots.txt disallows it, and loaded where it allows it."""
    other = await aiohttp_server(make_app())
    other.app[CONFIG].robots_status = 200
    other.app[CONFIG].robots_body = f"User-agent: *\n{robots}\n"
    page = site.make_url(f"/js/0?sub=127.0.0.1:{other.port}")
    code, _out, err = await run(
        tmp_path, "crawl", str(page), "--db", str(tmp_path / "r.db"), "--render", "always",
        "--max-depth", "0", *ONE_BY_ONE,
    )  # fmt: skip
    assert code == 0, err
    assert traffic(other).hits["/robots.txt"] == 1
    assert traffic(other).hits["/js/private.js"] == fetched


@pytest.mark.parametrize(("per_host", "most"), [(1, 2), (8, 5)])
async def test_sub_requests_to_the_host_respect_per_host(
    tmp_path: Path, site: Any, per_host: int, most: int
):
    """A rendered page's scripts from its own host load at most --per-host at a time (its own
    request apart): 1 each with --per-host 1, all 4 together with 8."""
    code, _out, err = await run(
        tmp_path, "crawl", str(site.make_url("/js/many/4")), "--db", str(tmp_path / "m.db"),
        "--render", "always", "--max-depth", "0", "--per-host", str(per_host), "--delay", "0",
    )  # fmt: skip
    assert code == 0, err
    seen = traffic(site)
    assert sum(n for path, n in seen.hits.items() if path.startswith("/slow/300")) == 4
    assert seen.peak_in_flight <= most
    assert seen.peak_in_flight >= (4 if per_host > 1 else 1)


async def test_render_without_a_browser_is_one_error_line(tmp_path: Path, site: Any):
    """--render with no headless Chromium to be found: exit 1 and one line saying what to
    install, before any page is fetched."""
    env = {**os.environ, "SCRAPER_BROWSER": "no-such-browser", "SCRAPER_DEBUG": "0"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scraper", "crawl", str(site.make_url("/js/0")),
        "--db", str(tmp_path / "n.db"), "--render", "auto",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert_one_error_line(err.decode(), "chromium-headless-shell")
    assert traffic(site).hits["/js/0"] == 0
