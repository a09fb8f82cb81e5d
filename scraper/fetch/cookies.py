"""The session's cookie jar: aiohttp's RFC 6265 jar, open only to the hosts with cookies on.

``cookies = true`` (globally or in a ``[site."PATTERN"]`` table) turns cookies on for a host;
so does a ``cookies_file`` (``--cookies FILE``) that applies to it. Everywhere else no cookie
is stored from a ``Set-Cookie`` and none is sent. aiohttp's jar keeps the domain, path, expiry
and ``Secure`` rules; ``unsafe=True`` lets it keep cookies of IP-address hosts (127.0.0.1).
A cookies file is Netscape's ``cookies.txt``, as browsers' export extensions write it.
:func:`jar_cookies` and :func:`restore_cookies` turn the jar into rows the crawl database keeps
and back (``resume``, a recrawl and other workers go on with the session).
"""

import time
from collections.abc import Callable, Iterable, Sequence
from email.utils import formatdate
from http.cookies import BaseCookie, CookieError, Morsel, SimpleCookie
from pathlib import Path

import aiohttp
from aiohttp.abc import ClearCookiePredicate
from aiohttp.typedefs import LooseCookies
from yarl import URL

from scraper.config import Settings
from scraper.errors import UsageError
from scraper.models import StoredCookie

_HTTP_ONLY = "#HttpOnly_"
_NO_URL = URL()


class SiteCookieJar(aiohttp.CookieJar):
    """A jar that stores and sends cookies only for hosts where ``enabled(host)`` is true
    (``host`` as ``host[:port]``, the key :meth:`Settings.for_host` takes)."""

    def __init__(self, enabled: Callable[[str], bool]) -> None:
        super().__init__(unsafe=True)
        self._enabled = enabled
        self.changes = 0  # bumped whenever a response may have changed the jar

    def _on(self, url: URL) -> bool:
        host = url.raw_host or ""
        port = url.explicit_port
        return self._enabled(f"{host}:{port}" if port else host)

    def update_cookies(self, cookies: LooseCookies, response_url: URL = _NO_URL) -> None:
        if response_url.raw_host is None or self._on(response_url):
            self.changes += 1
            super().update_cookies(cookies, response_url)

    def update_cookies_from_headers(self, headers: Sequence[str], response_url: URL) -> None:
        if headers and self._on(response_url):
            self.changes += 1
            super().update_cookies_from_headers(headers, response_url)

    def filter_cookies(self, request_url: URL = _NO_URL) -> "BaseCookie[str]":
        if not self._on(request_url):
            return SimpleCookie()
        return super().filter_cookies(request_url)

    def clear(self, predicate: ClearCookiePredicate | None = None) -> None:
        self.changes += 1
        super().clear(predicate)


def read_cookies_txt(path: str) -> list[tuple[str, Morsel[str]]]:
    """The cookies of a Netscape ``cookies.txt`` as (domain, morsel) pairs; UsageError naming
    the file if it cannot be read or a line is not a cookie."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"cannot read cookies file {path}: {exc.strerror or exc}") from None
    cookies = []
    for number, line in enumerate(text.splitlines(), 1):
        http_only = line.startswith(_HTTP_ONLY)
        if http_only:
            line = line[len(_HTTP_ONLY) :]
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 7 or not fields[0] or not fields[5]:
            raise UsageError(f"{path}:{number}: not a cookies.txt line (7 tab-separated fields)")
        domain, _subdomains, cpath, secure, expires, name, value = fields
        morsel: Morsel[str] = Morsel()
        morsel.set(name, value, value)
        morsel["domain"] = domain
        morsel["path"] = cpath or "/"
        if secure.upper() == "TRUE":
            morsel["secure"] = True
        if http_only:
            morsel["httponly"] = True
        if expires.strip() not in ("", "0"):
            if not expires.strip().isdigit():
                raise UsageError(f"{path}:{number}: expiry {expires!r} is not a Unix time")
            morsel["expires"] = formatdate(int(expires), usegmt=True)
        cookies.append((domain.lstrip("."), morsel))
    return cookies


def load_cookies(jar: aiohttp.CookieJar, cookies: Iterable[tuple[str, Morsel[str]]]) -> None:
    """Put file cookies in ``jar``, each as if its own domain had set it (the jar's expiry and
    domain rules apply: an expired cookie is dropped)."""
    for domain, morsel in cookies:
        jar.update_cookies({morsel.key: morsel}, URL.build(scheme="http", host=domain))


def file_cookies(s: Settings) -> list[tuple[str, Morsel[str]]]:
    """The cookies of ``cookies_file`` and the sites' own files (a bad file: UsageError)."""
    files = [s.cookies_file] if s.cookies_file else []
    for rule in s.sites:
        files += [str(v) for name, v in rule.values if name == "cookies_file" and v]
    return [c for path in dict.fromkeys(files) for c in read_cookies_txt(path)]


def session_jar(
    s: Settings, cookies: Iterable[tuple[str, Morsel[str]]]
) -> aiohttp.abc.AbstractCookieJar:
    """The session's jar (call in the running loop): a :class:`SiteCookieJar` holding the
    ``cookies`` of the files, or aiohttp's no-op jar when no host has cookies on."""
    cookies = list(cookies)
    on_somewhere = s.cookies or any(
        name in ("cookies", "login") and v for rule in s.sites for name, v in rule.values
    )
    if not cookies and not on_somewhere:
        return aiohttp.DummyCookieJar()
    jar = SiteCookieJar(lambda host: s.for_host(host).cookies_on)
    load_cookies(jar, cookies)
    return jar


def jar_cookies(jar: aiohttp.CookieJar) -> list[StoredCookie]:
    """Every cookie in ``jar`` with its absolute expiry (as aiohttp's ``save`` computes it)."""
    host_only = jar.host_only_cookies
    expirations: dict[tuple[str, str, str], float] = getattr(jar, "_expirations", {})
    found = []
    for (domain, path), bucket in jar.cookies.items():
        for name, morsel in bucket.items():
            expires = expirations.get((domain, path, name))
            found.append(
                StoredCookie(
                    domain=domain,
                    path=morsel["path"] or "/",
                    name=name,
                    value=morsel.value,
                    host_only=(domain, path, name) in host_only,
                    expires=None if expires is None else int(expires),
                    secure=bool(morsel["secure"]),
                    httponly=bool(morsel["httponly"]),
                )
            )
    return found


def restore_cookies(jar: aiohttp.CookieJar, cookies: Iterable[StoredCookie]) -> int:
    """Put cookies kept by the crawl back in ``jar`` (expired ones and names no Cookie header
    can carry are left out). Returns how many went in."""
    now = time.time()
    restored = 0
    for c in cookies:
        if c.expires is not None and c.expires <= now:
            continue
        morsel: Morsel[str] = Morsel()
        try:
            morsel.set(c.name, c.value, c.value)
        except CookieError:
            continue
        morsel["path"] = c.path
        if not c.host_only:
            morsel["domain"] = c.domain
        if c.expires is not None:
            morsel["expires"] = formatdate(c.expires, usegmt=True)
        morsel["secure"] = c.secure
        morsel["httponly"] = c.httponly
        url = URL.build(scheme="http", host=c.domain)  # the host that set it, any port
        aiohttp.CookieJar.update_cookies(jar, {c.name: morsel}, url)  # kept: cookies were on
        restored += 1
    return restored
