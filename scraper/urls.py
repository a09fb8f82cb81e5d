"""URL normalization, link resolution and crawl scope: the per-link hot path.

``normalize_url`` follows RFC 3986 section 6.2.2 ("case normalization", "percent-encoding
normalization", "path segment normalization") and 6.2.3 (default port, empty path as "/"), after
WHATWG's cleanup ("remove any leading and trailing C0 control or space", "remove all ASCII tab or
newline"). It uses str methods, dict lookups and ``quote``, not ``urlsplit``/``urljoin``; hosts and
results are LRU-cached because navigation links repeat on every page of a site.
"""

import ipaddress
import re
from functools import lru_cache
from urllib.parse import quote

from scraper.errors import InvalidURL

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
# RFC 3986 pchar minus pct-encoded: sub-delims, ":" and "@"; "[" "]" are reserved, left alone.
_PATH_SAFE = "/:@!$&'()*+,;=[]"
_QUERY_SAFE = _PATH_SAFE + "?"
_CLEAN_PATH = _UNRESERVED + _PATH_SAFE
_CLEAN_QUERY = _UNRESERVED + _QUERY_SAFE
_HOSTNAME_RE = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


class _Reject(ValueError):
    """Internal: why a part of a URL is unusable; becomes ``InvalidURL.reason``."""


def _escape_table() -> dict[str, str]:
    """Two hex digits (any case) -> the unreserved character, or ``%`` and upper-case hex."""
    table: dict[str, str] = {}
    for byte in range(256):
        hi, lo = f"{byte:02X}"[0], f"{byte:02X}"[1]
        value = chr(byte) if chr(byte) in _UNRESERVED else f"%{hi}{lo}"
        for key in (hi + lo, hi.lower() + lo.lower(), hi + lo.lower(), hi.lower() + lo):
            table[key] = value
    return table


_ESCAPES = _escape_table()


def _clean(text: str) -> str:
    """Strip leading/trailing C0 controls and spaces and drop embedded tabs/newlines (WHATWG)."""
    text = text.strip(_C0_AND_SPACE)
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", "").replace("\n", "").replace("\r", "")
    return text


def _fix_escapes(text: str) -> str:
    """Decode escapes of unreserved characters, upper-case the others, escape a stray ``%``."""
    head, *parts = text.split("%")
    out = [head]
    for part in parts:
        fixed = _ESCAPES.get(part[:2])
        out.append("%25" + part if fixed is None else fixed + part[2:])
    return "".join(out)


def _requote(text: str, clean: str, safe: str) -> str:
    """Percent-encoding normalization of a path or query (``clean`` chars need no work)."""
    if not text.rstrip(clean):
        return text
    if "%" in text:
        text = _fix_escapes(text)
    return quote(text, safe=safe + "%")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 for an absolute path (one starting with "/")."""
    segments = path.split("/")
    out: list[str] = []
    for segment in segments[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)


def _hostname(host: str) -> str:
    """Lower-case ASCII hostname, IDN to punycode, IPv6 compressed in brackets."""
    if host.startswith("["):  # "]" is its last character (see _authority)
        try:
            if "%" in host:  # zone IDs are not crawlable
                raise ValueError(host)
            return "[" + ipaddress.IPv6Address(host[1:-1]).compressed + "]"
        except ValueError:
            raise _Reject("bad host") from None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise _Reject("bad host") from None
    host = host.lower().rstrip(".")
    if _HOSTNAME_RE.fullmatch(host) is None:
        raise _Reject("bad host")
    return host


@lru_cache(maxsize=8192)
def _authority(authority: str, scheme: str) -> str:
    """``host[:port]`` from an authority: userinfo dropped, default port dropped."""
    hostport = authority.rpartition("@")[2]
    if hostport.startswith("["):
        end = hostport.find("]") + 1
        host, port = hostport[:end], hostport[end:]
        if not end or (port and not port.startswith(":")):
            raise _Reject("bad host")
        port = port[1:]
    else:
        host, _, port = hostport.partition(":")
    if not host:
        raise _Reject("missing host")
    host = _hostname(host)
    if not port or port == _DEFAULT_PORTS[scheme]:
        return host
    port = port.lstrip("0")  # int() is avoided on long inputs: it rejects > 4300 digits
    if not (port.isascii() and port.isdigit() and len(port) <= 5 and int(port) <= 65535):
        raise _Reject("bad port")
    return host if port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"


@lru_cache(maxsize=16384)
def _normalize(url: str) -> str:
    """normalize_url on cleaned input; raises _Reject."""
    if not url:
        raise _Reject("empty")
    colon = url.find(":")
    scheme = url[:colon].lower() if colon > 0 else ""
    if scheme not in _DEFAULT_PORTS:
        bad_scheme = _SCHEME_RE.match(url) is not None
        raise _Reject("scheme must be http or https" if bad_scheme else "missing scheme")
    if not url.startswith("//", colon + 1):
        raise _Reject("missing host")
    start = colon + 3
    end = url.find("#", start) % (len(url) + 1)  # -1 (no fragment) becomes len(url)
    query_at = url.find("?", start, end)
    path_end = end if query_at < 0 else query_at
    slash = url.find("/", start, path_end)
    auth_end = path_end if slash < 0 else slash
    host = _authority(url[start:auth_end], scheme)
    path = _requote(url[auth_end:path_end], _CLEAN_PATH, _PATH_SAFE) or "/"
    if "/." in path:
        path = _remove_dot_segments(path)
    if query_at < 0 or query_at + 1 == end:
        return f"{scheme}://{host}{path}"
    query = _requote(url[query_at + 1 : end], _CLEAN_QUERY, _QUERY_SAFE)
    return f"{scheme}://{host}{path}?{query}"


def normalize_url(url: str) -> str:
    """Return the canonical form of an http(s) URL, used as the dedup key.

    Scheme and host are lower-cased, IDN hosts become punycode (``str.encode("idna")``), a
    trailing dot on the host is removed, IPv6 literals are compressed in brackets, default ports
    are dropped, an empty path becomes "/", dot segments are removed, percent-encoding is
    normalized in path and query (unreserved escapes decoded, others upper-cased, unsafe and
    non-ASCII characters escaped as UTF-8, reserved characters and "%2F" untouched), an empty
    query and the fragment are dropped. Userinfo ("user:pass@") is dropped, so credentials never
    reach the store or the host key. Idempotent: ``normalize_url(normalize_url(u)) == it``.
    Raises InvalidURL (and nothing else) for anything that is not a crawlable http(s) URL.
    """
    try:
        return _normalize(_clean(url))
    except _Reject as exc:
        raise InvalidURL(url, str(exc)) from None
    except UnicodeError:  # lone surrogates cannot be UTF-8 encoded
        raise InvalidURL(url, "bad character") from None


def _resolve(base: str, href: str) -> str | None:
    """The absolute (not yet normalized) URL for ``href`` on ``base``, or None if not http(s)."""
    match = _SCHEME_RE.match(href)
    if match:
        scheme = match.group(1).lower()
        if scheme not in _DEFAULT_PORTS:
            return None
        rest = href[match.end() :]
        if rest.startswith("//") or not base.startswith(scheme + ":"):
            return f"{scheme}://{rest.lstrip('/')}"
        href = rest  # "http:g" on an http base is relative (RFC 3986 section 5.2.2, non-strict)
    if not href or href.startswith("#"):
        return None
    if href.startswith("//"):
        return base[: base.find(":") + 1] + href
    if href.startswith("/"):
        slash = base.find("/", base.find("//") + 2)
        return (base if slash < 0 else base[:slash]) + href
    base = base.partition("?")[0]
    if href.startswith("?"):
        return base + href
    return base[: base.rfind("/") + 1] + href


def join_url(base: str, href: str) -> str | None:
    """Resolve an ``<a href>`` against a normalized absolute ``base`` and normalize it.

    Never raises: None for empty, whitespace-only or fragment-only hrefs (the page itself), for
    non-http(s) schemes (javascript:, mailto:, tel:, data:, ftp:) and for invalid URLs.
    """
    absolute = _resolve(base, _clean(href))
    return None if absolute is None else try_normalize(absolute)


def try_normalize(url: str) -> str | None:
    """:func:`normalize_url`, or None instead of InvalidURL."""
    try:
        return normalize_url(url)
    except InvalidURL:
        return None


def url_host(url: str) -> str:
    """The scheduling/scope key of a normalize_url result: ``host`` or ``host:port``; no parsing."""
    start = url.find("//") + 2
    end = url.find("/", start)
    return url[start:] if end < 0 else url[start:end]


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.partition(":")[0]


@lru_cache(maxsize=64)
def _seed_domains(seed_hosts: frozenset[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Exact hostnames admitted, and ``.domain`` suffixes admitted, for 'domain' scope."""
    exact: set[str] = set()
    suffixes: list[str] = []
    for seed in seed_hosts:
        name = _strip_port(seed)
        try:
            ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            if name.startswith("www.") and "." in name[4:]:
                name = name[4:]
            suffixes.append("." + name)
        exact.add(name)
    return frozenset(exact), tuple(suffixes)


def in_scope(host: str, seed_hosts: frozenset[str], scope: str) -> bool:
    """Whether a link on ``host`` (a url_host value) is followed under ``scope``.

    'any': all. 'host': the seed hosts, port included. 'domain' (port ignored): a seed's hostname
    without a leading "www." (kept if no dot would remain, as in "www.com") and its subdomains, so
    "www.example.com" admits "shop.example.com" but not "notexample.com"; IP seeds admit their IP.
    Raises ValueError for an unknown scope.
    """
    if scope == "any":
        return True
    if scope == "host":
        return host in seed_hosts
    if scope != "domain":
        raise ValueError(f"unknown scope {scope!r}")
    exact, suffixes = _seed_domains(seed_hosts)
    name = _strip_port(host)
    return name in exact or name.endswith(suffixes)


_USERINFO = re.compile(r"(?<=://)([^:@/]*):([^@/]*)@")
_ENV_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def mask(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***`` (proxy URLs); one
    given as an ``${ENV}`` reference is kept (it names the secret, it is not the secret)."""

    def hide(m: re.Match[str]) -> str:
        kept = _ENV_REFERENCE.fullmatch(m.group(2)) is not None
        return m.group(0) if kept else f"{m.group(1)}:***@"

    return _USERINFO.sub(hide, text)
