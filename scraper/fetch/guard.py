"""The address guard (against SSRF): which hosts a fetch may reach on non-public addresses.

An untrusted host (not a seed's) is reached on public addresses only, unless ``allow_private``:
names are checked on what they resolve to, by the connector's resolver, and IP literals before
the request (aiohttp resolves no literal). ``resolve`` pins a name to an address, like curl's
``--resolve``.
"""

import functools
import ipaddress
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from scraper.errors import PermanentFetchError
from scraper.fetch.addresses import IPAddress, host_key, is_public_address
from scraper.urls import url_host


class PrivateAddressError(OSError):
    """Raised inside aiohttp's connector when an untrusted name has no public address."""


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Trusted hosts, ``allow_private`` and the ``resolve`` pins of one fetcher."""

    trusted: frozenset[str]
    allow_private: bool
    pinned: Mapping[str, IPAddress]

    def trusts(self, host: str) -> bool:
        return self.allow_private or host_key(host) in self.trusted

    def check_literal(self, url: str) -> None:
        """Refuse an IP-literal URL whose address is not public (names go to the resolver)."""
        host = url_host(url)
        host = host[1 : host.find("]")] if host.startswith("[") else host.partition(":")[0]
        ip = _literal(host)
        if ip is not None and not self.trusts(host) and not is_public_address(ip):
            raise PermanentFetchError("private_address", f"{ip} is not a public address")


@functools.lru_cache(maxsize=4096)
def _literal(host: str) -> IPAddress | None:
    """The address an IP-literal host names; None for a name (parsed once per host: every
    request asks)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class GuardedResolver(AbstractResolver):
    """aiohttp's default resolver behind ``resolve`` pins and the address policy.

    For an untrusted host, non-public addresses are dropped; if none is left the lookup fails
    with :class:`PrivateAddressError`, so the connector never dials a private address even
    when a name (or a DNS rebinding) points there.
    """

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner: AbstractResolver = aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        pinned = self._policy.pinned.get(host_key(host))
        if pinned is None:
            found = await self._inner.resolve(host, port, family)
        else:
            af = socket.AF_INET6 if pinned.version == 6 else socket.AF_INET
            flags = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
            found = [
                ResolveResult(
                    hostname=host, host=str(pinned), port=port, family=af, proto=0, flags=flags
                )
            ]
        if self._policy.trusts(host):
            return found
        public = [r for r in found if is_public_address(ipaddress.ip_address(r["host"]))]
        if not public:
            addresses = ", ".join(result["host"] for result in found)
            raise PrivateAddressError(f"{host} resolves to no public address ({addresses})")
        return public

    async def close(self) -> None:
        await self._inner.close()


class TargetGuard:
    """The guard for requests through a proxy, where the connector resolves only the proxy:
    the target's name is resolved here first (its ``resolve`` pin, else DNS), and refused
    with ``private_address`` when an untrusted host has no public address. A verdict is kept
    ``ttl_s`` (as the connector's DNS cache)."""

    def __init__(self, policy: AddressPolicy, ttl_s: float = 300.0) -> None:
        self._policy = policy
        self._resolver = GuardedResolver(policy)
        self._ttl_s = ttl_s
        self._passed: dict[str, float] = {}  # host -> monotonic time its verdict expires

    async def check(self, url: str) -> None:
        """Raise PermanentFetchError("private_address") if ``url``'s host may not be reached."""
        self._policy.check_literal(url)
        host = urlsplit(url).hostname or ""
        if self._policy.trusts(host) or _literal(host) is not None:
            return
        now = time.monotonic()
        if self._passed.get(host, 0.0) > now:
            return
        try:
            await self._resolver.resolve(host, 0, socket.AF_UNSPEC)
        except PrivateAddressError as exc:
            raise PermanentFetchError("private_address", str(exc)) from None
        except OSError:
            return  # unknown here: the proxy resolves it, or fails (the target's dns_error)
        self._passed[host] = now + self._ttl_s
        if len(self._passed) > 4096:
            del self._passed[next(iter(self._passed))]

    async def close(self) -> None:
        await self._resolver.close()
