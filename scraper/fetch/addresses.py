"""Rules about addresses and retry times, on the standard library alone.

Which IP addresses a crawler may reach without being told to (the SSRF guard), fixed addresses
for host names (``settings.resolve``, like curl's ``--resolve``), and ``Retry-After`` values.
"""

import email.utils
import ipaddress
import time
from collections.abc import Iterable
from datetime import UTC

from scraper.errors import InvalidURL, UsageError
from scraper.urls import normalize_url, url_host

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the low 32 bits are an IPv4 address


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def is_public_address(ip: IPAddress) -> bool:
    """Whether a crawler may connect to ``ip`` without being trusted to.

    False for loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local and cloud
    metadata (169.254/16, fe80::/10), carrier-grade NAT (100.64/10), unspecified, multicast,
    reserved and documentation ranges, and IPv6 forms embedding such an IPv4 address
    (``::ffff:127.0.0.1``, 6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``).
    """
    if isinstance(ip, ipaddress.IPv6Address):
        nat64 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None
        inner = ip.ipv4_mapped or ip.sixtofour or nat64
        if inner is not None:
            return is_public_address(inner)
    special = ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
    return not (special or ip.is_reserved or ip.is_unspecified or ip in _SHARED) and ip.is_global


def host_key(host: str) -> str:
    """A hostname as trust and ``resolve`` entries compare it: lower case, no dot, no brackets."""
    return host.lower().rstrip(".").removeprefix("[").removesuffix("]")


def parse_resolve(entries: Iterable[str]) -> dict[str, IPAddress]:
    """``("host:ip", ...)`` (``settings.resolve``, like curl's --resolve) as {host: address}."""
    pinned: dict[str, IPAddress] = {}
    for entry in entries:
        host, _, address = entry.partition(":")
        try:
            name = url_host(normalize_url(f"http://{host.strip()}/"))
            ip = ipaddress.ip_address(address.strip().removeprefix("[").removesuffix("]"))
            if "@" in host:  # normalize_url would drop it as userinfo
                raise ValueError(host)
        except (InvalidURL, ValueError):
            raise UsageError(f"bad resolve entry {entry!r}: expected HOST:IP") from None
        pinned[host_key(name)] = ip
    return pinned
