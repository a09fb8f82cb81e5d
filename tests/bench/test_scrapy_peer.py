"""The Scrapy comparison: a clear error without Scrapy, and a real Scrapy crawl of the bench site.

Scrapy is not a dependency: the crawl test runs only when ``SCRAPER_BENCH_SCRAPY`` names a Python
that can import it (e.g. ``SCRAPER_BENCH_SCRAPY=/work/scrapy-venv/bin/python``).
"""

import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import pytest

from scraper.bench.scrapy_peer import ScrapyRun, run_scrapy
from scraper.bench.site import generate_site, serve
from scraper.errors import ScraperError


def test_a_python_without_scrapy_is_a_one_line_error(tmp_path: Path):
    """run_scrapy with a Python that cannot import scrapy raises a one-line ScraperError."""
    with pytest.raises(ScraperError, match="cannot import scrapy") as info:
        run_scrapy(sys.executable, "http://127.0.0.1:9/", tmp_path, 4, 30)
    assert "\n" not in str(info.value)
    assert sys.executable in str(info.value)
    assert not (tmp_path / "items.jsonl").exists()


def test_a_missing_python_is_the_same_one_line_error(tmp_path: Path):
    """A path that is not an executable gives the same error, not an OSError."""
    with pytest.raises(ScraperError, match="cannot import scrapy"):
        run_scrapy(str(tmp_path / "no-python"), "http://127.0.0.1:9/", tmp_path, 4, 30)


@pytest.mark.slow
def test_scrapy_crawls_every_page_and_404_once_with_the_fields():
    """Scrapy stores each of the 60 pages (200) and each linked 404 once, with the same fields."""
    python = os.environ.get("SCRAPER_BENCH_SCRAPY")
    if not python:
        pytest.skip("SCRAPER_BENCH_SCRAPY does not name a Python with scrapy installed")
    # Not tmp_path: its parents are 0700, and nginx's worker may run as another user.
    with tempfile.TemporaryDirectory(prefix="scraper-benchscrapy-") as tmp:
        top = Path(tmp)
        top.chmod(0o755)
        site = generate_site(top / "site", 60)
        work = top / "scrapy"
        work.mkdir()
        with serve(site.directory, top) as (root, _server):
            run = run_scrapy(python, root, work, 8, 50)
        lines = (work / "items.jsonl").read_text().splitlines()
        closed = json.loads((work / "stats.json").read_text())
    assert isinstance(run, ScrapyRun)
    assert (run.items, run.ok_200, run.not_found) == (60 + len(site.missing), 60, len(site.missing))
    assert (run.errors, run.finish_reason) == (0, "finished")
    assert 0 < run.crawl_s < run.elapsed_s < 50
    assert run.pages_per_s == run.items / run.crawl_s
    assert run.cpu_s > 0
    assert 20 < run.peak_rss_mb < 1000
    assert run.peak_rss_mb == closed["peak_rss_kb"] / 1024  # Scrapy's own, not wait4's
    assert run.version.startswith("2.")
    items = [json.loads(line) for line in lines]
    urls = [item["url"] for item in items]
    assert sorted(urls) == sorted(root.rstrip("/") + path for path in site.paths())
    home = next(item for item in items if item["url"] == root)
    assert home["title"] == "Page 0 of the bench site"
    assert home["description"] == "Synthetic page 0."
    assert "Page 0" in home["text"]  # the h1
    assert "  " not in home["text"]
    assert "window.bench" not in home["text"]
    assert "font-family" not in home["text"]
    assert all(link.startswith("http://") for link in home["links"])
    assert any(link.startswith("http://external.invalid/") for link in home["links"])


@pytest.mark.slow
def test_a_root_that_refuses_connections_is_an_error(tmp_path: Path):
    """No response at all (connection refused, retried): a one-line error, not a zero baseline."""
    python = os.environ.get("SCRAPER_BENCH_SCRAPY")
    if not python:
        pytest.skip("SCRAPER_BENCH_SCRAPY does not name a Python with scrapy installed")
    with socket.socket() as sock:  # a port nothing listens on once this socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ScraperError, match="got no page") as info:
        run_scrapy(python, f"http://127.0.0.1:{port}/", tmp_path, 4, 50)
    assert "\n" not in str(info.value)
    stats = json.loads((tmp_path / "stats.json").read_text())["stats"]
    assert stats["retry/count"] == 2  # Scrapy's default RETRY_TIMES: retries were on


@pytest.mark.slow
def test_a_crawl_over_its_time_limit_is_killed(tmp_path: Path):
    """A limit shorter than Scrapy's start-up: the child is killed, a one-line error, promptly."""
    python = os.environ.get("SCRAPER_BENCH_SCRAPY")
    if not python:
        pytest.skip("SCRAPER_BENCH_SCRAPY does not name a Python with scrapy installed")
    started = time.perf_counter()
    with pytest.raises(ScraperError, match=r"took more than 0\.2 s \(killed\)"):
        run_scrapy(python, "http://127.0.0.1:9/", tmp_path, 4, 0.2)
    assert 0.2 < time.perf_counter() - started < 20  # includes the version check's start-up
    assert not (tmp_path / "stats.json").exists()
