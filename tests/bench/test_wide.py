"""`scraper bench --hosts`: the access-log analysis on hand-written logs, and real polite crawls of
a few local hosts (nginx, or the fallback server) by scraper and, when available, Scrapy."""

import os
import re
from pathlib import Path

import pytest

from scraper.bench.access_log import Request, analyze, most_in_flight, parse_line, read_access_log
from scraper.bench.wide import WideSpec, generate_wide_site, report_lines, run_wide_bench
from scraper.errors import ScraperError, UsageError
from scraper.parse.html import parse_html
from tests.conftest import path_without_nginx, run_cli

LOG = """\
a.bench.test 1000.100 0.100 200
a.bench.test 1001.105 0.100 200
a.bench.test 1001.700 0.050 200
b.bench.test 1000.500 0.500 200
b.bench.test 1000.900 0.600 404
"""


def test_a_log_line_is_read_in_whole_milliseconds():
    """End and duration are exact milliseconds: the start is their difference, with no float."""
    request = parse_line("h00001.bench.test 1733456789.123 0.002 200\n")
    assert request == Request("h00001.bench.test", 1733456789121, 1733456789123, 200)
    assert parse_line("h 17.5 0.25 404").start_ms == 17_250


def test_gaps_short_gaps_and_overlaps_of_a_hand_written_log(tmp_path: Path):
    """Per host, the gaps between request starts are found, the short ones counted, and two
    overlapping requests to one host seen as two in flight."""
    (tmp_path / "access.log").write_text(LOG)
    view = analyze(read_access_log(tmp_path / "access.log"), 1.0)
    # a starts at 1000.000, 1001.005, 1001.650; b at 1000.000 and 1000.300 (still in flight)
    assert (view.requests, view.hosts, view.ok) == (5, 2, 4)
    assert (view.fewest_per_host, view.most_per_host) == (2, 3)
    assert view.gaps == 3
    assert view.shortest_gap_s == 0.3
    assert view.median_gap_s == 0.645
    assert view.p99_gap_s == 1.005
    assert view.short_gaps == 2  # 0.300 and 0.645 s, below 1 s - 10 ms
    assert view.max_in_flight == 2
    assert view.span_s == 1.7


def test_a_gap_of_the_delay_less_10_ms_is_not_short():
    """The tolerance is 10 ms: a gap of 990 ms under a 1 s delay passes, one of 989 ms does not;
    a request starting in the millisecond another ended does not overlap it."""
    requests = [
        Request("h", 0, 990, 200),
        Request("h", 990, 1000, 200),
        Request("h", 1979, 1980, 200),
    ]
    view = analyze(requests, 1.0)
    assert view.gaps == 2
    assert view.short_gaps == 1
    assert view.shortest_gap_s == 0.989
    assert view.max_in_flight == 1
    assert most_in_flight([Request("h", 5, 5, 200), Request("h", 0, 10, 200)]) == 2


def test_an_empty_log_has_no_gaps_and_a_malformed_line_is_an_error(tmp_path: Path):
    """No request: no gaps and nothing in flight; a line that is not a log line names its number."""
    view = analyze([], 1.0)
    assert (view.requests, view.gaps, view.shortest_gap_s, view.max_in_flight) == (0, 0, None, 0)
    (tmp_path / "access.log").write_text(LOG + "garbage\n")
    with pytest.raises(ScraperError, match=r"access\.log:6: not an access-log line"):
        read_access_log(tmp_path / "access.log")


def test_every_page_of_a_host_is_reached_from_its_seed(tmp_path: Path):
    """The seed links to every other page, and pages are about 9 KB of HTML."""
    average = generate_wide_site(tmp_path, 6)
    home = parse_html((tmp_path / "index.html").read_bytes(), "http://h.bench.test/", "utf-8")
    assert {f"http://h.bench.test/p/{i}.html" for i in range(1, 6)} <= set(home.links)
    assert 7_000 < average < 11_000


def test_impossible_sizes_are_usage_errors():
    """No hosts, or no pages, is refused before anything runs."""
    with pytest.raises(UsageError, match="hosts"):
        run_wide_bench(WideSpec(0, 4, 0.2, 8), lambda _: None)
    with pytest.raises(UsageError, match="pages"):
        run_wide_bench(WideSpec(3, 0, 0.2, 8), lambda _: None)


def check_polite_run(report, hosts: int, pages: int, delay_s: float) -> None:
    run = report.scraper
    assert (run.pages, run.failed) == (hosts * pages, 0)
    view = run.site
    assert (view.requests, view.hosts, view.ok) == (hosts * pages, hosts, hosts * pages)
    assert view.fewest_per_host == view.most_per_host == pages
    assert view.short_gaps == 0
    assert view.shortest_gap_s is not None
    assert delay_s - 0.010 <= view.shortest_gap_s < delay_s + 2
    assert view.max_in_flight == 1
    assert report.spec.floor_s <= run.wall_s < report.spec.limit_s
    assert run.cpu_s > 0
    assert 20 < run.peak_rss_mb < 1000


@pytest.mark.slow
@pytest.mark.parametrize("server", ["default", "no-nginx"])
def test_scraper_crawls_every_host_and_keeps_the_delay(server: str, monkeypatch):
    """5 hosts x 4 pages at 0.2 s: all 20 pages stored, no gap below 190 ms, one in flight."""
    if server == "no-nginx":
        monkeypatch.setenv("PATH", path_without_nginx())
    notes: list[str] = []
    report = run_wide_bench(WideSpec(5, 4, 0.2, 8), notes.append)
    check_polite_run(report, 5, 4, 0.2)
    assert report.scrapy is None
    assert (report.server == "nginx") == (server == "default")
    lines = report_lines(report)
    assert lines[3].startswith("scraper: wall ")
    assert "20 requests (20 status 200) to 5 hosts (4-4 each)" in lines[4]
    assert "0 below 0.190 s; at most 1 in flight to one host" in lines[4]


@pytest.mark.slow
async def test_the_bench_command_prints_the_floor_and_the_sites_view():
    """`scraper bench --hosts 3 --pages-per-host 3 --delay 0.2` exits 0 with both reports."""
    argv = ["--hosts", "3", "--pages-per-host", "3", "--delay", "0.2", "--concurrency", "4"]
    code, out, err = await run_cli("bench", *argv)
    assert code == 0, err
    assert re.search(
        r"^politeness: delay 0\.2 s, 1 per host, concurrency 4;.* = 0\.40 s$", out, re.M
    )
    assert re.search(
        r"^scraper: wall \d+\.\d\d s, \d+\.\d\d x the floor; 9 pages \(0 failed\),"
        r" \d+\.\d pages/s; CPU \d+\.\d\d s/1000 pages; peak RSS \d+ MB$",
        out,
        re.M,
    ), out
    assert re.search(r"^scraper as the site saw it: 9 requests .* 0 below 0\.190 s", out, re.M), out


@pytest.mark.slow
def test_scrapy_crawls_every_host_with_the_same_politeness():
    """Scrapy, pinned to the local server by its resolver, stores all 20 pages, one request at a
    time per host, about 0.2 s apart (Scrapy times its delay before connecting, so a gap can be
    a few milliseconds short: not asserted)."""
    python = os.environ.get("SCRAPER_BENCH_SCRAPY")
    if not python:
        pytest.skip("SCRAPER_BENCH_SCRAPY does not name a Python with scrapy installed")
    report = run_wide_bench(WideSpec(5, 4, 0.2, 8), lambda _: None, scrapy_python=python)
    assert report.scrapy is not None
    run = report.scrapy
    assert run.crawler.startswith("scrapy 2.")
    assert (run.pages, run.failed) == (20, 0)
    view = run.site
    assert (view.requests, view.hosts, view.ok) == (20, 5, 20)
    assert view.shortest_gap_s is not None
    assert view.shortest_gap_s > 0.1
    assert view.max_in_flight == 1
    assert report.spec.floor_s <= run.wall_s < report.spec.limit_s
