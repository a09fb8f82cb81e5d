"""`scraper bench`: the generated site, and the command end to end on a tiny site (no timings)."""

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from scraper.bench.site import generate_site
from scraper.parse import pool_size
from scraper.parse.html import parse_html
from tests.conftest import path_without_nginx

LINK = re.compile(rb'<a [^>]*?href="([^"]*)"')


def site_files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*.html")}


def test_same_seed_writes_the_same_site(tmp_path: Path):
    """Two sites generated with one seed are byte for byte the same; another seed differs."""
    first = generate_site(tmp_path / "a", 120, seed=3)
    second = generate_site(tmp_path / "b", 120, seed=3)
    other = generate_site(tmp_path / "c", 120, seed=4)
    assert site_files(tmp_path / "a") == site_files(tmp_path / "b")
    assert site_files(tmp_path / "a") != site_files(tmp_path / "c")
    assert first.missing == second.missing
    assert first.total_bytes == second.total_bytes != other.total_bytes


def test_pages_are_10_to_40_kb_with_20_to_60_links_and_chain_from_the_root(tmp_path: Path):
    """Every page is 10-40 KB with 20-60 links, and each links to the next, so all are reachable."""
    site = generate_site(tmp_path, 300)
    files = site_files(tmp_path)
    assert len(files) == 300
    kinds = {"site": 0, "missing": 0, "external": 0}
    for i in range(300):
        data = files["index.html" if i == 0 else f"p/{i}.html"]
        assert 10_000 <= len(data) <= 40_000, i
        hrefs = [h.decode() for h in LINK.findall(data)]
        assert 20 <= len(hrefs) <= 60, i
        if i < 299:
            assert {f"/p/{i + 1}.html", f"{i + 1}.html"} & set(hrefs), i
        for href in hrefs:
            if href.startswith("http://external.invalid/"):
                kinds["external"] += 1
            elif href.startswith("/missing/"):
                kinds["missing"] += 1
                assert href in site.missing
            else:
                kinds["site"] += 1
    assert kinds["external"] > 0
    assert kinds["missing"] > 0
    assert kinds["site"] > 10 * (kinds["missing"] + kinds["external"])
    assert site.paths()[: site.pages] == ["/"] + [f"/p/{i}.html" for i in range(1, 300)]


def test_pages_are_mostly_markup_like_real_pages(tmp_path: Path):
    """About a quarter of a page's bytes is visible text (20-35% over the site), the rest markup."""
    generate_site(tmp_path, 100)
    files = site_files(tmp_path)
    text = sum(len(parse_html(data, "http://127.0.0.1/", "utf-8").text) for data in files.values())
    share = text / sum(len(data) for data in files.values())
    assert 0.20 <= share <= 0.35, share


@pytest.mark.slow
@pytest.mark.parametrize("server", ["default", "no-nginx"])
async def test_bench_command_crawls_every_page_and_prints_its_figures(server: str):
    """`scraper bench --pages 60` exits 0, crawls all 60 pages, prints rates, ratio, RSS and CPU
    (each figure of the CPU line per 1000 pages)."""
    argv = ["--pages", "60", "--concurrency", "8"]
    code, out, err = await run_bench_cli(*argv, without_nginx=server == "no-nginx")
    assert code == 0, err
    assert "Traceback" not in err
    assert re.search(
        r"^crawled: 60 pages \(status 200\), \d+ 404, 0 failed; database \d+ MB$", out, re.M
    )
    assert re.search(r"^crawl: \d+\.\d pages/s \(\d+ in ", out, re.M), out
    assert re.search(r"^raw: \d+\.\d pages/s \(\d+ in .*, 0 failed\)$", out, re.M), out
    assert re.search(r"^ratio crawl/raw: \d+\.\d\d$", out, re.M), out
    # Every figure of the CPU line per 1000 pages: the two parts add up to the total.
    cpu = re.search(
        r"^crawl CPU: (\d+\.\d\d) s/1000 pages \(crawler (\d+\.\d\d)"
        r" \+ parse process (\d+\.\d\d)\)$",
        out,
        re.M,
    )
    assert cpu, out
    total, crawler, parse_process = map(float, cpu.groups())
    assert abs(crawler + parse_process - total) <= 0.011, out
    assert re.search(r"^peak RSS: \d+ MB \(crawler\)", out, re.M), out
    assert re.search(r"^machine: \d+ CPUs, Python 3\.", out, re.M), out
    processes = pool_size(None, True)  # auto: from this machine's CPUs
    assert re.search(
        rf"^parse: {processes} processes; main content, Markdown and chunks on; metadata on$",
        out,
        re.M,
    )
    if server == "no-nginx":
        assert "server: python http.server" in out


async def test_bench_no_content_and_parse_workers_reach_the_crawl(tmp_path: Path):
    """`--no-content --no-metadata --parse-workers 2` crawls with Markdown, chunks and metadata
    off in two parse processes, and says so."""
    code, out, err = await run_bench_cli(
        "--pages", "30", "--no-content", "--no-metadata", "--parse-workers", "2"
    )
    assert code == 0, err
    assert re.search(r"^crawled: 30 pages \(status 200\)", out, re.M), out
    line = r"^parse: 2 processes; main content, Markdown and chunks off; metadata off$"
    assert re.search(line, out, re.M), out


async def test_bench_store_html_and_archive_reach_the_crawl():
    """`--store-html --archive` crawls keeping bodies and captures, and counts them."""
    code, out, err = await run_bench_cli("--pages", "30", "--store-html", "--archive")
    assert code == 0, err
    assert re.search(r"^kept: 30 raw bodies, 3[0-9] captures$", out, re.M), out


async def run_bench_cli(
    *args: str, timeout_s: float = 50, without_nginx: bool = False
) -> tuple[int, str, str]:
    """``scraper bench ARGS`` in a child (killed after ``timeout_s``); ``without_nginx``: with
    a $PATH that has no nginx, so the bench serves its site with Python's server."""
    env = {**os.environ, "SCRAPER_DEBUG": "0"}
    if without_nginx:
        env["PATH"] = path_without_nginx()
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "scraper", "bench", *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout_s)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_bench_with_a_python_without_scrapy_fails_in_one_line():
    """`--scrapy` naming an interpreter that cannot import scrapy: exit 1, one error line."""
    code, _, err = await run_bench_cli("--pages", "20", "--scrapy", sys.executable)
    assert code == 1, err
    assert "Traceback" not in err
    [line] = [x for x in err.splitlines() if x.startswith("error:")]
    assert "cannot import scrapy" in line


@pytest.mark.slow
async def test_bench_frontier_urls_compares_peak_rss_of_two_frontier_sizes():
    """`--frontier-urls` crawls the same pages twice, frontiers ending at --pages and N URLs."""
    code, out, err = await run_bench_cli("--pages", "100", "--frontier-urls", "5000")
    assert code == 0, err
    assert re.search(r"^small: frontier 100 URLs \(0 pending\), 100 pages stored", out, re.M), out
    assert re.search(r"^large: frontier 5001 URLs \(4901 pending\), 100 pages stored", out, re.M)
    assert re.search(r"^peak RSS growth: [+-]\d+\.\d MB", out, re.M), out


@pytest.mark.parametrize("server", ["nginx", "no-nginx"])
async def test_bench_recrawl_prints_each_round_against_the_first_crawl(server: str):
    """`scraper bench --recrawl --pages 60` exits 0 and prints the first crawl and its three
    recrawls: nothing changed (no version, the database about the same size), then 10 %
    of the pages changed (6 versions), with or without nginx's validators."""
    argv = ["--recrawl", "--pages", "60"]
    code, out, err = await run_bench_cli(*argv, without_nginx=server == "no-nginx")
    assert code == 0, err
    pages = re.search(r"^first crawl: (\d+) pages in [\d.]+ s, [\d.]+ pages/s", out, re.M)
    assert pages is not None, out
    for name, versions in [("(a) unchanged, 304", 0), ("(b) unchanged, 200", 0),
                           ("(c) 10% changed", 6)]:  # fmt: skip
        found = re.search(
            rf"^{re.escape(name)}: {pages[1]} pages in [\d.]+ s, [\d.]+ pages/s, [\d.]+ x the "
            rf"first crawl; {versions} versions stored, database ([+-][\d.]+) %",
            out,
            re.M,
        )
        assert found is not None, out
        if versions == 0:
            assert abs(float(found[1])) <= 3.0, out  # a 1 MB file: a few pages of slack
