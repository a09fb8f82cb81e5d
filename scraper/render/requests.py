"""Which of a page's own requests the browser may make (checked in Fetch.requestPaused).

Images, media and fonts are never downloaded; only http(s) is allowed; an untrusted host must
resolve to public addresses only (the fetcher's :class:`AddressPolicy`, so loopback is allowed
exactly where the fetcher allows it); ``allowed`` (robots.txt for out-of-scope hosts) may refuse
the rest.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from scraper.fetch.addresses import host_key, is_public_address
from scraper.fetch.guard import AddressPolicy

SKIPPED_TYPES = frozenset({"Image", "Media", "Font"})
_SCHEMES = ("http://", "https://")


class RequestFilter:
    """``await refusal(url, resource_type)``: None to let the request through, else why not."""

    def __init__(
        self,
        policy: AddressPolicy,
        allowed: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self._policy = policy
        self._allowed = allowed
        self._public: dict[str, bool] = {}

    async def refusal(self, url: str, resource_type: str) -> str | None:
        if resource_type in SKIPPED_TYPES:
            return "skipped_type"
        if not url.lower().startswith(_SCHEMES):
            return "scheme"
        name = urlsplit(url).hostname or ""
        if not self._policy.trusts(name) and not await self._is_public(name):
            return "private_address"
        if self._allowed is not None and not await self._allowed(url):
            return "robots"
        return None

    async def _is_public(self, name: str) -> bool:
        key = host_key(name)
        if key in self._public:
            return self._public[key]
        pinned = self._policy.pinned.get(key)
        if pinned is not None:
            answer = is_public_address(pinned)
        else:
            try:
                answer = is_public_address(ipaddress.ip_address(name))
            except ValueError:
                answer = await _resolves_public(name)
        if len(self._public) > 4096:
            self._public.clear()
        self._public[key] = answer
        return answer


async def _resolves_public(name: str) -> bool:
    try:
        found = await asyncio.get_running_loop().getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    addresses = {str(info[4][0]) for info in found}
    return bool(addresses) and all(
        is_public_address(ipaddress.ip_address(a.split("%")[0])) for a in addresses
    )
