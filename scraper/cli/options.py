"""The options shared by ``crawl`` and ``resume``, and the settings of a run they make.

The crawl options default to None, so that a crawl's stored settings win when a flag is not
given; their help shows the default of a new crawl. Over an existing crawl, flags and
``--config`` apply to one run: the settings stored with the crawl are kept (``crawl`` adds its
seeds to them).
"""

import asyncio
import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand
from typer.models import OptionInfo

from scraper.config import FLAG_NAMES, Settings, load_settings, settings_from_json
from scraper.errors import ScraperError, UsageError
from scraper.logs import LogFormat
from scraper.models import RenderMode, Scope
from scraper.storage import crawl_exists, db_label, is_postgres, open_read_store

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # context_settings of every typer app


class Command(TyperCommand):
    """A command whose help is plain text that fits 80 columns (not rich's table of columns),
    naming an argument by its metavar (URL, SQL, WORDS), never by a Python type."""

    def get_short_help_str(self, limit: int = 45) -> str:
        """The first sentence whole, for the list of commands (which wraps it), not cut."""
        return super().get_short_help_str(limit=max(limit, 1000))

    def format_options(self, ctx: Any, formatter: Any) -> None:  # typer vendors click's types
        params = self.get_params(ctx)
        names = [(p.display_name_raw, p.help or "") for p in params if isinstance(p, TyperArgument)]
        options = [
            r for p in params if not isinstance(p, TyperArgument) if (r := p.get_help_record(ctx))
        ]
        for title, rows in (("Arguments", names), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


def shown_default(value: object) -> str:
    """`` [default: VALUE]`` for an option's help (typer shows no default for an option whose
    default is None)."""
    return f" [default: {value}]"


_NEW = Settings()


def _setting(flag: str, text: str, default: object, metavar: str = "") -> OptionInfo:
    """A crawl option (None when not given), its help naming the default of a new crawl;
    ``metavar`` names its value in the help (none: a flag)."""
    option: OptionInfo = typer.Option(
        flag, help=text + shown_default(default), show_default=False, metavar=metavar
    )
    return option


def checked_db(db: str | None) -> str | None:
    """--db as given, refused (UsageError, exit 2) before anything runs if it is a URL of a
    scheme other than PostgreSQL's: it would otherwise be taken for a file path."""
    if db is not None:
        is_postgres(db)
    return db


DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="PATH|URL",
        help="SQLite database file, or a PostgreSQL URL (postgresql://user@host/crawl)."
        + shown_default(Settings().db),
        callback=checked_db,
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        metavar="PATH",
        help="TOML settings file; config/default.toml documents every setting.",
    ),
]
ConcurrencyOpt = Annotated[
    int | None, _setting("--concurrency", "Requests in flight in all.", _NEW.concurrency, "N")
]
PerHostOpt = Annotated[
    int | None, _setting("--per-host", "Requests in flight to one host.", _NEW.per_host, "N")
]
DelayOpt = Annotated[
    float | None,
    _setting("--delay", "Seconds between request starts to one host.", f"{_NEW.delay_s:g}", "S"),
]
MaxPagesOpt = Annotated[
    int | None,
    _setting(
        "--max-pages", "Stop when this many pages are stored (0: no limit).", _NEW.max_pages, "N"
    ),
]
MaxDepthOpt = Annotated[
    int | None, _setting("--max-depth", "Follow links this deep from a seed.", _NEW.max_depth, "N")
]
ScopeOpt = Annotated[
    Scope | None, _setting("--scope", "Which links to follow.", _NEW.scope.value, "host|domain|any")
]
AllowOpt = Annotated[
    list[str] | None,
    typer.Option("--allow", metavar="RE", help="Only follow URLs matching RE (repeatable)."),
]
DenyOpt = Annotated[
    list[str] | None,
    typer.Option("--deny", metavar="RE", help="Never follow URLs matching RE (repeatable)."),
]
HeaderOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--header",
        metavar="'NAME: VALUE'",
        help="Send this header on every request (repeatable; robots.txt too).",
    ),
]
CookiesOpt = Annotated[
    str | None,
    typer.Option(
        "--cookies",
        metavar="FILE",
        help="Load this Netscape cookies.txt and keep cookies (Set-Cookie) for every host.",
    ),
]
ProxyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--proxy",
        metavar="URL",
        help="Go through this proxy: http://, https://, socks5://, or env (repeatable: rotated).",
    ),
]
UserAgentOpt = Annotated[
    str | None, _setting("--user-agent", "User-Agent header.", _NEW.user_agent, "TEXT")
]
TimeoutOpt = Annotated[
    float | None, _setting("--timeout", "Seconds for one request.", f"{_NEW.timeout_s:g}", "S")
]
RetriesOpt = Annotated[
    int | None, _setting("--retries", "Retries after a transient failure.", _NEW.retries, "N")
]
RobotsOpt = Annotated[bool | None, _setting("--robots/--no-robots", "Obey robots.txt.", "--robots")]
StoreHtmlOpt = Annotated[
    bool | None,
    _setting(
        "--store-html/--no-store-html",
        "Keep raw bodies (compressed) for `scraper reparse`.",
        "--no-store-html",
    ),
]
ArchiveOpt = Annotated[
    bool | None,
    _setting(
        "--archive/--no-archive",
        "Keep each fetch as received (heads, raw bytes, peer) for `export -f warc`.",
        "--no-archive",
    ),
]
RenderOpt = Annotated[
    RenderMode | None,
    _setting(
        "--render",
        "Load pages in a headless Chromium: auto, only those built by JavaScript.",
        _NEW.render.value,
        "never|auto|always",
    ),
]
AllowPrivateOpt = Annotated[
    bool | None,
    _setting(
        "--allow-private/--no-allow-private",
        "Follow links to loopback and private addresses.",
        "--no-allow-private",
    ),
]

DebugOpt = Annotated[
    bool,
    typer.Option(
        "--debug", metavar="", help="asyncio debug mode, slow callbacks and full errors logged."
    ),
]
LogFileOpt = Annotated[
    Path | None,
    typer.Option("--log-file", metavar="PATH", help="Write a record per page, retry and failure."),
]
LogFormatOpt = Annotated[
    LogFormat, typer.Option("--log-format", metavar="text|json", help="Format of --log-file.")
]


def flag_overrides(**flags: object) -> dict[str, object]:
    """CLI flag values under their Settings names (None: not given)."""
    renamed = {flag: name for name, flag in FLAG_NAMES.items()}
    values = {renamed.get(name, name): value for name, value in flags.items()}
    for name in ("allow", "deny", "headers", "proxies"):
        values[name] = tuple(values[name]) if values.get(name) else None  # type: ignore[arg-type]
    return values


async def stored_settings(db: str | Path) -> Settings | None:
    """The settings a crawl stored in ``db`` (None if none yet); StoreError if ``db`` is not a
    crawl database."""
    async with open_read_store(db) as store:
        stored = await store.meta("settings")
    return None if stored is None else settings_from_json(stored, db_label(db))


def run_settings(
    config: Path | None, db: str | None, flags: dict[str, object], seeds: tuple[str, ...] = ()
) -> tuple[Settings, bool]:
    """This run's settings, and whether they are a new crawl's (to be stored with it).

    Over an existing crawl, its stored settings, then ``config``, then the flags, all for this
    run only; the crawl keeps its stored settings, ``seeds`` are added to its own. Otherwise
    the defaults, then ``config``, then the flags. The database is --db, else the config's."""
    address = load_settings(config, db=db).db
    new = not crawl_exists(address)  # a crawl creates it (its file, or its tables)
    stored = None if new else asyncio.run(stored_settings(address))
    settings = load_settings(config, base=stored, seeds=seeds or None, db=address, **flags)
    writable_directory(settings.db)
    return settings, stored is None


def writable_directory(db: str) -> None:
    """ScraperError if an SQLite crawl database's directory (or the nearest one that exists)
    cannot be written: WAL mode makes its -wal and -shm files beside the database."""
    if is_postgres(db):
        return
    directory = Path(db).absolute().parent
    while not directory.exists():
        directory = directory.parent
    if not os.access(directory, os.W_OK):
        raise ScraperError(
            f"cannot write the crawl database's directory {directory} "
            "(SQLite's WAL needs it writable)"
        )


def resume_settings(config: Path | None, db: str | None, flags: dict[str, object]) -> Settings:
    """The settings of the crawl stored at the database, overridden for this run; UsageError
    if there is none."""
    settings, new = run_settings(config, db, flags)
    if new:
        if not is_postgres(settings.db) and not Path(settings.db).is_file():
            raise UsageError(f"no crawl database at {settings.db}")
        raise UsageError(f"{db_label(settings.db)} holds no crawl settings to resume")
    return settings


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What the options shared by ``crawl`` and ``resume`` say about one run."""

    db: str | None
    config: Path | None
    overrides: dict[str, object]  # flags given, under their Settings names (None: not given)
    debug: bool
    log_file: Path | None
    log_format: LogFormat


def _run_options(
    db: DbOpt = None,
    config: ConfigOpt = None,
    concurrency: ConcurrencyOpt = None,
    per_host: PerHostOpt = None,
    delay: DelayOpt = None,
    max_pages: MaxPagesOpt = None,
    max_depth: MaxDepthOpt = None,
    scope: ScopeOpt = None,
    allow: AllowOpt = None,
    deny: DenyOpt = None,
    user_agent: UserAgentOpt = None,
    header: HeaderOpt = None,
    cookies: CookiesOpt = None,
    proxy: ProxyOpt = None,
    timeout: TimeoutOpt = None,
    retries: RetriesOpt = None,
    robots: RobotsOpt = None,
    allow_private: AllowPrivateOpt = None,
    store_html: StoreHtmlOpt = None,
    archive: ArchiveOpt = None,
    render: RenderOpt = None,
    debug: DebugOpt = False,
    log_file: LogFileOpt = None,
    log_format: LogFormatOpt = LogFormat.TEXT,
) -> RunOptions:
    """The one declaration of the shared options (typer reads this signature)."""
    flags = {k: v for k, v in locals().items() if k not in _NOT_FLAGS}
    return RunOptions(db, config, flag_overrides(**flags), debug, log_file, log_format)


_NOT_FLAGS = frozenset({"db", "config", "debug", "log_file", "log_format"})
_SHARED = inspect.signature(_run_options).parameters


def with_run_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command the shared options: typer sees them after the command's own parameters,
    and the command receives them as one ``run: RunOptions`` argument."""
    own = [p for p in inspect.signature(command).parameters.values() if p.name != "run"]

    @functools.wraps(command)
    def wrapper(**values: Any) -> None:
        shared = {name: values.pop(name) for name in _SHARED}
        command(**values, run=_run_options(**shared))

    params = [*own, *_SHARED.values()]
    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper
