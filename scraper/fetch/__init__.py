"""Fetching over HTTP: the only user of aiohttp's client and of tenacity in the product.

:class:`Fetcher` gets one URL at a time through one shared session, following redirects, capping
bodies, retrying transient failures and refusing private addresses to untrusted hosts; every
failure leaves as a :class:`scraper.errors.FetchError` with a short ``reason``. The caller's part
in each fetch (politeness slot, redirect admission, timing) is a :class:`FetchHooks`.
"""

from scraper.fetch.addresses import is_public_address
from scraper.fetch.blocks import BLOCK_REASONS, BlockReason
from scraper.fetch.client import Fetcher, FetchHooks
from scraper.fetch.cookies import SiteCookieJar, jar_cookies, restore_cookies
from scraper.fetch.proxies import ProxiesDown, ProxyHealth, ProxyReason
from scraper.fetch.transport import BrowserTransport, FetchRequest, HopResponse, Transport

__all__ = [
    "BLOCK_REASONS",
    "BlockReason",
    "BrowserTransport",
    "FetchHooks",
    "FetchRequest",
    "Fetcher",
    "HopResponse",
    "ProxiesDown",
    "ProxyHealth",
    "ProxyReason",
    "SiteCookieJar",
    "Transport",
    "is_public_address",
    "jar_cookies",
    "restore_cookies",
]
