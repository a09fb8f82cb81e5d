"""Per-site settings: ``[site."PATTERN"]`` tables, and what one host gets from them.

A pattern is a hostname (``example.com``: that host, any port), a hostname with a port
(``example.com:8080``: that port only), or a wildcard (``*.example.com``: its subdomains, not
``example.com`` itself). Every table matching a host applies, the less specific first, so each
key comes from the most specific table that sets it (exact before wildcard, a longer name
before a shorter one, a port before none) and otherwise from the global setting.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

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
    "render": "render",
    "wait_for": "wait_for",
}


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
    render: str = "never"  # never, auto, always (a RenderMode value)
    wait_for: str = ""  # a CSS selector: a rendered page is ready once it matches

    @property
    def cookies_on(self) -> bool:
        """Whether the host's cookies are kept and sent: ``cookies``, or a ``cookies_file``."""
        return self.cookies or bool(self.cookies_file)

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
    values = {key: globals_[name] for key, name in SITE_KEYS.items()}
    headers: list[tuple[str, ...]] = [values.pop("headers")]  # type: ignore[list-item]
    matching = (r for r in rules if r.matches(host))  # read_sites sorts them
    by_global = {name: key for key, name in SITE_KEYS.items()}
    for rule in matching:
        for name, value in rule.values:
            if name == "headers":
                headers.append(value)  # type: ignore[arg-type]
            else:
                values[by_global[name]] = value
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
            if key not in SITE_KEYS:
                raise UsageError(f"{where}: {here}: unknown key {key!r}")
            if key == "headers":
                value = _headers(value, f"{where}: {here}")
            values.append((SITE_KEYS[key], coerce(SITE_KEYS[key], value, f"{where}: {here}")))
        rules.append(SiteRule(pattern.lower(), tuple(values)))
    return tuple(sorted(rules, key=lambda r: (r.specificity, r.pattern)))


def sites_to_json(rules: tuple[SiteRule, ...]) -> dict[str, dict[str, object]]:
    """The rules in the form :func:`read_sites` reads (``headers`` as a table)."""
    by_global = {name: key for key, name in SITE_KEYS.items()}
    out: dict[str, dict[str, object]] = {}
    for rule in rules:
        spec = {by_global[name]: value for name, value in rule.values}
        if "headers" in spec:
            spec["headers"] = dict(parse_header(h) for h in spec["headers"])  # type: ignore[attr-defined]
        out[rule.pattern] = spec
    return out


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
