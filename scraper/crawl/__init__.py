"""The engine: one crawl coroutine (``engine``) running named stages in one TaskGroup. The
scheduler (``scheduler``: claims from the store, hands URLs out per host), host slots
(``slots``: per-host concurrency, delays, throttling), link admission (``links``), the robots
gate (``robots``), the fetch and parse workers (``workers``), the parse stage turning outcomes
into records (``records``: fed by the crawl and by imports), the sink (``sink``: batches
committed through the store) and status snapshots (``status``); ``reparse`` re-runs parsing
over stored bodies, ``imports`` feeds web archives to the parse stage; ``retry`` puts
failed URLs back to pending."""

from scraper.crawl.engine import Crawl
from scraper.crawl.imports import ImportSummary, import_archives
from scraper.crawl.reparse import reparse_bodies
from scraper.crawl.report import CrawlStats, CrawlSummary
from scraper.crawl.retry import NETWORK_REASONS, retry_failed
from scraper.crawl.revisit import RevisitPlan
from scraper.crawl.status import read_status, render_text, resume_command
from scraper.crawl.workers import interrupted_by_signals

__all__ = [
    "NETWORK_REASONS",
    "Crawl",
    "CrawlStats",
    "CrawlSummary",
    "ImportSummary",
    "RevisitPlan",
    "import_archives",
    "interrupted_by_signals",
    "read_status",
    "render_text",
    "reparse_bodies",
    "resume_command",
    "retry_failed",
]
