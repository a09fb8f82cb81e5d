"""The robots.txt gate: may this URL be fetched now? (RFC 9309, through :class:`RobotsPolicy`).

robots.txt is fetched once per origin (scheme, host, port) and cached for the crawl; concurrent
workers asking about a new origin wait for the one fetch. The fetch goes through the host's slot
like any request. Its outcome:

- 2xx: the rules apply; ``Crawl-delay`` raises the host's delay; ``Sitemap:`` lines are handed to
  ``on_sitemaps``.
- 4xx (and a redirect that never settles): everything is allowed.
- 5xx, 429, a timeout or a broken connection: the host is disallowed *for now*: URLs are put
  back and the host deferred for ``retry_s`` (doubling each round); after ``max_rounds`` rounds
  its URLs are blocked with reason ``robots_unreachable``.
- No connection at all (``dns_error``, ``connect_error``, ``tls_error``): the page could not be
  fetched either, so its URLs fail with that reason without a request.
"""

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from scraper.crawl.slots import HostSlots
from scraper.errors import PermanentFetchError, TransientFetchError
from scraper.fetch import Fetcher, FetchHooks
from scraper.models import FrontierState
from scraper.parse import RobotsPolicy
from scraper.sites import HostSettings

log = logging.getLogger(__name__)

_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Decision:
    """``allowed``; else ``retry_in_s`` to try it later, or record it with ``state``/``reason``."""

    allowed: bool
    reason: str = ""
    state: FrontierState = FrontierState.BLOCKED
    retry_in_s: float | None = None


ALLOW = Decision(True)
# Failures that mean the host cannot be reached at all, not that it is struggling.
_NO_CONNECTION = frozenset({"dns_error", "connect_error", "tls_error"})


@dataclass(slots=True)
class _Origin:
    policy: RobotsPolicy
    failures: int = 0
    retry_at: float = 0.0
    dead_reason: str | None = None  # set when no connection could be made at all


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a normalized URL."""
    return url[: url.index("/", url.index("//") + 2)]


class RobotsGate:
    """Answers, per URL, whether robots.txt lets the crawl fetch it."""

    def __init__(
        self,
        fetcher: Fetcher,
        slots: HostSlots,
        *,
        for_host: Callable[[str], HostSettings],
        on_sitemaps: Callable[[tuple[str, ...]], Awaitable[None]],
        retry_s: float = 30.0,
        max_rounds: int = 3,
    ) -> None:
        self._fetcher = fetcher
        self._slots = slots
        self._for_host = for_host
        self._on_sitemaps = on_sitemaps
        self._retry_s = retry_s
        self._max_rounds = max_rounds
        self._origins: OrderedDict[str, _Origin] = OrderedDict()
        self._loading: dict[str, asyncio.Future[_Origin]] = {}
        self.fetched = 0
        self.blocked = 0

    async def check(self, url: str, host: str, hooks: FetchHooks) -> Decision:
        """Decide for one URL of ``host``; may fetch that origin's robots.txt first."""
        if not self._for_host(host).respect_robots:
            return ALLOW
        origin = await self._origin(origin_of(url), host, hooks)
        if origin.dead_reason is not None:
            return Decision(False, origin.dead_reason, FrontierState.FAILED)
        if origin.policy.unreachable:
            if origin.failures >= self._max_rounds:
                self.blocked += 1
                return Decision(False, "robots_unreachable")
            return Decision(False, retry_in_s=max(0.0, origin.retry_at - time.monotonic()))
        if not origin.policy.allows(url):
            self.blocked += 1
            return Decision(False, "robots")
        return ALLOW

    async def _origin(self, key: str, host: str, hooks: FetchHooks) -> _Origin:
        known = self._origins.get(key)
        if known is not None:
            self._origins.move_to_end(key)
            stale = known.policy.unreachable and time.monotonic() >= known.retry_at
            if not stale or known.failures >= self._max_rounds or known.dead_reason:
                return known
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Origin] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            origin = await self._load(key, host, hooks, known)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it twice
            raise
        finally:
            del self._loading[key]
        future.set_result(origin)
        self._origins[key] = origin
        if len(self._origins) > _CACHE_SIZE:
            self._origins.popitem(last=False)
        return origin

    async def _load(self, key: str, host: str, hooks: FetchHooks, known: _Origin | None) -> _Origin:
        try:
            agent = self._for_host(host).user_agent
            policy = await self._fetch_policy(key + "/robots.txt", agent, hooks)
        except TransientFetchError as exc:  # no connection at all
            return _Origin(RobotsPolicy.allow_all(), dead_reason=exc.reason)
        self.fetched += 1
        if policy.unreachable:
            failures = (known.failures if known else 0) + 1
            wait_s = self._retry_s * 2 ** (failures - 1)
            log.warning(
                "robots.txt of %s unreachable (round %d); retrying in %.1fs", key, failures, wait_s
            )
            self._slots.defer(host, wait_s)
            return _Origin(policy, failures, time.monotonic() + wait_s)
        if policy.crawl_delay_s:
            self._slots.set_crawl_delay(host, policy.crawl_delay_s)
        if policy.sitemaps:
            await self._on_sitemaps(policy.sitemaps)
        return _Origin(policy)

    async def _fetch_policy(self, robots_url: str, agent: str, hooks: FetchHooks) -> RobotsPolicy:
        """robots.txt's rules for the product token of ``agent``, the host's User-Agent."""

        async def follow(target: str) -> bool:
            return True  # RFC 9309 2.3.1.2: follow at least five redirects, to any host

        robots_hooks = FetchHooks(hooks.before_attempt, follow, hooks.on_response, hooks.on_sent)
        try:
            result = await self._fetcher.fetch(robots_url, robots_hooks)
        except TransientFetchError as exc:
            if exc.reason in _NO_CONNECTION:
                raise
            return RobotsPolicy.from_response(None, b"", agent)
        except PermanentFetchError:  # too large, redirect loop: treated as unavailable
            return RobotsPolicy.allow_all()
        return RobotsPolicy.from_response(result.status, result.body, agent)
