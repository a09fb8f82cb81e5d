"""Per-site settings: ``[site."PATTERN"]`` tables, and what one host gets from them.

A pattern is a hostname (``example.com``: that host, any port), a hostname with a port
(``example.com:8080``: that port only), or a wildcard (``*.example.com``: its subdomains, not
``example.com`` itself). Every table matching a host applies, the less specific first, so each
key comes from the most specific table that sets it (exact before wildcard, a longer name
before a shorter one, a port before none) and otherwise from the global setting.
"""

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from scraper.errors import UsageError

# The keys a site table may set, and the global setting each one overrides.
SITE_KEYS: Mapping[str, str] = {
    "delay_s": "delay_s",
    "per_host": "per_host",
    "max_delay_s": "max_delay_s",
    "autothrottle": "autothrottle",
    "user_agent": "user_agent",
    "headers": "headers",
    "cookies": "cookies",
    "cookies_file": "cookies_file",
    "deny": "deny",
    "allow": "allow",
    "respect_robots": "robots",
    "proxy": "proxies",  # one proxy ("": direct), as proxies = [it]
    "proxies": "proxies",
    "render": "render",
    "wait_for": "wait_for",
}
# The keys only a site table sets (no global setting): ``login`` is a table of its own.
SITE_ONLY_KEYS = ("login", "logout_patterns")
# Links that look like a logout, not followed on a site with a login (case-insensitive parts
# of the URL's path and query).
LOGOUT_PATTERNS = ("logout", "log-out", "log_out", "signout", "sign-out", "sign_out", "logoff")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LOGIN_KEYS = {"url": str, "fields": dict, "success": str, "session_lost": str, "form": str}


def url_matches(pattern: str, url: str) -> bool:
    """Whether ``url`` matches a URL pattern: a glob (``*``, ``?``) over the whole URL, or over
    its path and query when the pattern starts with ``/`` (``/login*``)."""
    if pattern.startswith("/"):
        parts = urlsplit(url)
        url = parts.path + (f"?{parts.query}" if parts.query else "")
    return fnmatchcase(url, pattern)


@dataclass(frozen=True, slots=True)
class LoginSpec:
    """A site's ``[site."PATTERN".login]`` table, as written: field values may be ``${VAR}``
    references, resolved from the environment only when logging in (never stored resolved).

    ``url`` is the login form's page (a path on the site, or a URL); ``success`` a CSS selector
    the page after the login must have, or a URL pattern (``/...`` or ``http...``) it must land
    on (empty: not landing on the form again); ``session_lost`` a URL pattern where landing means
    the session is gone (empty: the login page); ``form`` a CSS selector of the form (empty:
    the one with a password field, or the first)."""

    url: str
    fields: tuple[tuple[str, str], ...] = ()
    success: str = ""
    session_lost: str = ""
    form: str = ""

    @property
    def success_is_url(self) -> bool:
        return self.success.startswith(("/", "http://", "https://"))

    def values(self, site: str) -> dict[str, str]:
        """The fields with their ``${VAR}`` references resolved; UsageError naming the site and
        the variable (never a value) when one is not set."""

        def resolve(match: re.Match[str]) -> str:
            value = os.environ.get(match.group(1))
            if value is None:
                raise UsageError(
                    f"site {site}: login needs the environment variable {match.group(1)}"
                )
            return value

        return {name: _ENV_REF.sub(resolve, value) for name, value in self.fields}

    def to_json(self) -> dict[str, object]:
        spec = {"url": self.url, "fields": dict(self.fields), "success": self.success,
                "session_lost": self.session_lost, "form": self.form}  # fmt: skip
        return {k: v for k, v in spec.items() if v}


def read_login(value: object, where: str) -> LoginSpec:
    """A ``login`` table (or its stored JSON form) as a LoginSpec; UsageError naming ``where``."""
    if not isinstance(value, dict) or not isinstance(value.get("url"), str):
        raise UsageError(f'{where}: login must be a table with url = "/login"')
    for key, item in value.items():
        if key not in _LOGIN_KEYS or not isinstance(item, _LOGIN_KEYS[key]):
            raise UsageError(f"{where}: login: bad key {key!r}")
    fields = value.get("fields", {})
    if not all(isinstance(v, str) for v in fields.values()):
        raise UsageError(f'{where}: login fields must be strings like {{ user = "${{USER}}" }}')
    rest = {k: v for k, v in value.items() if k != "fields"}
    return LoginSpec(**rest, fields=tuple(fields.items()))


@dataclass(frozen=True, slots=True)
class SiteRule:
    """One ``[site."PATTERN"]`` table: its pattern and the settings it overrides (by their
    global names; ``headers`` as ``Name: value`` strings)."""

    pattern: str
    values: tuple[tuple[str, object], ...]

    @property
    def specificity(self) -> tuple[bool, int, bool]:
        name, _, port = self.pattern.partition(":")
        return (not name.startswith("*."), name.count("."), bool(port))

    def matches(self, host: str) -> bool:
        """Whether the rule applies to ``host`` (a ``host`` or ``host:port`` key)."""
        pattern_name, _, pattern_port = self.pattern.partition(":")
        name, _, port = host.partition(":") if not host.startswith("[") else (host, "", "")
        if pattern_port and port != pattern_port:
            return False
        if pattern_name.startswith("*."):
            return name.endswith(pattern_name[1:])
        return name == pattern_name


@dataclass(frozen=True, slots=True)
class HostSettings:
    """What the crawl applies to one host: the globals, overridden by its site tables."""

    delay_s: float = 0.25
    per_host: int = 4
    max_delay_s: float = 60.0
    autothrottle: bool = True
    user_agent: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    respect_robots: bool = True
    cookies: bool = False
    cookies_file: str = ""
    login: LoginSpec | None = None
    logout_patterns: tuple[str, ...] = LOGOUT_PATTERNS
    proxies: tuple[str, ...] = ()  # none: direct
    render: str = "never"  # never, auto, always (a RenderMode value)
    wait_for: str = ""  # a CSS selector: a rendered page is ready once it matches

    @property
    def cookies_on(self) -> bool:
        """Whether the host's cookies are kept and sent: ``cookies``, a ``cookies_file``, or a
        ``login``."""
        return self.cookies or bool(self.cookies_file) or self.login is not None

    def request_headers(self) -> dict[str, str]:
        """The headers every request to the host carries: ``headers``, and ``User-Agent`` unless
        they name one."""
        sent = dict(self.headers)
        if not any(name.lower() == "user-agent" for name in sent):
            sent["User-Agent"] = self.user_agent
        return sent


def parse_header(text: str, where: str = "--header") -> tuple[str, str]:
    """``Name: value`` as (name, value); UsageError naming ``where`` for any other form."""
    name, colon, value = text.partition(":")
    name = name.strip()
    if not colon or not name or any(c in name for c in " \t\r\n") or "\n" in value:
        raise UsageError(f"{where} must look like 'Name: value' (got {text!r})")
    return name, value.strip()


def merge_headers(*groups: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``Name: value`` strings as pairs, a later one replacing an earlier of the same name."""
    merged: dict[str, tuple[str, str]] = {}
    for group in groups:
        for text in group:
            name, value = parse_header(text)
            merged[name.lower()] = (name, value)
    return tuple(merged.values())


def host_settings(
    globals_: Mapping[str, object], rules: tuple[SiteRule, ...], host: str
) -> HostSettings:
    """``host``'s settings: the globals (by their global names), then each matching rule of
    ``rules`` (sorted by :func:`read_sites`, the most specific last)."""
    values = {key: globals_[name] for key, name in SITE_KEYS.items() if key != "proxy"}
    headers: list[tuple[str, ...]] = [values.pop("headers")]  # type: ignore[list-item]
    matching = (r for r in rules if r.matches(host))  # read_sites sorts them
    by_global = {name: key for key, name in SITE_KEYS.items()} | {k: k for k in SITE_ONLY_KEYS}
    for rule in matching:
        for name, value in rule.values:
            if name == "headers":
                headers.append(value)  # type: ignore[arg-type]
            else:
                values[by_global[name]] = value
    if values["proxies"] and values["delay_s"]:
        # Through a proxy the moment a request reaches the host is unknown: one request at a
        # time, the delay counted from its response, keeps the delay at the host.
        values["per_host"] = 1
    return HostSettings(**values, headers=merge_headers(*headers))  # type: ignore[arg-type]


def read_sites(
    table: object, where: str, coerce: Callable[[str, object, str], object]
) -> tuple[SiteRule, ...]:
    """``[site."PATTERN"]`` tables (or their stored JSON form) as rules. ``coerce(name, value,
    where)`` checks a value against the global setting ``name``; bad ones are UsageErrors."""
    if not isinstance(table, dict):
        raise UsageError(f'{where}: expected tables like [site."example.com"]')
    rules = []
    for pattern, spec in table.items():
        here = f'[site."{pattern}"]'
        _check_pattern(pattern, f"{where}: {here}")
        if not isinstance(spec, dict):
            raise UsageError(f"{where}: {here} must be a table")
        values = []
        for key, value in spec.items():
            if key in SITE_ONLY_KEYS:
                values.append((key, _site_only(key, value, f"{where}: {here}")))
                continue
            if key not in SITE_KEYS:
                raise UsageError(f"{where}: {here}: unknown key {key!r}")
            if key == "headers":
                value = _headers(value, f"{where}: {here}")
            if key == "proxy" and isinstance(value, str):
                value = [value] if value else []
            values.append((SITE_KEYS[key], coerce(SITE_KEYS[key], value, f"{where}: {here}")))
        rules.append(SiteRule(pattern.lower(), tuple(values)))
    return tuple(sorted(rules, key=lambda r: (r.specificity, r.pattern)))


def sites_to_json(
    rules: tuple[SiteRule, ...], mask: Callable[[str], str] = str
) -> dict[str, dict[str, object]]:
    """The rules in the form :func:`read_sites` reads (``headers`` as a table, proxies passed
    through ``mask``)."""
    by_global = {name: key for key, name in SITE_KEYS.items() if key != "proxy"}
    by_global |= {k: k for k in SITE_ONLY_KEYS}
    out: dict[str, dict[str, object]] = {}
    for rule in rules:
        spec = {by_global[name]: value for name, value in rule.values}
        if isinstance(login := spec.get("login"), LoginSpec):
            spec["login"] = login.to_json()  # the references, never their values
        if "proxies" in spec:
            spec["proxies"] = [mask(p) for p in spec["proxies"]]  # type: ignore[attr-defined]
        if "headers" in spec:
            spec["headers"] = dict(parse_header(h) for h in spec["headers"])  # type: ignore[attr-defined]
        out[rule.pattern] = spec
    return out


def _site_only(key: str, value: object, where: str) -> object:
    """A ``login`` table or ``logout_patterns`` list, checked."""
    if key == "login":
        return read_login(value, where)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise UsageError(f"{where}: logout_patterns must be a list of strings")
    return tuple(v.lower() for v in value)


def _headers(value: object, where: str) -> list[str]:
    """A site's ``headers = { Name = "value" }`` as ``Name: value`` strings."""
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise UsageError(f'{where}: headers must be a table like {{ "X-Token" = "abc" }}')
    texts = [f"{name}: {text}" for name, text in value.items()]
    for text in texts:
        parse_header(text, f"{where} headers")
    return texts


def _check_pattern(pattern: str, where: str) -> None:
    name, _, port = pattern.partition(":")
    bare = name[2:] if name.startswith("*.") else name
    if not bare or "*" in bare or "/" in pattern or (port and not port.isdigit()):
        raise UsageError(f"{where}: a site is a hostname, *.domain or host:port (got {pattern!r})")
