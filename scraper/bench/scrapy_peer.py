"""Scrapy on the bench's site: the same crawl and the same fields, for a pages/s comparison.

Scrapy is never imported here. It runs in another interpreter (its own venv, e.g.
``python3 -m venv /work/scrapy-venv && /work/scrapy-venv/bin/pip install 'scrapy==2.19.*'``) as
``python -m scrapy runspider spider.py``, with :data:`SPIDER_SOURCE` written to a work directory.
The spider extracts what :func:`scraper.parse.html.parse_html` does (title, meta description,
visible body text, absolute ``a``/``area`` links) from every 200 and 404 response, follows
every in-site link, and writes one JSON line per response. Settings are the ones issue 7 names
as "tuned": concurrency 64 per crawl and per domain (the argument), no robots.txt, no
autothrottle, no delay, no cookies, retries on (Scrapy's default), default dupefilter, asyncio
reactor, JSONL feed.

The rate is ``items / crawl_s``: from the spider opening to its closing, as Scrapy's own stats
measure it, so interpreter start-up and imports are not counted (the bench's own crawl phase does
not count them either). ``elapsed_s`` is the child's whole wall time. CPU and peak RSS are the
child's own: CPU from ``wait4`` (Scrapy starts no processes of its own), peak RSS the spider's
``VmHWM`` at close (``wait4``'s ``ru_maxrss`` would be this process's whenever that is higher:
see :func:`scraper.testing.peak_rss_prelude`). Linux only (``pidfd_open``).
"""

import json
import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from scraper.errors import ScraperError
from scraper.testing import reap_within

VERSION_S = 60.0  # the import check: far above Scrapy's start-up time
ITEMS_FILE = "items.jsonl"
STATS_FILE = "stats.json"
LOG_FILE = "scrapy.log"
SPIDER_FILE = "spider.py"
# Scrapy's counts of what went wrong: ERROR log lines, responses neither 200 nor 404 (dropped).
ERROR_STATS = ("log_count/ERROR", "httperror/response_ignored_count")
INSTALL_HINT = (
    "install it in its own venv: python3 -m venv /work/scrapy-venv &&"
    " /work/scrapy-venv/bin/pip install 'scrapy==2.19.*'"
)

SPIDER_SOURCE = '''\
"""The bench spider: every in-site page from -a root=URL (or every URL of -a seeds_file=FILE),
the fields scraper.parse.html extracts, links followed within -a domains=A,B (default 127.0.0.1).

PinnedResolver (TWISTED_DNS_RESOLVER=spider.PinnedResolver) answers 127.0.0.1 for every name
under .bench.test, like the crawler's `resolve` setting; other names go to Scrapy's resolver.
"""

import json
import re
from datetime import datetime

import scrapy
from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer

TEXT = (
    "//body//text()[not(ancestor::script) and not(ancestor::style)"
    " and not(ancestor::noscript) and not(ancestor::template)]"
)


def collapse(text):
    return " ".join(text.split())


class PinnedResolver(CachingThreadedResolver):
    def getHostByName(self, name, timeout=()):
        if name.endswith(".bench.test"):
            return defer.succeed("127.0.0.1")
        return super().getHostByName(name, timeout)


class BenchSpider(scrapy.Spider):
    name = "bench"
    handle_httpstatus_list = [404]  # 404s are responses (the crawler stores them too)
    custom_settings = {
        "ROBOTSTXT_OBEY": False,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "CONCURRENT_REQUESTS_PER_IP": 0,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "RETRY_ENABLED": True,
        "DEPTH_LIMIT": 0,
        "LOG_LEVEL": "WARNING",
    }

    def __init__(self, root, stats_file, seeds_file="", domains="127.0.0.1", *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.roots = [root]
        if seeds_file:
            with open(seeds_file) as seeds:
                self.roots = seeds.read().split()
        self.allowed_domains = domains.split(",")  # external.invalid is dropped as offsite
        self.stats_file = stats_file

    async def start(self):  # Scrapy >= 2.13
        for request in self.start_requests():
            yield request

    def start_requests(self):  # not start_urls: their requests skip the dupefilter, so the
        for root in self.roots:  # roots would be fetched twice
            yield scrapy.Request(root, callback=self.parse)

    def parse(self, response):
        hrefs = response.xpath("//a/@href | //area/@href").getall()
        links = [response.urljoin(href.strip()) for href in hrefs]
        yield {
            "url": response.url,
            "status": response.status,
            "title": collapse(" ".join(response.xpath("//title//text()").getall())),
            "description": response.xpath("//meta[@name='description']/@content").get(),
            "text": collapse(" ".join(response.xpath(TEXT).getall())),
            "links": links,
        }
        for link in links:
            if link.startswith(("http://", "https://")):
                yield scrapy.Request(link, callback=self.parse)

    def closed(self, reason):
        stats = self.crawler.stats.get_stats()
        start = stats["start_time"]
        crawl_s = (datetime.now(start.tzinfo) - start).total_seconds()
        with open("/proc/self/status") as status:  # this process's own peak (see the bench)
            peak_rss_kb = int(re.search(r"VmHWM:\\s+(\\d+)", status.read()).group(1))
        closed = {"reason": reason, "crawl_s": crawl_s, "peak_rss_kb": peak_rss_kb}
        with open(self.stats_file, "w") as out:
            json.dump({**closed, "stats": stats}, out, default=str)
'''


@dataclass(frozen=True, slots=True)
class ScrapyRun:
    """One Scrapy crawl: items by status, times, the child's CPU and peak RSS, its own counts."""

    items: int  # JSON lines written: one per response handled (200 and 404)
    ok_200: int
    not_found: int
    elapsed_s: float  # the child's wall time, interpreter start-up included
    crawl_s: float  # spider opened to spider closed, as Scrapy's stats time it
    cpu_s: float  # user + system, the child only
    peak_rss_mb: float
    errors: int  # log_count/ERROR (failures after retries, callback errors) + other statuses
    retries: int  # Scrapy's retry/count
    finish_reason: str  # "finished" unless something stopped the crawl
    version: str  # scrapy.__version__ in the child's interpreter

    @property
    def pages_per_s(self) -> float:
        """Items per second of Scrapy's own crawl time (``crawl_s``)."""
        return self.items / self.crawl_s if self.crawl_s > 0 else 0.0


def scrapy_version(python: str) -> str:
    """``scrapy.__version__`` as ``python`` imports it; ScraperError if it cannot."""
    argv = [python, "-c", "import scrapy; print(scrapy.__version__)"]
    try:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=VERSION_S
        )
    except (OSError, subprocess.TimeoutExpired):
        done = None
    if done is None or done.returncode != 0 or not done.stdout.strip():
        raise ScraperError(f"bench: {python} cannot import scrapy ({INSTALL_HINT})")
    return done.stdout.strip()


def _argv(
    python: str, concurrency: int, settings: Mapping[str, str], spider_args: Mapping[str, str]
) -> list[str]:
    sets = {
        "CONCURRENT_REQUESTS": str(concurrency),
        "CONCURRENT_REQUESTS_PER_DOMAIN": str(concurrency),
        "LOG_LEVEL": "WARNING",  # in the spider too, but only the command line covers start-up
        **settings,
    }
    return [
        *(python, "-m", "scrapy", "runspider", SPIDER_FILE),
        *(arg for key, value in spider_args.items() for arg in ("-a", f"{key}={value}")),
        *("-O", f"{ITEMS_FILE}:jsonlines"),
        *(arg for key, value in sets.items() for arg in ("-s", f"{key}={value}")),
    ]


def _count_items(path: Path) -> tuple[int, int, int]:
    """(lines, status 200, status 404) of the JSONL feed."""
    items = ok_200 = not_found = 0
    with path.open("rb") as feed:
        for line in feed:
            status = json.loads(line)["status"]
            items += 1
            ok_200 += status == 200
            not_found += status == 404
    return items, ok_200, not_found


def _read_stats(work: Path, code: int) -> dict[str, object]:
    """What the spider wrote when it closed; ScraperError if it never closed or wrote no feed."""
    stats_path, log = work / STATS_FILE, work / LOG_FILE
    if code != 0 or not stats_path.exists() or not (work / ITEMS_FILE).exists():
        raise ScraperError(f"bench: scrapy exited with code {code} without finishing (see {log})")
    stats: dict[str, object] = json.loads(stats_path.read_text())
    return stats


def _int_stat(stats: object, key: str) -> int:
    value = stats.get(key, 0) if isinstance(stats, dict) else 0
    return value if isinstance(value, int) else 0


def run_scrapy(
    python: str,
    root: str,
    work: Path,
    concurrency: int,
    limit_s: float,
    *,
    settings: Mapping[str, str] | None = None,
    spider_args: Mapping[str, str] | None = None,
) -> ScrapyRun:
    """Crawl ``root`` with Scrapy under ``python``, in ``work`` (spider, feed, stats, log).

    ``settings`` are Scrapy settings given on its command line (they win over the spider's and
    the concurrency's); ``spider_args`` more ``-a`` arguments (``seeds_file``, ``domains``).

    Blocks until the crawl ends. Raises ScraperError (one line) if ``python`` cannot import
    scrapy, if the crawl outlives ``limit_s`` (the child is killed), if it exits without
    finishing, or if it got no 200 or 404 response at all. Files in ``work`` are overwritten;
    ``work`` must exist.
    """
    version = scrapy_version(python)
    (work / SPIDER_FILE).write_text(SPIDER_SOURCE)
    for stale in (STATS_FILE, ITEMS_FILE):  # a crash must not pass off an older run's files
        (work / stale).unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    started = time.perf_counter()
    with (work / LOG_FILE).open("wb") as log:
        proc = subprocess.Popen(
            _argv(
                python,
                concurrency,
                settings or {},
                {"root": root, "stats_file": STATS_FILE, **(spider_args or {})},
            ),
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    exited, usage = reap_within(proc, limit_s)
    cpu_s = usage.ru_utime + usage.ru_stime
    elapsed_s = time.perf_counter() - started
    if not exited:
        raise ScraperError(f"bench: scrapy took more than {limit_s:g} s (killed)")
    closed = _read_stats(work, proc.returncode)
    items, ok_200, not_found = _count_items(work / ITEMS_FILE)
    if items == 0:  # a zero baseline would make any comparison meaningless
        raise ScraperError(f"bench: scrapy got no page from {root} (see {work / LOG_FILE})")
    crawl_s = closed.get("crawl_s")
    stats = closed.get("stats")
    peak_kb = closed.get("peak_rss_kb")  # its own VmHWM: wait4's would count ours (vfork)
    rss_mb = (peak_kb if isinstance(peak_kb, int) else usage.ru_maxrss) / 1024
    return ScrapyRun(
        items=items,
        ok_200=ok_200,
        not_found=not_found,
        elapsed_s=elapsed_s,
        crawl_s=float(crawl_s) if isinstance(crawl_s, int | float) else elapsed_s,
        cpu_s=cpu_s,
        peak_rss_mb=rss_mb,
        errors=sum(_int_stat(stats, key) for key in ERROR_STATS),
        retries=_int_stat(stats, "retry/count"),
        finish_reason=str(closed.get("reason", "")),
        version=version,
    )
