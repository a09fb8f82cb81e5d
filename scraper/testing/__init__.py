"""The local test site and the process helpers that the tests and the bench share.

Like ``trio.testing``, part of the package but not of the product: nothing the product runs
imports it. :func:`make_app` builds the aiohttp site (:mod:`scraper.testing.site`, its hostile
routes in :mod:`scraper.testing.hostile`), whose app keeps a :class:`Traffic` log under
``TRAFFIC`` and a :class:`SiteConfig` under ``CONFIG``; ``python -m scraper.testing`` serves it.
:mod:`scraper.testing.processes` stops and reaps child processes and reads their peak RSS;
:class:`PostgresServer` is a private PostgreSQL server.
"""

from scraper.testing.hostile import ENCODED_TITLE, UNDECLARED_TEXT, brotli_bomb
from scraper.testing.login import MEMBERS, PASSWORD, USER, Members
from scraper.testing.postgres import PostgresServer
from scraper.testing.processes import (
    STOP_S,
    cli_peak_rss_code,
    peak_rss_prelude,
    read_peak_rss_kb,
    reap_within,
    stop_process,
)
from scraper.testing.site import gen_links, listen, make_app, serve, wide_links
from scraper.testing.traffic import CONFIG, FLAKY, TRAFFIC, SiteConfig, Traffic

__all__ = [
    "CONFIG",
    "ENCODED_TITLE",
    "FLAKY",
    "MEMBERS",
    "PASSWORD",
    "STOP_S",
    "TRAFFIC",
    "UNDECLARED_TEXT",
    "USER",
    "Members",
    "PostgresServer",
    "SiteConfig",
    "Traffic",
    "brotli_bomb",
    "cli_peak_rss_code",
    "gen_links",
    "listen",
    "make_app",
    "peak_rss_prelude",
    "read_peak_rss_kb",
    "reap_within",
    "serve",
    "stop_process",
    "wide_links",
]
