"""Parsing: pure functions of picklable values, no asyncio and no storage, so they run in the
parse pool's processes. HTML (``html``), PDF (``pdf``), extraction rules (``extract``), sitemaps
(``sitemap``), robots.txt (``robots``), and the pool itself (``pool``)."""

from scraper.parse.extract import check_rules
from scraper.parse.forms import LoginForm, find_login_form, has_selector
from scraper.parse.html import parse_many, reparse_batch
from scraper.parse.needsjs import needs_render
from scraper.parse.pdf import PDF_TYPE, UNREADABLE
from scraper.parse.pool import STOP_SIGNALS, parse_pool, pool_size, stop_signals_blocked
from scraper.parse.robots import RobotsPolicy
from scraper.parse.sitemap import looks_like_sitemap, parse_sitemap

__all__ = [
    "PDF_TYPE",
    "STOP_SIGNALS",
    "UNREADABLE",
    "LoginForm",
    "RobotsPolicy",
    "check_rules",
    "find_login_form",
    "has_selector",
    "looks_like_sitemap",
    "needs_render",
    "parse_many",
    "parse_pool",
    "parse_sitemap",
    "pool_size",
    "reparse_batch",
    "stop_signals_blocked",
]
