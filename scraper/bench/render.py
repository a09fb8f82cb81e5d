"""``scraper bench --render``: a crawl that renders every page of a site built by JavaScript.

The site (written to a temporary directory, served by nginx or Python's ``http.server``) is
``--pages`` shells like the test site's ``/js/`` routes: an empty ``#root``, a
``<noscript>``, an image (refused by the browser), and the test site's ``/js/app.js``, which
``fetch()``es the page's JSON and writes its title, text and links (page n links to pages
10n+1 ... 10n+10, so the crawl has work for every tab). ``scraper crawl --render always`` runs
in a child process, politeness off; while it runs, the resident memory (PSS) of its whole
process tree (the crawler, its parse process, the browser and the browser's processes) is
sampled every 0.2 s. CPU is the tree's (``wait4``: the child and every descendant it reaped,
the browsers recycled included).
"""

import contextlib
import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scraper.bench.frontier import log_tail
from scraper.bench.site import serve
from scraper.errors import ScraperError
from scraper.render.procs import tree_rss
from scraper.testing import reap_within
from scraper.testing.jsroutes import APP_JS

FAN = 10
SAMPLE_S = 0.2
_SHELL = (
    "<!doctype html><html><head><title>App {n}</title></head><body>"
    "<noscript>You need to enable JavaScript to run this app.</noscript>"
    '<div id="root"></div><img src="/pic.png">'
    '<script src="/js/app.js?n={n}"></script></body></html>'
)


@dataclass(frozen=True, slots=True)
class RenderRun:
    pages: int
    rendered: int
    elapsed_s: float
    cpu_s: float
    peak_mb: float
    quarters_mb: tuple[float, ...]  # the tree's memory at the end of each quarter of the run
    renderer: str  # the crawl's renderer line
    server: str
    tabs: int

    @property
    def pages_per_s(self) -> float:
        return self.rendered / self.elapsed_s if self.elapsed_s else 0.0


def generate_js_site(directory: Path, pages: int) -> None:
    """``p/{n}.html`` shells, ``js/data/{n}.json`` their content, ``js/app.js`` (the test
    site's) that builds them."""
    (directory / "p").mkdir(parents=True)
    (directory / "js" / "data").mkdir(parents=True)
    (directory / "js" / "app.js").write_text(APP_JS)
    (directory / "pic.png").write_bytes(b"\0" * 64)
    for n in range(pages):
        (directory / "p" / f"{n}.html").write_text(_SHELL.format(n=n))
        links = [f"/p/{k}.html" for k in range(FAN * n + 1, min(pages, FAN * n + FAN + 1))]
        text = f"Text built by script for page {n}, with a few words more to read."
        data = {"title": f"Rendered {n}", "text": text, "links": links}
        (directory / "js" / "data" / f"{n}.json").write_text(json.dumps(data))


class _Sampler(threading.Thread):
    """Samples the memory of a process tree until stopped: (seconds since start, bytes)."""

    def __init__(self, pid: int) -> None:
        super().__init__(name="render-bench-sampler", daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.done.wait(SAMPLE_S):
            self.samples.append((time.monotonic() - started, tree_rss(self.pid)))


def _quarters(samples: list[tuple[float, int]]) -> tuple[float, ...]:
    if not samples:
        return ()
    end = samples[-1][0]
    marks = [end * q / 4 for q in (1, 2, 3, 4)]
    return tuple(max(b for t, b in samples if t <= m) / 1e6 for m in marks if samples[0][0] <= m)


def _crawl(root: str, work: Path, pages: int, tabs: int, server: str) -> RenderRun:
    db, log = work / "crawl.db", work / "crawl.log"
    config = work / "bench.toml"
    config.write_text(
        f"[crawl]\nconcurrency = {tabs * 4}\nmax_depth = 1000\nmax_pages = {pages}\n"
        f"[politeness]\nper_host = {tabs * 4}\ndelay_s = 0.0\nautothrottle = false\n"
        "robots = false\nsitemaps = false\n"
        '[fetch]\nallow_private = true\nretries = 1\nrender = "always"\n'
        f"[render]\nrender_tabs = {tabs}\n[parse]\nparse_workers = 1\n"
    )
    argv = [sys.executable, "-m", "scraper", "crawl", f"{root}p/0.html", "--db", str(db)]
    argv += ["--config", str(config)]
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    sampler = _Sampler(proc.pid)
    sampler.start()
    try:
        exited, usage = reap_within(proc, max(120.0, pages))
    finally:
        sampler.done.set()
        sampler.join()
    elapsed = time.monotonic() - started
    if not exited or proc.returncode != 0:
        raise ScraperError(f"bench --render: the crawl failed: {log_tail(log)}")
    stored, rendered = _counts(db)
    lines = [x for x in log.read_text().splitlines() if x.startswith("renderer:")]
    return RenderRun(
        pages=stored,
        rendered=rendered,
        elapsed_s=elapsed,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_mb=max((b for _, b in sampler.samples), default=0) / 1e6,
        quarters_mb=_quarters(sampler.samples),
        renderer=lines[-1] if lines else "",
        server=server,
        tabs=tabs,
    )


def _counts(db: Path) -> tuple[int, int]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        row = conn.execute("SELECT count(*), coalesce(sum(rendered), 0) FROM pages").fetchone()
    return int(row[0]), int(row[1])


def run_render_bench(pages: int, tabs: int, note: Callable[[str], None]) -> RenderRun:
    """Generate the site, serve it, crawl it rendering every page; files removed after."""
    with tempfile.TemporaryDirectory(prefix="scraper-benchrender-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx's worker may run as another user
        generate_js_site(work / "site", pages)
        note(f"scraper: {pages} pages built by JavaScript, rendered in {tabs} tabs ...")
        with serve(work / "site", work) as (root, server):
            return _crawl(root, work, pages, tabs, server)


def report_lines(run: RenderRun) -> list[str]:
    quarters = " / ".join(f"{mb:.0f}" for mb in run.quarters_mb)
    return [
        f"site: {run.pages} pages built by JavaScript ({run.server}), {run.tabs} tabs",
        f"rendered: {run.rendered} pages in {run.elapsed_s:.1f} s = {run.pages_per_s:.2f} "
        "pages/s (browser start-up included)",
        f"cpu: {run.cpu_s:.1f} s = {run.cpu_s / max(run.rendered, 1) * 1000:.0f} ms per page "
        "(crawler, parse process and browser)",
        f"memory (PSS of crawler + browser): peak {run.peak_mb:.0f} MB; at the end of each "
        f"quarter of the run: {quarters} MB{_growth(run.quarters_mb)}",
        run.renderer,
    ]


def _growth(quarters: tuple[float, ...]) -> str:
    if len(quarters) < 2 or not quarters[0]:
        return ""
    return f" ({(quarters[-1] / quarters[0] - 1) * 100:+.0f} % from the first quarter)"
