"""Settings: one frozen value built from defaults, an optional TOML file, then CLI flags.

``config/default.toml`` documents every setting with its default; a test keeps it equal to
:class:`Settings`. The TOML file groups settings in tables (``[crawl]``, ``[fetch]`` ...); a key
that is unknown or of the wrong type is a :class:`UsageError` naming the file and the key.
"""

import dataclasses
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scraper import __version__
from scraper.errors import UsageError
from scraper.models import ExtractRule, ParseSpec, RenderMode, Scope
from scraper.sites import (
    HostSettings,
    SiteRule,
    host_settings,
    parse_header,
    read_sites,
    sites_to_json,
)
from scraper.urls import mask

DEFAULT_USER_AGENT = f"scraper/{__version__} (polite crawler; respects robots.txt)"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a crawl needs to know; the crawl engine builds every part from this."""

    # [crawl]
    concurrency: int = 16
    max_pages: int = 0
    max_depth: int = 20
    scope: Scope = Scope.HOST
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    max_url_length: int = 2048
    follow_canonical: bool = True
    # [politeness]
    per_host: int = 4
    delay_s: float = 0.25
    max_delay_s: float = 60.0
    autothrottle: bool = True
    robots: bool = True
    robots_retry_s: float = 30.0
    sitemaps: bool = True
    # [fetch]
    user_agent: str = DEFAULT_USER_AGENT
    timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    keepalive_s: float = 15.0
    retries: int = 3
    retry_backoff_s: float = 0.5
    retry_backoff_max_s: float = 30.0
    max_body_bytes: int = 5_000_000
    max_redirects: int = 10
    allow_private: bool = False
    resolve: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    cookies: bool = False
    cookies_file: str = ""
    proxies: tuple[str, ...] = ()
    proxy_rotation: str = "host"
    proxy_cooldown_s: float = 30.0
    render: RenderMode = RenderMode.NEVER
    wait_for: str = ""
    # [render]
    render_tabs: int = 4
    render_recycle_pages: int = 100
    render_memory_mb: int = 600
    render_timeout_s: float = 15.0
    # [parse]
    max_links_per_page: int = 1000
    parse_workers: int | None = None  # None: "auto" (parse.pool_size)
    markdown: bool = True
    chunks: bool = True
    chunk_tokens: int = 512
    metadata: bool = True
    # [storage]
    db: str = "data/scraper.db"
    batch_size: int = 200
    flush_interval_s: float = 0.5
    store_html: bool = False
    archive: bool = False  # keep each fetch's hops as received, for WARC (storage.captures)
    lease_s: float = 30.0
    retry_s: float = 60.0  # PostgreSQL: transient errors retried this long, then exit 1
    # [recrawl]
    min_revisit_s: float = 86400.0
    max_revisit_s: float = 30 * 86400.0
    # [extract.NAME] tables
    extract: tuple[ExtractRule, ...] = ()
    # [site."PATTERN"] tables
    sites: tuple[SiteRule, ...] = ()
    # not settable from TOML: seeds come from the command line or a file
    seeds: tuple[str, ...] = field(default=(), compare=False)
    _hosts: dict[str, HostSettings] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        _check_ranges(self)
        for pattern in (*self.allow, *self.deny):
            _check_regex(pattern)
        for header in self.headers:
            parse_header(header)

    def for_host(self, host: str) -> HostSettings:
        """What the crawl applies to ``host`` (a ``host[:port]`` key): the globals, overridden
        by the matching ``[site."PATTERN"]`` tables. Cached for the hosts crawled lately."""
        key = host if self.sites else ""
        known = self._hosts.get(key)
        if known is None:
            known = self._hosts[key] = host_settings(
                {f: getattr(self, f) for f in _HOST_FIELDS}, self.sites, host
            )
            if len(self._hosts) > _HOSTS_CACHED:
                del self._hosts[next(iter(self._hosts))]
        return known

    @property
    def parse_spec(self) -> ParseSpec:
        """How the crawl parses every page: the [parse] settings and the [extract] rules."""
        return ParseSpec(
            self.max_links_per_page, self.extract, self.markdown, self.chunks, self.chunk_tokens,
            self.metadata,
        )  # fmt: skip


_HOST_FIELDS = (
    *("delay_s", "per_host", "max_delay_s", "autothrottle", "user_agent", "headers"),
    *("allow", "deny", "robots", "cookies", "cookies_file", "proxies", "render", "wait_for"),
)
_HOSTS_CACHED = 4096
ROTATIONS = ("host", "request")  # proxy_rotation: sticky per target host, or per request

SECTIONS: Mapping[str, tuple[str, ...]] = {
    "crawl": (
        *("concurrency", "max_pages", "max_depth", "scope", "allow", "deny", "max_url_length"),
        "follow_canonical",
    ),
    "politeness": (
        *("per_host", "delay_s", "max_delay_s", "autothrottle", "robots", "robots_retry_s"),
        "sitemaps",
    ),
    "fetch": (
        *("user_agent", "timeout_s", "connect_timeout_s", "keepalive_s", "retries"),
        *("retry_backoff_s", "retry_backoff_max_s", "max_body_bytes", "max_redirects"),
        *("allow_private", "resolve", "headers", "cookies", "cookies_file", "proxies"),
        *("proxy_rotation", "proxy_cooldown_s", "render", "wait_for"),
    ),
    "render": ("render_tabs", "render_recycle_pages", "render_memory_mb", "render_timeout_s"),
    "parse": (
        *("max_links_per_page", "parse_workers", "markdown", "chunks", "chunk_tokens"),
        "metadata",
    ),
    "storage": (
        *("db", "batch_size", "flush_interval_s", "store_html", "lease_s", "retry_s"),
        "archive",
    ),
    "recrawl": ("min_revisit_s", "max_revisit_s"),
}

_MINIMUM: Mapping[str, float] = {
    "concurrency": 1,
    "max_pages": 0,
    "max_depth": 0,
    "per_host": 1,
    "delay_s": 0,
    "max_delay_s": 0,
    "robots_retry_s": 0,
    "max_url_length": 16,
    "max_redirects": 0,
    "timeout_s": 0.001,
    "connect_timeout_s": 0.001,
    "keepalive_s": 0,
    "retries": 0,
    "retry_backoff_s": 0,
    "retry_backoff_max_s": 0,
    "max_body_bytes": 1,
    "max_links_per_page": 0,
    "parse_workers": 0,
    "chunk_tokens": 16,
    "batch_size": 1,
    "flush_interval_s": 0.001,
    "lease_s": 0.5,
    "retry_s": 0.5,
    "min_revisit_s": 1,
    "proxy_cooldown_s": 0,
    "max_revisit_s": 1,
    "render_tabs": 1,
    "render_recycle_pages": 1,
    "render_memory_mb": 64,
    "render_timeout_s": 0.1,
}


# Settings whose command-line flag has another name (the rest: `max_pages` is `--max-pages`).
FLAG_NAMES: Mapping[str, str] = {
    "delay_s": "delay",
    "timeout_s": "timeout",
    "headers": "header",
    "cookies_file": "cookies",
    "proxies": "proxy",
}


def flag_name(name: str) -> str:
    """The command-line flag that sets the setting ``name``: ``delay_s`` is ``--delay``."""
    return "--" + FLAG_NAMES.get(name, name).replace("_", "-")


def _check_ranges(settings: Settings) -> None:
    for name in _MINIMUM:
        _check_value(name, getattr(settings, name), name)
    if settings.max_revisit_s < settings.min_revisit_s:
        raise UsageError(
            f"max_revisit_s ({settings.max_revisit_s:g}) must be at least min_revisit_s "
            f"({settings.min_revisit_s:g})"
        )
    if not settings.follow_canonical and not settings.metadata:
        raise UsageError(
            "[crawl] follow_canonical = false needs [parse] metadata = true (the canonical URL"
            " is read with the page's metadata)"
        )


def _check_value(name: str, value: object, where: str) -> None:
    """Raise UsageError, naming ``where`` the value came from, if it is out of range."""
    low = _MINIMUM.get(name)
    if low is not None and isinstance(value, int | float) and value < low:
        raise UsageError(f"{where} must be at least {low:g} (got {value})")
    if name in ("allow", "deny") and isinstance(value, tuple):
        for pattern in value:
            _check_regex(pattern, where)
    if name == "headers" and isinstance(value, tuple):
        for header in value:
            parse_header(header, where)
    if name == "proxy_rotation" and value not in ROTATIONS:
        raise UsageError(f"{where} must be one of {', '.join(ROTATIONS)} (got {value!r})")


def _coerce(name: str, value: object, where: str) -> object:
    """Check one TOML value against the type of the field's default."""
    default = next(f.default for f in dataclasses.fields(Settings) if f.name == name)
    if name == "parse_workers":
        if value is None or value == "auto":  # None: as stored in JSON
            return None
        if type(value) is not int:
            raise UsageError(f'{where}: {name} must be an integer or "auto"')
        return value
    if isinstance(default, Scope | RenderMode):
        kind = type(default)
        try:
            return kind(str(value))
        except ValueError:
            choices = ", ".join(s.value for s in kind)
            raise UsageError(f"{where}: {name} must be one of {choices}") from None
    if isinstance(default, tuple):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise UsageError(f"{where}: {name} must be a list of strings")
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not type(default):
        raise UsageError(f"{where}: {name} must be {type(default).__name__}")
    return value


def _coerce_checked(name: str, value: object, where: str) -> object:
    """A site table's value, as the global setting ``name`` would take it."""
    value = _coerce(name, value, where)
    _check_value(name, value, f"{where} {name}")
    return value


def read_toml(path: Path) -> dict[str, object]:
    """Flatten a settings file into ``{field: value}``; raise UsageError on any problem."""
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read config {path}: {exc}") from None
    values: dict[str, object] = {}
    if "extract" in data:
        values["extract"] = _extract_rules(data.pop("extract"), f"{path} [extract]")
    if "site" in data:
        values["sites"] = read_sites(data.pop("site"), str(path), _coerce_checked)
    fetch = data.get("fetch")
    if isinstance(fetch, dict) and "proxy" in fetch:  # one proxy: proxies = [it]
        proxy = fetch.pop("proxy")
        fetch["proxies"] = [proxy] if isinstance(proxy, str) and proxy else proxy or []
    _check_names(path, data)
    for section, table in data.items():
        for key, value in table.items():
            values[key] = _coerce(key, value, f"{path} [{section}]")
            _check_value(key, values[key], f"{path}: [{section}] {key}")
    return values


def _check_names(path: Path, data: dict[str, Any]) -> None:
    """UsageError naming every unknown section and setting of a file at once."""
    unknown = [
        f"section [{section}]"
        for section, table in data.items()
        if section not in SECTIONS or not isinstance(table, dict)
    ]
    unknown += [
        f"setting [{section}] {key}"
        for section, table in data.items()
        if section in SECTIONS and isinstance(table, dict)
        for key in table
        if key not in SECTIONS[section]
    ]
    if unknown:
        raise UsageError(f"{path}: unknown {', unknown '.join(unknown)}")


_RULE_KEYS = {"selector": str, "attr": str, "all": bool, "url": str}


def _extract_rules(table: object, where: str) -> tuple[ExtractRule, ...]:
    """``[extract.NAME]`` tables (or their JSON form) as rules; bad ones are UsageErrors."""
    if not isinstance(table, dict):
        raise UsageError(f"{where}: expected tables like [extract.price]")
    rules = []
    for name, spec in table.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("selector"), str):
            raise UsageError(f'{where}.{name}: needs selector = "CSS selector"')
        for key, value in spec.items():
            if key not in _RULE_KEYS or not isinstance(value, _RULE_KEYS[key]):
                raise UsageError(f"{where}.{name}: bad key {key} = {value!r}")
        if isinstance(spec.get("url"), str):
            _check_regex(spec["url"])
        rules.append(ExtractRule(name=name, **spec))
    return tuple(rules)


def _check_regex(pattern: str, where: str = "") -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        prefix = f"{where}: " if where else ""
        raise UsageError(f"{prefix}bad regular expression {pattern!r}: {exc}") from None


def load_settings(
    path: Path | None = None, base: Settings | None = None, **overrides: object
) -> Settings:
    """``base`` (default: the defaults), then the TOML file at ``path`` if given, then
    ``overrides`` that are not None: the command line's flags, named by errors as such."""
    values = read_toml(path) if path is not None else {}
    flags = {k: v for k, v in overrides.items() if v is not None}
    for name, value in flags.items():
        _check_value(name, value, flag_name(name))
    return _replace(base or Settings(), {**values, **flags})


def _replace(settings: Settings, values: Mapping[str, object]) -> Settings:
    try:
        return dataclasses.replace(settings, **values)  # type: ignore[arg-type]
    except TypeError as exc:
        raise UsageError(str(exc)) from None


def settings_to_json(settings: Settings) -> str:
    """The settings as JSON, to store with the crawl (``db`` left out: it is where they live)."""
    values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(Settings) if f.init}
    del values["db"]
    values["proxies"] = [mask(p) for p in settings.proxies]  # a password is never stored
    values["sites"] = sites_to_json(settings.sites, mask)
    values["extract"] = [  # a list: the order of the fields is kept
        {k: v for k, v in dataclasses.asdict(rule).items() if v} for rule in settings.extract
    ]
    return json.dumps(values, default=list, sort_keys=True)


def settings_from_json(text: str, db: str) -> Settings:
    """Settings stored by :func:`settings_to_json`; names this version does not know are skipped."""
    try:
        stored = json.loads(text)
    except ValueError:
        raise UsageError("the crawl's stored settings are unreadable") from None
    known = {f.name for f in dataclasses.fields(Settings) if f.init} - {"extract", "sites"}
    values = {k: _coerce(k, v, "stored settings") for k, v in stored.items() if k in known}
    rules = {rule.pop("name"): rule for rule in stored.get("extract", [])}
    values["extract"] = _extract_rules(rules, "stored settings [extract]")
    values["sites"] = read_sites(stored.get("sites", {}), "stored settings", _coerce_checked)
    return _replace(Settings(), {**values, "db": db})
